/** Test images made with sharp itself, plus hand-built PNG chunks and header-only "bombs". */
import { crc32, deflateSync } from "node:zlib";
import sharp, { type Sharp } from "sharp";

/** EXIF with camera make/model and a GPS position (Paris), as phones write it. */
export const CAMERA_EXIF = {
  IFD0: { Make: "Acme", Model: "Phone X1", Software: "acme-cam 1.0" },
  IFD3: { GPSLatitudeRef: "N", GPSLatitude: "48/1 51/1 2400/100", GPSLongitudeRef: "E", GPSLongitude: "2/1 21/1 300/100" },
};

/** A `width`x`height` image with a left/right colour split, so rotation is visible in the pixels. */
export function canvas(width: number, height: number, alpha = false): Sharp {
  const left = { r: 200, g: 30, b: 30, ...(alpha ? { alpha: 0.5 } : {}) };
  return sharp({ create: { width, height, channels: alpha ? 4 : 3, background: left } }).composite([
    {
      input: { create: { width: Math.ceil(width / 2), height, channels: 3, background: { r: 30, g: 30, b: 200 } } },
      left: Math.floor(width / 2),
      top: 0,
    },
  ]);
}

/**
 * A JPEG carrying EXIF (make, model, GPS) and the given orientation (6 = rotate 90° clockwise).
 * sharp's `withMetadata` also embeds an sRGB ICC profile; it is removed unless `icc` is set, since
 * any ICC profile makes the §5.3 rule serve the original instead of a thumbnail.
 */
export async function jpegWithExif(width = 40, height = 20, orientation = 6, icc = false): Promise<Buffer> {
  const raw = await canvas(width, height).png().toBuffer();
  const jpeg = await sharp(raw).jpeg({ quality: 90 }).withMetadata({ orientation }).withExifMerge(CAMERA_EXIF).toBuffer();
  return icc ? jpeg : dropJpegIccProfile(jpeg);
}

/** `jpeg` without its APP2 ICC_PROFILE segments. */
export function dropJpegIccProfile(jpeg: Buffer): Buffer {
  const parts: Buffer[] = [jpeg.subarray(0, 2)];
  let offset = 2;
  while (offset + 4 <= jpeg.length && jpeg[offset + 1] !== 0xda) {
    const length = jpeg.readUInt16BE(offset + 2);
    const segment = jpeg.subarray(offset, offset + 2 + length);
    const isIcc = jpeg[offset + 1] === 0xe2 && segment.toString("latin1", 4, 16) === "ICC_PROFILE\0";
    if (!isIcc) parts.push(segment);
    offset += 2 + length;
  }
  parts.push(jpeg.subarray(offset));
  return Buffer.concat(parts);
}

export async function webpWithExif(options: { orientation?: number; lossless?: boolean; width?: number; height?: number } = {}): Promise<Buffer> {
  const raw = await canvas(options.width ?? 40, options.height ?? 20).png().toBuffer();
  let image = sharp(raw).webp(options.lossless ? { lossless: true } : { quality: 90 });
  image = options.orientation === undefined ? image.withExif(CAMERA_EXIF) : image.withMetadata({ orientation: options.orientation }).withExifMerge(CAMERA_EXIF);
  return image.toBuffer();
}

/**
 * A hand-built 4x2 RGB TIFF with Make "Acme", the given orientation and a GPS IFD (latitude
 * 48°51'24" N): sharp's TIFF writer does not write EXIF, so a camera-like file is assembled here.
 * The left half is red, the right half blue.
 */
export function tiffWithExif(orientation = 6): Buffer {
  const width = 4;
  const height = 2;
  const pixelsRgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) pixelsRgb.set(x < width / 2 ? [200, 30, 30] : [30, 30, 200], (y * width + x) * 3);
  }
  type Entry = [tag: number, type: number, count: number, value: number | Buffer];
  const SHORT = 3;
  const LONG = 4;
  const ASCII = 2;
  const RATIONAL = 5;
  const rational = (pairs: number[][]) => {
    const b = Buffer.alloc(pairs.length * 8);
    pairs.forEach(([n, d], i) => {
      b.writeUInt32LE(n!, i * 8);
      b.writeUInt32LE(d!, i * 8 + 4);
    });
    return b;
  };
  const ifd0Entries = 12;
  const gpsEntries = 4;
  const ifd0At = 8;
  const gpsAt = ifd0At + 2 + ifd0Entries * 12 + 4;
  let dataAt = gpsAt + 2 + gpsEntries * 12 + 4;
  const data: Buffer[] = [];
  const place = (b: Buffer): number => {
    const at = dataAt;
    data.push(b.length % 2 ? Buffer.concat([b, Buffer.alloc(1)]) : b);
    dataAt += b.length + (b.length % 2);
    return at;
  };
  const bits = place(Buffer.from([8, 0, 8, 0, 8, 0]));
  const make = place(Buffer.from("Acme\0", "latin1"));
  const latitude = place(rational([[48, 1], [51, 1], [2400, 100]]));
  const longitude = place(rational([[2, 1], [21, 1], [300, 100]]));
  const strip = place(pixelsRgb);
  const ifd0: Entry[] = [
    [256, SHORT, 1, width],
    [257, SHORT, 1, height],
    [258, SHORT, 3, bits],
    [259, SHORT, 1, 1],
    [262, SHORT, 1, 2],
    [271, ASCII, 5, make],
    [273, LONG, 1, strip],
    [274, SHORT, 1, orientation],
    [277, SHORT, 1, 3],
    [278, SHORT, 1, height],
    [279, LONG, 1, pixelsRgb.length],
    [34853, LONG, 1, gpsAt],
  ];
  const gps: Entry[] = [
    [1, ASCII, 2, Buffer.from("N\0", "latin1")],
    [2, RATIONAL, 3, latitude],
    [3, ASCII, 2, Buffer.from("E\0", "latin1")],
    [4, RATIONAL, 3, longitude],
  ];
  const ifd = (entries: Entry[]) => {
    const b = Buffer.alloc(2 + entries.length * 12 + 4);
    b.writeUInt16LE(entries.length, 0);
    entries.forEach(([tag, type, count, value], i) => {
      const at = 2 + i * 12;
      b.writeUInt16LE(tag, at);
      b.writeUInt16LE(type, at + 2);
      b.writeUInt32LE(count, at + 4);
      if (Buffer.isBuffer(value)) value.copy(b, at + 8);
      else if (type === SHORT && count === 1) b.writeUInt16LE(value, at + 8);
      else b.writeUInt32LE(value, at + 8);
    });
    return b;
  };
  const header = Buffer.from([0x49, 0x49, 42, 0, ifd0At, 0, 0, 0]);
  return Buffer.concat([header, ifd(ifd0), ifd(gps), ...data]);
}

/** One PNG chunk with its CRC. */
export function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** Inserts `chunks` right after IHDR (the first chunk) of `png`. */
export function insertPngChunks(png: Buffer, chunks: Buffer[]): Buffer {
  const ihdrEnd = 8 + 12 + png.readUInt32BE(8);
  return Buffer.concat([png.subarray(0, ihdrEnd), ...chunks, png.subarray(ihdrEnd)]);
}

/** The chunk types of a PNG, in order. */
export function pngChunkTypes(png: Buffer): string[] {
  const types: string[] = [];
  for (let offset = 8; offset + 8 <= png.length; ) {
    const length = png.readUInt32BE(offset);
    types.push(png.toString("latin1", offset + 4, offset + 8));
    offset += 12 + length;
  }
  return types;
}

/** A PNG with tEXt (author), zTXt (comment), iTXt (description) and eXIf (make + GPS) chunks. */
export async function pngWithTextChunks(orientation?: number): Promise<Buffer> {
  let image = canvas(40, 20).png();
  if (orientation !== undefined) image = image.withMetadata({ orientation });
  const withExif = await image.withExifMerge(CAMERA_EXIF).toBuffer(); // sharp writes eXIf
  return insertPngChunks(withExif, [
    pngChunk("tEXt", Buffer.from("Author\0Jane Doe, 12 Home Street", "latin1")),
    pngChunk("zTXt", Buffer.concat([Buffer.from("Comment\0\0", "latin1"), deflateSync(Buffer.from("shot at home"))])),
    pngChunk("iTXt", Buffer.from("Description\0\0\0en\0\0lat 48.85 lon 2.35", "utf8")),
    pngChunk("tIME", Buffer.from([0x07, 0xea, 1, 2, 3, 4, 5])),
  ]);
}

/**
 * A PNG whose IHDR claims `size`x`size` pixels over a few bytes of image data: decoding it would
 * allocate gigabytes, reading its header costs nothing.
 */
export function pngBomb(size = 30000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    pngChunk("IDAT", deflateSync(Buffer.alloc(64))),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

/** A small real JPEG whose SOF header is patched to claim `size`x`size` pixels. */
export async function jpegBomb(size = 30000): Promise<Buffer> {
  const jpeg = Buffer.from(await sharp({ create: { width: 8, height: 8, channels: 3, background: "#0a0" } }).jpeg().toBuffer());
  for (let i = 2; i + 4 < jpeg.length; ) {
    const marker = jpeg[i + 1]!;
    const length = jpeg.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc2) {
      jpeg.writeUInt16BE(size, i + 5);
      jpeg.writeUInt16BE(size, i + 7);
      return jpeg;
    }
    i += 2 + length;
  }
  throw new Error("no SOF marker found");
}

/** Raw RGBA pixels, to compare images decoded from different files. */
export async function pixels(image: Buffer): Promise<Buffer> {
  return sharp(image).ensureAlpha().raw().toBuffer();
}
