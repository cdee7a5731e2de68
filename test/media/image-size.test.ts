import { Readable } from "node:stream";
import { IMAGE_HEAD_BYTES, probeImage, readImageSize } from "../../src/media/image-size.js";
import { canvas, jpegBomb, jpegWithExif, pngBomb } from "./images.js";

describe("image size", () => {
  test("displayed size applies the EXIF orientation", async () => {
    expect(await readImageSize(await jpegWithExif(40, 20, 6))).toEqual({ width: 20, height: 40 });
    expect(await readImageSize(await jpegWithExif(40, 20, 1))).toEqual({ width: 40, height: 20 });
    const probe = await probeImage(await jpegWithExif(40, 20, 6));
    expect(probe).toMatchObject({ format: "jpeg", width: 40, height: 20, displayWidth: 20, displayHeight: 40, orientation: 6, pages: 1 });
  });

  test.each(["png", "webp", "gif", "tiff"] as const)("reads %s", async (format) => {
    expect(await readImageSize(await canvas(33, 17).toFormat(format).toBuffer())).toEqual({ width: 33, height: 17 });
  });

  test("a 30000x30000 header is read cheaply, without decoding", async () => {
    const started = performance.now();
    expect(await readImageSize(pngBomb())).toEqual({ width: 30000, height: 30000 });
    expect(await readImageSize(await jpegBomb())).toEqual({ width: 30000, height: 30000 });
    expect(performance.now() - started).toBeLessThan(500);
  });

  test("a stream is read only up to its head and then destroyed", async () => {
    const jpeg = await jpegWithExif(64, 32, 1);
    let served = 0;
    const stream = Readable.from(
      (function* () {
        yield jpeg;
        served += jpeg.length;
        // 8 MiB of trailing bytes that must never be read.
        for (let i = 0; i < 128; i++) {
          served += 65536;
          yield Buffer.alloc(65536);
        }
      })(),
    );
    expect(await readImageSize(stream)).toEqual({ width: 64, height: 32 });
    expect(served).toBeLessThanOrEqual(IMAGE_HEAD_BYTES + 2 * 65536);
    expect(stream.destroyed).toBe(true);
  });

  test("non-images have no size", async () => {
    expect(await readImageSize(Buffer.from("%PDF-1.7 hello"))).toBeUndefined();
    expect(await readImageSize(Buffer.alloc(0))).toBeUndefined();
  });
});
