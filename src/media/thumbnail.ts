import type { Readable } from "node:stream";
import type { BlobStat, BlobStore } from "../blob/blob-store.js";
import type { Logger } from "../logger.js";
import { probeImage } from "./image-size.js";
import { createLimiter, type Limiter } from "./limiter.js";
import { loadSharp } from "./sharp.js";

/** Longest side of a thumbnail, in pixels (spec §5.3). */
export const THUMBNAIL_MAX_SIDE = 600;
/** JPEG quality of thumbnails (spec §5.3). */
export const THUMBNAIL_QUALITY = 90;
/** Generations at a time per replica (spec §5.3). */
export const DEFAULT_THUMBNAIL_CONCURRENCY = 3;
/** Bytes of the original searched for HDR and wide-gamut markers (spec §5.3). */
export const HDR_SCAN_BYTES = 1024 * 1024;

/**
 * Stored types that get a thumbnail (spec §5.3). HEIC/HEIF are on the reference's list but always
 * answered with the original (browsers that can show HEIC show the original; sharp's prebuilt
 * libvips cannot decode HEVC anyway); every other type ignores `thumbnail=true`.
 */
const THUMBNAIL_TYPES = new Set(["image/png", "image/jpeg", "image/jpg", "image/webp"]);
const ORIGINAL_ONLY_TYPES = new Set(["image/heic", "image/heif"]);

/** Whether `thumbnail=true` means anything for an attachment of (normalised) type `type`. */
export function isThumbnailType(type: string): boolean {
  return THUMBNAIL_TYPES.has(type) || ORIGINAL_ONLY_TYPES.has(type);
}

/**
 * Prefix of every blob derived from attachment `uid` (thumbnails now; motion clips later), so
 * deleting an attachment removes them all with one `deletePrefix(derivedPrefix(uid))`. A UID
 * cannot contain `/`, so the prefix never matches another attachment's blobs.
 */
export function derivedPrefix(uid: string): string {
  return `derived/${uid}/`;
}

/**
 * Blob key of the thumbnail of attachment row `id` with UID `uid`. The row id (a serial, never
 * reused) is part of the key, so a thumbnail that a slow replica writes after its attachment was
 * deleted can never be served for a new attachment that reuses the UID. `v1` names the rendering
 * (600 px, JPEG q90): change it when the rendering changes and old thumbnails are ignored.
 */
export function thumbnailKey(uid: string, id: number): string {
  return `${derivedPrefix(uid)}${id}.thumbnail.v1.jpeg`;
}

/** Key of the marker that says "this attachment's thumbnail is its original" (see {@link Thumbnailer}). */
export function thumbnailMarkerKey(uid: string, id: number): string {
  return `${derivedPrefix(uid)}${id}.thumbnail.v1.original`;
}

/** The attachment a thumbnail is asked for. */
export interface ThumbnailSource {
  /** Row id (never reused). */
  readonly id: number;
  readonly uid: string;
  /** Normalised stored MIME type. */
  readonly type: string;
  /** Opens the original's bytes (called at most once per generation). */
  open(): Promise<Readable | Uint8Array>;
}

/** Why the original is served instead of a thumbnail. */
export type OriginalReason =
  /** Not an image type with thumbnails, or HEIC/HEIF (spec §5.3). */
  | "unsupported-type"
  /** HDR or wide-gamut markers in the first MiB (spec §5.3). */
  | "hdr"
  /** Above the pixel or byte limit: decoding it would cost more than serving it. */
  | "too-large"
  /** Not decodable. */
  | "undecodable"
  /** A decision stored earlier (by this or another replica) for one of the reasons above. */
  | "remembered"
  /** Reading the original or storing the thumbnail failed; the next request tries again. */
  | "failed";

/** What to serve for `thumbnail=true`. */
export type ThumbnailResult =
  | {
      readonly kind: "thumbnail";
      readonly key: string;
      readonly stat: BlobStat;
      /** The thumbnail's bytes when this call generated it, so the first response need not read it back. */
      readonly bytes?: Buffer;
    }
  | { readonly kind: "original"; readonly reason: OriginalReason; readonly error?: unknown };

/** Renders a thumbnail from the original's bytes; injectable for tests and benchmarks. */
export type ThumbnailRenderer = (original: Buffer, options: { maxPixels: number }) => Promise<Buffer>;

/** Options of {@link createThumbnailer}. */
export interface ThumbnailerOptions {
  /** Where originals' thumbnails are stored (the attachments' own store, shared by every replica). */
  readonly blobs: BlobStore;
  /** Generations at a time when no `limiter` is given. @default {@link DEFAULT_THUMBNAIL_CONCURRENCY} */
  readonly concurrency?: number;
  /**
   * Bounds concurrent generations; may be shared with the metadata stripper so all image work of
   * a replica has one bound. @default a limiter of `concurrency`
   */
  readonly limiter?: Limiter;
  /** Originals above this many pixels are served as they are. @default 50,000,000 */
  readonly maxPixels?: number;
  /** Originals above this many bytes are served as they are (never read into memory). @default 64 MiB */
  readonly maxSourceBytes?: number;
  /** @default {@link renderThumbnail} */
  readonly render?: ThumbnailRenderer;
  /** Called each time a generation really starts (after the single-flight and limiter), for metrics and tests. */
  readonly onGenerate?: (source: ThumbnailSource) => void;
  readonly logger?: Pick<Logger, "warn">;
}

/**
 * Thumbnails generated on first request and stored beside the original in the blob store.
 *
 * - Single-flight per attachment within a process: concurrent first requests share one
 *   generation. Across replicas two may both generate; each put is atomic and writes the same
 *   content, so the last one simply wins.
 * - At most N generations at a time per process (the limiter).
 * - Decisions to serve the original (HDR, too large, undecodable) are stored as a tiny marker
 *   blob next to where the thumbnail would be, so no replica decodes the same image twice.
 * - Any error serves the original (spec §5.3); only deterministic outcomes are remembered.
 */
export interface Thumbnailer {
  /** The stored thumbnail of `source`, generating it when missing, or why the original is served. */
  get(source: ThumbnailSource): Promise<ThumbnailResult>;
  /** Generations running or queued in this process right now. */
  readonly inFlight: number;
}

export function createThumbnailer(options: ThumbnailerOptions): Thumbnailer {
  const { blobs, logger } = options;
  const concurrency = options.concurrency ?? DEFAULT_THUMBNAIL_CONCURRENCY;
  const limiter = options.limiter ?? createLimiter({ concurrency });
  const maxPixels = options.maxPixels ?? 50_000_000;
  const maxSourceBytes = options.maxSourceBytes ?? 64 * 1024 * 1024;
  const render = options.render ?? renderThumbnail;
  const flights = new Map<string, Promise<ThumbnailResult>>();

  async function storedThumbnail(key: string): Promise<ThumbnailResult | undefined> {
    const stat = await blobs.stat(key);
    return stat === undefined ? undefined : { kind: "thumbnail", key, stat };
  }

  async function remember(source: ThumbnailSource, reason: OriginalReason, error?: unknown): Promise<ThumbnailResult> {
    try {
      await blobs.put(thumbnailMarkerKey(source.uid, source.id), Buffer.from(reason), { contentType: "text/plain" });
    } catch (err) {
      logger?.warn({ err, uid: source.uid }, "failed to store a thumbnail decision");
    }
    return { kind: "original", reason, ...(error === undefined ? {} : { error }) };
  }

  async function generate(source: ThumbnailSource, key: string): Promise<ThumbnailResult> {
    if ((await blobs.stat(thumbnailMarkerKey(source.uid, source.id))) !== undefined) {
      return { kind: "original", reason: "remembered" };
    }
    // The limiter calls the task synchronously when a slot is free; `queued` is then still false.
    let queued = false;
    const result = limiter.run(async (): Promise<ThumbnailResult> => {
      // Another replica may have finished while this one waited for a slot.
      if (queued) {
        const stored = await storedThumbnail(key);
        if (stored !== undefined) return stored;
      }
      let original: Buffer | undefined;
      try {
        original = await readAll(await source.open(), maxSourceBytes);
      } catch (err) {
        logger?.warn({ err, uid: source.uid }, "thumbnail: failed to read the original");
        return { kind: "original", reason: "failed", error: err };
      }
      if (original === undefined) return remember(source, "too-large");
      if (hasHdrOrWideGamutMarkers(original.subarray(0, HDR_SCAN_BYTES))) return remember(source, "hdr");
      const probe = await probeImage(original);
      if (probe === undefined) return remember(source, "undecodable");
      if (probe.width * probe.height > maxPixels) return remember(source, "too-large");
      options.onGenerate?.(source);
      let thumbnail: Buffer;
      try {
        thumbnail = await render(original, { maxPixels });
      } catch (err) {
        logger?.warn({ err, uid: source.uid }, "thumbnail: generation failed; serving the original");
        return remember(source, "undecodable", err);
      }
      original = undefined; // let the original go before the upload
      try {
        await blobs.put(key, thumbnail, { size: thumbnail.length, contentType: "image/jpeg" });
        const stat = await blobs.stat(key);
        if (stat === undefined) throw new Error("thumbnail vanished right after it was stored");
        return { kind: "thumbnail", key, stat, bytes: thumbnail };
      } catch (err) {
        logger?.warn({ err, uid: source.uid }, "thumbnail: failed to store; serving the original");
        return { kind: "original", reason: "failed", error: err };
      }
    });
    queued = true;
    return result;
  }

  return {
    get inFlight() {
      return flights.size;
    },
    async get(source) {
      if (!THUMBNAIL_TYPES.has(source.type)) return { kind: "original", reason: "unsupported-type" };
      const key = thumbnailKey(source.uid, source.id);
      try {
        const stored = await storedThumbnail(key);
        if (stored !== undefined) return stored;
      } catch (err) {
        return { kind: "original", reason: "failed", error: err };
      }
      let flight = flights.get(key);
      if (flight === undefined) {
        flight = generate(source, key)
          .catch((err: unknown): ThumbnailResult => ({ kind: "original", reason: "failed", error: err }))
          .finally(() => flights.delete(key));
        flights.set(key, flight);
      }
      return flight;
    },
  };
}

/**
 * The reference rendering (spec §5.3): EXIF orientation applied, longest side fitted to 600 px
 * with the aspect ratio kept (smaller images keep their size but are still re-encoded), Lanczos,
 * transparency flattened onto white, JPEG quality 90, no metadata.
 */
export const renderThumbnail: ThumbnailRenderer = async (original, { maxPixels }) =>
  (await loadSharp())(original, { limitInputPixels: maxPixels, failOn: "error", autoOrient: true, sequentialRead: true })
    .resize(THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE, { fit: "inside", withoutEnlargement: true, kernel: "lanczos3" })
    .flatten({ background: "#ffffff" })
    .jpeg({ quality: THUMBNAIL_QUALITY })
    .toBuffer();

const CASE_SENSITIVE_MARKERS = ["ICC_PROFILE", "iCCP", "ICCP", "cICP", "mDCv", "cLLi"].map((m) => Buffer.from(m, "latin1"));
/** The case-insensitive markers, as one alternation (one pass over the text instead of fourteen). */
const CASE_INSENSITIVE_MARKERS =
  /hdrgm:|hdr gain map|hdrgainmap|gainmap|ultrahdr|adobe:hdrgainmap|aux:hdr|auxiliaryimagetype|display p3|display-p3|rec\.2020|bt\.2020|arib-std-b67|smpte st 2084/i;

/**
 * The reference server's test for "serve the original instead of a thumbnail" (spec §5.3): any
 * ICC profile or HDR/colour-volume chunk (`ICC_PROFILE`, `iCCP`, `ICCP`, `cICP`, `mDCv`, `cLLi`,
 * case-sensitive), or a gain-map or wide-gamut name (`hdrgm:`, `ultrahdr`, `display p3`,
 * `rec.2020`, ..., any case), in `head` (the first MiB). Byte-wise, as the reference does.
 */
export function hasHdrOrWideGamutMarkers(head: Buffer): boolean {
  if (CASE_SENSITIVE_MARKERS.some((m) => head.includes(m))) return true;
  return CASE_INSENSITIVE_MARKERS.test(head.toString("latin1"));
}

/** All of `body`, or `undefined` (and the stream destroyed) once it exceeds `limit` bytes. */
async function readAll(body: Readable | Uint8Array, limit: number): Promise<Buffer | undefined> {
  if (body instanceof Uint8Array) {
    if (body.length > limit) return undefined;
    return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  }
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > limit) return undefined;
      chunks.push(chunk);
    }
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks, length);
}
