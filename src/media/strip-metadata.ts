import { Readable } from "node:stream";
import type { Logger } from "../logger.js";
import {
  isLosslessWebp,
  jpegMayCarryMetadata,
  stripPngMetadataChunks,
  stripWebpMetadataChunks,
} from "./container-metadata.js";
import { isHeifFile, scrubHeifMetadata } from "./heif-metadata.js";
import { type ImageProbe, probeImage } from "./image-size.js";
import type { Limiter } from "./limiter.js";
import { loadSharp } from "./sharp.js";

/** The reference server's pixel guard (spec §4.3 step 10): larger images are stored as they are. */
export const DEFAULT_MAX_STRIP_PIXELS = 50_000_000;
/** Largest upload buffered for stripping; larger ones stream to storage untouched. */
export const DEFAULT_MAX_STRIP_BYTES = 64 * 1024 * 1024;

/**
 * Declared types whose metadata is removed: the reference server's list (spec §4.3 step 10:
 * JPEG, TIFF, WebP, HEIC/HEIF) plus PNG, whose text and `eXIf` chunks can hold the same data, and
 * AVIF, which is HEIF with AV1 images and carries Exif the same way.
 */
const STRIP_TYPES: ReadonlyMap<string, StrippableFormat> = new Map([
  ["image/jpeg", "jpeg"],
  ["image/jpg", "jpeg"],
  ["image/pjpeg", "jpeg"],
  ["image/tiff", "tiff"],
  ["image/tif", "tiff"],
  ["image/webp", "webp"],
  ["image/heic", "heif"],
  ["image/heif", "heif"],
  ["image/avif", "heif"],
  ["image/png", "png"],
]);

type StrippableFormat = "jpeg" | "png" | "webp" | "tiff" | "heif";

/** The MIME type written for a format when the declared type named another one. */
const CANONICAL_TYPE: Readonly<Record<StrippableFormat, string>> = {
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  tiff: "image/tiff",
  heif: "image/heif",
};

/** Whether uploads of the (normalised) MIME type `type` go through the stripper. */
export function isStrippableType(type: string): boolean {
  return STRIP_TYPES.has(type);
}

/** An upload to strip. */
export interface StripInput {
  /** The bytes, whole or as a stream (a stream is read once, by the stripper). */
  readonly body: Uint8Array | Readable;
  /** Byte count when known (a stream larger than the cap is then never buffered). */
  readonly size?: number;
  /** The normalised MIME type the client declared or the server guessed. */
  readonly type: string;
}

/** Why an upload was stored without stripping. */
export type StripSkipReason =
  /** The type is not one that is stripped (GIF, video, PDF...). */
  | "not-applicable"
  /** More bytes than the configured cap: streamed through untouched. */
  | "too-large"
  /** The header says more than the pixel limit (spec: 50 MP), e.g. a decompression bomb. */
  | "too-many-pixels"
  /** Neither sharp nor the HEIF box parser can read it (not really an image, a malformed HEIF, ...). */
  | "unreadable"
  /** A TIFF or HEIF with several pages: re-encoding would keep only the first. */
  | "multi-page"
  /** Decoding or encoding failed. */
  | "failed";

/** What {@link MetadataStripper.strip} did. */
export type StripOutcome =
  | {
      readonly stripped: true;
      /** The bytes to store. */
      readonly body: Buffer;
      readonly size: number;
      /** MIME type of `body`: the declared one when it names the same format, else the format's own. */
      readonly type: string;
      /**
       * `reencoded`: decoded with the orientation applied and encoded again in the same format;
       * `chunks`: metadata chunks removed losslessly (PNG, WebP); `scrubbed`: metadata payloads
       * overwritten in place with empty ones, same length and layout (HEIF); `unchanged`: there
       * was nothing to remove (the bytes are the original ones).
       */
      readonly method: "reencoded" | "chunks" | "scrubbed" | "unchanged";
      /** Displayed size of the stored image; absent only for a HEIF whose header gives none. */
      readonly width?: number;
      readonly height?: number;
    }
  | {
      readonly stripped: false;
      /** The original bytes, to store as they are. A stream when the input was a stream too large to buffer. */
      readonly body: Buffer | Readable;
      /** Known byte count of `body`. */
      readonly size?: number;
      readonly type: string;
      readonly reason: StripSkipReason;
      /** The decoder's or encoder's error, for logs. */
      readonly error?: unknown;
    };

/** Options of {@link createMetadataStripper}. */
export interface MetadataStripperOptions {
  /**
   * Bounds concurrent decodes (spec: at most 2 strip jobs). May be the limiter thumbnails use,
   * so that all image work of a replica shares one bound.
   */
  readonly limiter: Limiter;
  /** @default 50,000,000 (spec §4.3) */
  readonly maxPixels?: number;
  /** Uploads above this many bytes are not buffered and stored as they are. @default 64 MiB */
  readonly maxBytes?: number;
  /** Warnings for uploads kept unstripped because of a failure. */
  readonly logger?: Pick<Logger, "warn">;
}

/** Removes EXIF/GPS and other metadata from uploaded images (spec §4.3 step 10, Q12). */
export interface MetadataStripper {
  /**
   * Strips `input` when its type is strippable. Never fails because of the image: on any problem
   * the outcome carries the original bytes and `stripped: false`. Rejects only when `signal`
   * aborts while the job waits for the limiter (the reference answers ResourceExhausted "too many
   * image processing requests" then) or when reading a stream body fails.
   */
  strip(input: StripInput, signal?: AbortSignal): Promise<StripOutcome>;
}

/**
 * Creates the stripper. The format is always kept (a WebP stays a WebP), so the stored `type`
 * matches the bytes, unlike the reference server which writes JPEG bytes under the original type
 * (spec Q12). Per format:
 * - JPEG: decoded with the EXIF orientation applied and re-encoded at quality 95 (the reference's
 *   setting), ICC profile kept; a JPEG with no metadata segments and no orientation is kept as is.
 * - PNG, WebP: metadata chunks removed losslessly; only an image with an EXIF orientation other
 *   than 1 is decoded, rotated and re-encoded (WebP lossless when the source was; an animated WebP
 *   keeps its frames and loses the orientation tag).
 * - TIFF: re-encoded with LZW (lossless); multi-page files are kept as they are.
 * - HEIF (HEIC, AVIF, ...): the Exif and XMP items are overwritten in place with empty ones (see
 *   heif-metadata.ts), without decoding: sharp's prebuilt libvips has no HEVC decoder, so HEIC,
 *   the format phones write, could not be re-encoded at all, and for AVIF this is lossless and
 *   keeps every image of a collection, auxiliary images included. Orientation stays in the
 *   `irot`/`imir` properties that HEIF readers apply (Exif orientation is ignored in HEIF), and
 *   no pixel limit applies since nothing is decoded. Only when the container cannot be parsed is
 *   a single-image AVIF re-encoded with sharp instead; any other such HEIF is kept unmodified.
 */
export function createMetadataStripper(options: MetadataStripperOptions): MetadataStripper {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_STRIP_PIXELS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_STRIP_BYTES;
  const { limiter, logger } = options;

  return {
    async strip(input, signal) {
      const declared = STRIP_TYPES.get(input.type);
      if (declared === undefined) {
        return keep(input.body, input.size, input.type, "not-applicable");
      }
      const size = input.body instanceof Uint8Array ? input.body.length : input.size;
      if (size !== undefined && size > maxBytes) return keep(input.body, size, input.type, "too-large");
      const buffered = await bufferUpTo(input.body, maxBytes);
      if (!buffered.complete) return keep(buffered.stream, input.size, input.type, "too-large");
      const original = buffered.data;

      const probe = await probeImage(original);
      if (probe?.format === "heif" || (probe === undefined && isHeifFile(original))) {
        const scrub = scrubHeifMetadata(original);
        if (scrub.ok) {
          const size = probe === undefined ? scrub.displaySize : { width: probe.displayWidth, height: probe.displayHeight };
          const type = declared === "heif" ? input.type : CANONICAL_TYPE.heif;
          return { stripped: true, body: scrub.body, size: scrub.body.length, type, method: scrub.changed ? "scrubbed" : "unchanged", ...size };
        }
        // A container that cannot be parsed: only an AVIF that sharp decodes can still be stripped.
        if (probe?.compression !== "av1") {
          return keep(original, original.length, input.type, "unreadable", new Error(`HEIF not scrubbed (${scrub.reason}): ${scrub.message}`));
        }
      }
      if (probe === undefined) return keep(original, original.length, input.type, "unreadable");
      const format = probe.format as StrippableFormat;
      if (!(format in CANONICAL_TYPE)) return keep(original, original.length, input.type, "unreadable");
      if (probe.width * probe.height > maxPixels) {
        return keep(original, original.length, input.type, "too-many-pixels");
      }
      if ((format === "tiff" || format === "heif") && probe.pages > 1) {
        return keep(original, original.length, input.type, "multi-page");
      }
      const type = STRIP_TYPES.get(input.type) === format ? input.type : CANONICAL_TYPE[format];

      try {
        const done = (body: Buffer, method: "reencoded" | "chunks" | "unchanged") =>
          ({ stripped: true, body, size: body.length, type, method, width: probe.displayWidth, height: probe.displayHeight }) as const;
        const rotated = probe.orientation !== undefined && probe.orientation > 1;
        if ((format === "png" || format === "webp") && (!rotated || probe.pages > 1)) {
          const body = format === "png" ? stripPngMetadataChunks(original) : stripWebpMetadataChunks(original);
          if (body === undefined) return keep(original, original.length, input.type, "unreadable");
          return done(body, body === original ? "unchanged" : "chunks");
        }
        if (format === "jpeg" && !rotated && !jpegMayCarryMetadata(original)) return done(original, "unchanged");
        const body = await limiter.run(() => reencode(original, format, probe, maxPixels), signal);
        return done(body, "reencoded");
      } catch (err) {
        if (signal?.aborted && err === signal.reason) throw err;
        return keep(original, original.length, input.type, "failed", err);
      }
    },
  };

  function keep(body: Uint8Array | Readable, size: number | undefined, type: string, reason: StripSkipReason, error?: unknown): StripOutcome {
    if (reason !== "not-applicable") {
      logger?.warn({ type, reason, ...(error === undefined ? {} : { err: error }) }, "image metadata not stripped; storing the original bytes");
    }
    const out = body instanceof Uint8Array ? asBuffer(body) : body;
    return {
      stripped: false,
      body: out,
      ...(size === undefined ? {} : { size }),
      type,
      reason,
      ...(error === undefined ? {} : { error }),
    };
  }
}

/**
 * Decodes with the orientation applied and encodes in the same format without metadata. A
 * wide-gamut ICC profile (Display P3, Adobe RGB...) is kept so colours stay as shot; an sRGB one
 * is dropped, since sRGB is what an image without a profile means anyway. (Dropping it also lets
 * such photos have thumbnails: the §5.3 rule serves originals for any image with an ICC profile.)
 */
async function reencode(input: Buffer, format: StrippableFormat, probe: ImageProbe, maxPixels: number): Promise<Buffer> {
  const sharp = await loadSharp();
  let image = sharp(input, { limitInputPixels: maxPixels, failOn: "error", autoOrient: true, sequentialRead: true });
  if (probe.icc !== undefined && !isSrgbProfile(probe.icc)) image = image.keepIccProfile();
  switch (format) {
    case "jpeg":
      return image.jpeg({ quality: 95 }).toBuffer();
    case "png":
      return image.png().toBuffer();
    case "webp":
      return isLosslessWebp(input) ? image.webp({ lossless: true }).toBuffer() : image.webp({ quality: 95 }).toBuffer();
    case "tiff":
      return image.tiff({ compression: "lzw" }).toBuffer();
    case "heif":
      return image.heif({ compression: "av1", quality: 90, effort: 2 }).toBuffer();
  }
}

type Buffered = { complete: true; data: Buffer } | { complete: false; stream: Readable };

/**
 * Reads `body` into memory unless it turns out longer than `limit` bytes; then answers a stream
 * that yields the bytes read so far followed by the rest, so nothing is lost and at most `limit`
 * bytes were held.
 */
/**
 * Whether an ICC profile describes sRGB, judged by its description as the usual profiles write it
 * ("sRGB IEC61966-2.1", "sRGB built-in", ...), in ASCII (v2 `desc`) or UTF-16BE (v4 `mluc`).
 */
export function isSrgbProfile(icc: Buffer): boolean {
  return icc.includes("sRGB", 0, "latin1") || icc.includes(Buffer.from("\0s\0R\0G\0B", "latin1"));
}

async function bufferUpTo(body: Uint8Array | Readable, limit: number): Promise<Buffered> {
  if (body instanceof Uint8Array) return { complete: true, data: asBuffer(body) };
  const chunks: Buffer[] = [];
  let length = 0;
  const iterator = (body as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  for (;;) {
    const next = await iterator.next();
    if (next.done) return { complete: true, data: Buffer.concat(chunks, length) };
    const chunk = typeof next.value === "string" ? Buffer.from(next.value) : next.value;
    chunks.push(chunk);
    length += chunk.length;
    if (length > limit) break;
  }
  async function* replay(): AsyncGenerator<Buffer> {
    yield* chunks.splice(0);
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield typeof next.value === "string" ? Buffer.from(next.value) : next.value;
    }
  }
  const stream = Readable.from(replay(), { objectMode: false });
  stream.once("close", () => {
    if (!body.destroyed) body.destroy();
  });
  return { complete: false, stream };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
