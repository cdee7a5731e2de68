import type { Readable } from "node:stream";
import type { Metadata } from "sharp";
import { loadSharp } from "./sharp.js";

/** The decoders sharp's prebuilt libvips has, by the name `metadata().format` reports. */
export type ImageFormat = "jpeg" | "png" | "webp" | "gif" | "tiff" | "heif" | "svg" | "avif" | "jp2" | "raw" | string;

/** What an image's header says, read without decoding any pixels. */
export interface ImageProbe {
  readonly format: ImageFormat;
  /** Stored pixel size, before EXIF orientation. */
  readonly width: number;
  readonly height: number;
  /** Displayed size: width and height swapped for EXIF orientations 5 to 8. */
  readonly displayWidth: number;
  readonly displayHeight: number;
  /** EXIF orientation 1..8, when the image has one. */
  readonly orientation?: number;
  /** Frames or pages (animated WebP/GIF, multi-page TIFF, HEIF image collections); 1 otherwise. */
  readonly pages: number;
  /** HEIF only: `av1` (AVIF) or `hevc` (HEIC, which the prebuilt libvips cannot decode). */
  readonly compression?: string;
  /** The embedded ICC profile, when there is one. */
  readonly icc?: Buffer;
}

/** How much of a stream {@link readImageSize} reads: enough for every header in practice. */
export const IMAGE_HEAD_BYTES = 1024 * 1024;

/**
 * Reads the header of `input` with sharp: format, dimensions, orientation, page count. Cheap: no
 * pixel is decoded, so a decompression bomb (a 30000x30000 header over a few bytes of data) costs
 * microseconds and no memory. The pixel limit is off on purpose here; callers compare
 * `width * height` with their own limit before decoding. Answers `undefined` when sharp cannot
 * read the header (not an image, a format it lacks, or a truncated header).
 */
export async function probeImage(input: Uint8Array): Promise<ImageProbe | undefined> {
  const sharp = await loadSharp();
  let meta: Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false, failOn: "none" }).metadata();
  } catch {
    return undefined;
  }
  const { width, height } = meta;
  if (!(width > 0) || !(height > 0)) return undefined;
  const swapped = meta.orientation !== undefined && meta.orientation >= 5 && meta.orientation <= 8;
  return {
    format: meta.format,
    width,
    height,
    displayWidth: swapped ? height : width,
    displayHeight: swapped ? width : height,
    ...(meta.orientation === undefined ? {} : { orientation: meta.orientation }),
    pages: meta.pages ?? 1,
    ...(meta.compression === undefined ? {} : { compression: meta.compression }),
    ...(meta.icc === undefined ? {} : { icc: meta.icc }),
  };
}

/** Displayed width and height of an image. */
export interface ImageSize {
  readonly width: number;
  readonly height: number;
}

/**
 * The displayed size of an image (EXIF orientation applied), for `media_metadata` when the client
 * sent none; `undefined` when sharp cannot read the header. A stream is read only up to
 * {@link IMAGE_HEAD_BYTES} and then destroyed, so a large file costs one small read.
 */
export async function readImageSize(input: Uint8Array | Readable): Promise<ImageSize | undefined> {
  const head = input instanceof Uint8Array ? input : await readHead(input, IMAGE_HEAD_BYTES);
  const probe = await probeImage(head);
  return probe === undefined ? undefined : { width: probe.displayWidth, height: probe.displayHeight };
}

/** The first `limit` bytes of `stream` (fewer when it is shorter); destroys the stream. */
export async function readHead(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      chunks.push(buf);
      length += buf.length;
      if (length >= limit) break;
    }
  } finally {
    stream.destroy();
  }
  const all = Buffer.concat(chunks, length);
  return all.length > limit ? all.subarray(0, limit) : all;
}
