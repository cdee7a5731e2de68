import { Readable } from "node:stream";
import exifr from "exifr";
import sharp from "sharp";
import { createLimiter } from "../../src/media/limiter.js";
import { createMetadataStripper, type StripOutcome } from "../../src/media/strip-metadata.js";
import {
  CAMERA_EXIF,
  canvas,
  jpegBomb,
  jpegWithExif,
  pixels,
  pngBomb,
  pngChunkTypes,
  pngWithTextChunks,
  tiffWithExif,
  webpWithExif,
} from "./images.js";
import { buildHeic, differingOffsets, inRanges } from "./heif-files.js";
import { scrubHeifMetadata } from "../../src/media/heif-metadata.js";

const stripper = createMetadataStripper({ limiter: createLimiter({ concurrency: 2 }) });

function stripped(outcome: StripOutcome): Extract<StripOutcome, { stripped: true }> {
  if (!outcome.stripped) throw new Error(`expected a stripped image, got reason ${outcome.reason}: ${String(outcome.error)}`);
  return outcome;
}

/** Everything exifr finds (TIFF/EXIF/GPS/XMP/IPTC), or undefined. */
async function exifOf(image: Buffer): Promise<Record<string, unknown> | undefined> {
  return (await exifr.parse(image, { tiff: true, gps: true, xmp: true, iptc: true, icc: false })) as Record<string, unknown> | undefined;
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe("metadata stripping", () => {
  test("JPEG: EXIF and GPS removed, orientation 6 applied (dimensions swapped), still JPEG", async () => {
    const input = await jpegWithExif(40, 20, 6);
    expect(await exifr.gps(input)).toMatchObject({ latitude: expect.closeTo(48.856, 2) });
    expect((await exifOf(input))?.Make).toBe("Acme");

    const out = stripped(await stripper.strip({ body: input, type: "image/jpeg" }));
    expect(out.method).toBe("reencoded");
    expect(out.type).toBe("image/jpeg");
    expect(out.size).toBe(out.body.length);
    expect([out.width, out.height]).toEqual([20, 40]);
    const meta = await sharp(out.body).metadata();
    expect(meta.format).toBe("jpeg");
    expect([meta.width, meta.height]).toEqual([20, 40]);
    expect(meta.orientation).toBeUndefined();
    expect(meta.exif).toBeUndefined();
    expect(await exifr.gps(out.body)).toBeUndefined();
    expect(await exifOf(out.body)).toBeUndefined();
    // The left half (red) is on top after a 90° clockwise turn.
    const { data } = await sharp(out.body).raw().toBuffer({ resolveWithObject: true });
    expect(data[0]!).toBeGreaterThan(150);
  });

  test("an sRGB ICC profile is dropped (so thumbnails work), a wide-gamut one is kept", async () => {
    const srgb = stripped(await stripper.strip({ body: await jpegWithExif(40, 20, 6, true), type: "image/jpeg" }));
    expect((await sharp(srgb.body).metadata()).icc).toBeUndefined();
    const p3Input = await sharp(await canvas(40, 20).png().toBuffer()).jpeg().withIccProfile("p3").withExifMerge(CAMERA_EXIF).toBuffer();
    const p3 = stripped(await stripper.strip({ body: p3Input, type: "image/jpeg" }));
    expect((await sharp(p3.body).metadata()).icc).toBeDefined();
    expect(await exifr.gps(p3.body)).toBeUndefined();
  });

  test("the declared alias image/jpg is kept as the stored type", async () => {
    const out = stripped(await stripper.strip({ body: await jpegWithExif(), type: "image/jpg" }));
    expect(out.type).toBe("image/jpg");
  });

  test("a JPEG with no metadata segments and no orientation is kept byte for byte", async () => {
    const plain = await canvas(32, 16).jpeg().toBuffer();
    const out = stripped(await stripper.strip({ body: plain, type: "image/jpeg" }));
    expect(out.method).toBe("unchanged");
    expect(out.body.equals(plain)).toBe(true);
  });

  test("WebP with EXIF but no rotation: chunks removed losslessly, pixels identical", async () => {
    const input = await webpWithExif();
    expect((await sharp(input).metadata()).exif).toBeDefined();
    const out = stripped(await stripper.strip({ body: input, type: "image/webp" }));
    expect(out.method).toBe("chunks");
    expect(out.type).toBe("image/webp");
    const meta = await sharp(out.body).metadata();
    expect(meta.format).toBe("webp");
    expect(meta.exif).toBeUndefined();
    expect(out.body.includes("EXIF")).toBe(false);
    expect(out.body.includes("Acme")).toBe(false);
    expect((await pixels(out.body)).equals(await pixels(input))).toBe(true);
    expect(out.body.readUInt32LE(4)).toBe(out.body.length - 8); // RIFF size fixed
  });

  test("WebP with orientation 6: rotated and re-encoded as WebP", async () => {
    const out = stripped(await stripper.strip({ body: await webpWithExif({ orientation: 6 }), type: "image/webp" }));
    expect(out.method).toBe("reencoded");
    const meta = await sharp(out.body).metadata();
    expect(meta.format).toBe("webp");
    expect([meta.width, meta.height]).toEqual([20, 40]);
    expect(meta.exif).toBeUndefined();
    expect(meta.orientation).toBeUndefined();
  });

  test("lossless WebP with orientation stays lossless (VP8L)", async () => {
    const out = stripped(await stripper.strip({ body: await webpWithExif({ orientation: 6, lossless: true }), type: "image/webp" }));
    expect(out.method).toBe("reencoded");
    expect(out.body.includes("VP8L")).toBe(true);
  });

  test("PNG: tEXt, zTXt, iTXt, eXIf and tIME chunks removed, pixels identical", async () => {
    const input = await pngWithTextChunks();
    expect(pngChunkTypes(input)).toEqual(expect.arrayContaining(["tEXt", "zTXt", "iTXt", "eXIf", "tIME"]));
    expect(await exifr.gps(input)).toBeDefined();
    const out = stripped(await stripper.strip({ body: input, type: "image/png" }));
    expect(out.method).toBe("chunks");
    expect(out.type).toBe("image/png");
    const types = pngChunkTypes(out.body);
    for (const t of ["tEXt", "zTXt", "iTXt", "eXIf", "tIME"]) expect(types).not.toContain(t);
    expect(types[0]).toBe("IHDR");
    expect(types.at(-1)).toBe("IEND");
    const meta = await sharp(out.body).metadata();
    expect(meta.comments).toBeUndefined();
    expect(meta.exif).toBeUndefined();
    expect(await exifr.gps(out.body)).toBeUndefined();
    expect(out.body.includes("Jane Doe")).toBe(false);
    expect((await pixels(out.body)).equals(await pixels(input))).toBe(true);
  });

  test("PNG with an eXIf orientation: rotated, still PNG, no metadata", async () => {
    const out = stripped(await stripper.strip({ body: await pngWithTextChunks(6), type: "image/png" }));
    expect(out.method).toBe("reencoded");
    const meta = await sharp(out.body).metadata();
    expect(meta.format).toBe("png");
    expect([meta.width, meta.height]).toEqual([20, 40]);
    expect(meta.comments).toBeUndefined();
    expect(meta.exif).toBeUndefined();
  });

  test("TIFF: orientation applied, EXIF tags gone, still TIFF", async () => {
    const input = tiffWithExif(6);
    expect((await exifOf(input))?.Make).toBe("Acme");
    expect(await exifr.gps(input)).toMatchObject({ latitude: expect.closeTo(48.856, 2) });
    const out = stripped(await stripper.strip({ body: input, type: "image/tiff" }));
    expect(out.type).toBe("image/tiff");
    const meta = await sharp(out.body).metadata();
    expect(meta.format).toBe("tiff");
    expect([meta.width, meta.height]).toEqual([2, 4]);
    expect(await exifr.gps(out.body)).toBeUndefined();
    expect((await exifOf(out.body))?.Make).toBeUndefined();
    expect(out.body.includes("Acme")).toBe(false);
  });

  test("HEIC (HEVC, which sharp cannot decode): Exif/GPS and XMP scrubbed in place, same length, size from the header", async () => {
    const built = buildHeic();
    expect(await exifr.gps(built.file)).toMatchObject({ latitude: expect.closeTo(48.856, 2) });
    const out = stripped(await stripper.strip({ body: built.file, type: "image/heic" }));
    expect(out).toMatchObject({ method: "scrubbed", type: "image/heic", size: built.file.length, width: 48, height: 64 });
    expect(out.body.length).toBe(built.file.length);
    expect(await exifr.gps(out.body)).toBeUndefined();
    expect(await exifOf(out.body)).toBeUndefined();
    expect(out.body.includes("SecretPlace")).toBe(false);
    expect(differingOffsets(built.file, out.body).every((at) => inRanges(at, [...built.exif, ...built.xmp]))).toBe(true);
  });

  test("AVIF (declared image/heif or image/avif): scrubbed in place, pixels and displayed size unchanged", async () => {
    const avif = await canvas(40, 20).heif({ compression: "av1", quality: 60 }).withMetadata({ orientation: 6 }).withExifMerge(CAMERA_EXIF).toBuffer();
    for (const type of ["image/heif", "image/avif"]) {
      const out = stripped(await stripper.strip({ body: avif, type }));
      expect(out).toMatchObject({ method: "scrubbed", type, size: avif.length, width: 20, height: 40 });
      expect(out.body.includes("Acme")).toBe(false);
      expect((await pixels(out.body)).equals(await pixels(avif))).toBe(true);
    }
    const plain = await canvas(16, 16).heif({ compression: "av1", quality: 50 }).toBuffer();
    const unchanged = stripped(await stripper.strip({ body: plain, type: "image/avif" }));
    expect(unchanged.method).toBe("unchanged");
    expect(unchanged.body).toBe(plain);
  });

  test("HEIC bytes declared as JPEG: scrubbed, stored as image/heif", async () => {
    const out = stripped(await stripper.strip({ body: buildHeic().file, type: "image/jpeg" }));
    expect(out).toMatchObject({ method: "scrubbed", type: "image/heif" });
  });

  test("a HEIC whose header claims 30000x30000 is still scrubbed: nothing is decoded", async () => {
    const built = buildHeic({ size: [30000, 30000] });
    const out = stripped(await stripper.strip({ body: built.file, type: "image/heic" }));
    expect(out).toMatchObject({ method: "scrubbed", width: 30000, height: 30000 });
    expect(await exifr.gps(out.body)).toBeUndefined();
  });

  test("a HEIF container that cannot be parsed: HEIC kept as is and logged; a decodable AVIF re-encoded instead", async () => {
    const warnings: unknown[] = [];
    const logged = createMetadataStripper({ limiter: createLimiter({ concurrency: 1 }), logger: { warn: (obj: unknown) => void warnings.push(obj) } });
    // An Exif extent of length 0 ("the whole referenced data") is refused by the scrubber. The
    // built HEIC has an iloc v1 without base offsets; its Exif entry is the second one.
    const heic = Buffer.from(buildHeic().file);
    heic.writeUInt32BE(0, heic.indexOf("iloc", 0, "latin1") + 4 + 8 + 16 + 12);
    const kept = await logged.strip({ body: heic, type: "image/heic" });
    expect(kept).toMatchObject({ stripped: false, reason: "unreadable", type: "image/heic" });
    expect((kept.body as Buffer).equals(heic)).toBe(true);
    expect(warnings).toEqual([expect.objectContaining({ type: "image/heic", reason: "unreadable", err: expect.objectContaining({ message: expect.stringContaining("unsupported") }) })]);

    // sharp's AVIF has an iloc v0 with 4-byte base offsets, offsets and lengths, one extent per
    // item (18-byte entries): the Exif entry is the one pointing at the Exif payload.
    const avif = await canvas(40, 20).heif({ compression: "av1", quality: 60 }).withExif(CAMERA_EXIF).toBuffer();
    const scan = scrubHeifMetadata(avif);
    if (!scan.ok) throw new Error(scan.message);
    const exifAt = scan.regions[0]!.start;
    const broken = Buffer.from(avif);
    const ilocAt = broken.indexOf("iloc", 0, "latin1") + 4;
    for (let i = 0, entry = ilocAt + 8; i < broken.readUInt16BE(ilocAt + 6); i++, entry += 18) {
      if (broken.readUInt32BE(entry + 4) + broken.readUInt32BE(entry + 10) === exifAt) broken.writeUInt32BE(0, entry + 14);
    }
    expect(scrubHeifMetadata(broken)).toMatchObject({ ok: false, reason: "unsupported" });
    const out = stripped(await logged.strip({ body: broken, type: "image/heif" }));
    expect(out.method).toBe("reencoded");
    expect(out.body.includes("Acme")).toBe(false);

    // ISO-BMFF with a `heic` brand and no meta box at all.
    const empty = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from("ftypheic\0\0\0\0mif1heic", "latin1"), Buffer.alloc(64)]);
    expect(await logged.strip({ body: empty, type: "image/heic" })).toMatchObject({ stripped: false, reason: "unreadable" });
  });

  test("a type that lies about the bytes: the stored type follows the bytes", async () => {
    const out = stripped(await stripper.strip({ body: await jpegWithExif(), type: "image/webp" }));
    expect(out.type).toBe("image/jpeg");
    expect((await sharp(out.body).metadata()).format).toBe("jpeg");
  });

  test.each([
    ["PNG", () => Promise.resolve(pngBomb(30000)), "image/png"],
    ["JPEG", () => jpegBomb(30000), "image/jpeg"],
  ])("a 30000x30000 %s header is refused from its header alone, fast and without a big allocation", async (_name, make, type) => {
    const bomb = await make();
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const out = await stripper.strip({ body: bomb, type });
    const elapsed = performance.now() - started;
    expect(out).toMatchObject({ stripped: false, reason: "too-many-pixels" });
    expect((out.body as Buffer).equals(bomb)).toBe(true);
    expect(elapsed).toBeLessThan(500);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * 1024 * 1024);
  });

  test("undecodable bytes under an image type never fail the upload: original kept", async () => {
    const garbage = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(300, 7)]);
    const out = await stripper.strip({ body: garbage, type: "image/jpeg" });
    expect(out.stripped).toBe(false);
    expect((out.body as Buffer).equals(garbage)).toBe(true);
    expect(out.type).toBe("image/jpeg");
  });

  test("a truncated JPEG fails to decode and is kept", async () => {
    const jpeg = await jpegWithExif(400, 300, 1);
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length * 0.6));
    const out = await stripper.strip({ body: truncated, type: "image/jpeg" });
    expect(out).toMatchObject({ stripped: false, reason: "failed" });
    expect((out.body as Buffer).equals(truncated)).toBe(true);
  });

  test("types outside the list are passed through untouched, streams unread", async () => {
    const gif = await canvas(4, 4).gif().toBuffer();
    const out = await stripper.strip({ body: gif, type: "image/gif" });
    expect(out).toMatchObject({ stripped: false, reason: "not-applicable" });
    expect(out.body).toBe(gif);

    const stream = Readable.from([Buffer.from("%PDF-1.7")]);
    const pdf = await stripper.strip({ body: stream, type: "application/pdf" });
    expect(pdf.body).toBe(stream);
  });

  test("a stream under the byte cap is buffered and stripped", async () => {
    const input = await jpegWithExif();
    const out = stripped(await stripper.strip({ body: Readable.from([input.subarray(0, 100), input.subarray(100)]), type: "image/jpeg" }));
    expect(await exifr.gps(out.body)).toBeUndefined();
  });

  test("a stream over the byte cap is stored as is, without holding more than the cap", async () => {
    const small = createMetadataStripper({ limiter: createLimiter({ concurrency: 1 }), maxBytes: 1024 });
    const input = await jpegWithExif(400, 400, 6);
    expect(input.length).toBeGreaterThan(2048);
    let pulled = 0;
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < input.length; i += 256) {
          pulled += Math.min(256, input.length - i);
          yield input.subarray(i, i + 256);
        }
      })(),
    );
    const out = await small.strip({ body: source, type: "image/jpeg" });
    expect(out).toMatchObject({ stripped: false, reason: "too-large" });
    expect(pulled).toBeLessThanOrEqual(1024 + 256);
    expect((await collect(out.body as Readable)).equals(input)).toBe(true);

    const known = await small.strip({ body: Readable.from([input]), size: input.length, type: "image/jpeg" });
    expect(known).toMatchObject({ stripped: false, reason: "too-large", size: input.length });
  });

  test("an upload cancelled while waiting for a slot rejects with the abort reason", async () => {
    const limiter = createLimiter({ concurrency: 1 });
    const busy = createMetadataStripper({ limiter });
    let release!: () => void;
    const blocker = limiter.run(() => new Promise<void>((r) => (release = r)));
    const controller = new AbortController();
    const pending = busy.strip({ body: await jpegWithExif(), type: "image/jpeg" }, controller.signal);
    await new Promise((r) => setTimeout(r, 20));
    expect(limiter.pending).toBe(1);
    controller.abort(new Error("client went away"));
    await expect(pending).rejects.toThrow("client went away");
    release();
    await blocker;
  });
});
