import type { Readable } from "node:stream";

/** What a store knows about one blob without reading it. */
export interface BlobStat {
  /** Length in bytes. */
  size: number;
  lastModified: Date;
  /**
   * An opaque validator that changes whenever the bytes change, usable as an HTTP ETag
   * (without quotes). S3: the object's ETag; local: derived from size and mtime.
   */
  etag: string;
  /** The `contentType` given to `put`, where the backend stores it (S3 does, local does not). */
  contentType?: string;
}

/**
 * An inclusive byte range, as in an HTTP `Range: bytes=start-end` header.
 * `end` omitted means "to the last byte"; an `end` past the last byte is clamped to it.
 * `start` must lie inside the blob, otherwise `get` throws {@link InvalidBlobRangeError}. An empty
 * blob has no valid range and what `get` does with one is unspecified: stat first, as an HTTP
 * server must anyway to answer 416.
 */
export interface BlobRange {
  start: number;
  end?: number;
}

/** Options for {@link BlobStore.put}. */
export interface BlobPutOptions {
  /**
   * The number of bytes `body` will yield, when known. S3 needs it to upload in a single PUT
   * (without it the upload is multipart). When given, a body that yields a different number of
   * bytes fails the put and stores nothing.
   */
  size?: number;
  /** Stored as the object's Content-Type where the backend keeps metadata (S3); a hint only. */
  contentType?: string;
  /**
   * Aborting while the body is still being read fails the put with an `AbortError` and stores
   * nothing. Once the whole body has been read, S3's final request is not cancellable, so a late
   * abort may be ignored and the put succeed.
   */
  signal?: AbortSignal;
}

/**
 * Where attachment bytes and their thumbnails live: a flat namespace of keys mapped to bytes.
 *
 * Keys are relative, `/`-separated paths such as `attachments/ab12/photo.jpg`; see
 * `assertValidBlobKey` in `blob-key.ts` for the exact rules. Every method rejects a bad key with
 * {@link InvalidBlobKeyError} before doing any I/O. Two implementations: `createLocalBlobStore`
 * (files under a directory) and `createS3BlobStore` (any S3-compatible service, via `minio`).
 *
 * Nothing in a store is process-local state: several replicas may share one S3 store.
 */
export interface BlobStore {
  /** Which backend this is, for logs and health output. */
  readonly kind: "local" | "s3";

  /**
   * Streams `body` to `key`, replacing any blob already there. Resolves with the number of bytes
   * written. Atomic: readers see either the old blob or the whole new one, never a part; a put
   * that fails or is aborted (including when `body` errors) rejects and leaves nothing behind.
   */
  put(key: string, body: Readable | Uint8Array, opts?: BlobPutOptions): Promise<{ size: number }>;

  /**
   * Opens the blob (or a byte range of it) for reading. The stream holds a file handle or a
   * socket: consume it or destroy it.
   * @throws {BlobNotFoundError} when there is no blob at `key`.
   * @throws {InvalidBlobRangeError} when `range` is malformed or starts past the last byte.
   */
  get(key: string, range?: BlobRange): Promise<Readable>;

  /** Size and validators of the blob at `key`, or `undefined` when there is none. */
  stat(key: string): Promise<BlobStat | undefined>;

  /** Removes the blob at `key`. Idempotent: a missing blob is not an error. */
  delete(key: string): Promise<void>;

  /**
   * Removes every blob whose key starts with `prefix` (a plain string prefix, e.g.
   * `thumbnails/ab12/`), e.g. all thumbnails of an attachment. The empty prefix is refused.
   */
  deletePrefix(prefix: string): Promise<void>;

  /**
   * Every key that starts with `prefix` (a plain string prefix; `""` lists everything), for
   * janitors. Order is unspecified. Keys put or deleted during the walk may or may not appear.
   */
  list(prefix: string): AsyncIterable<string>;

  /** Releases sockets or handles the store holds. The store must not be used afterwards. */
  close(): Promise<void>;
}

/** Thrown by {@link BlobStore.get} when there is no blob at the key. */
export class BlobNotFoundError extends Error {
  override readonly name = "BlobNotFoundError";
  constructor(
    readonly key: string,
    options?: ErrorOptions,
  ) {
    super(`blob not found: ${JSON.stringify(key)}`, options);
  }
}

/** Thrown by every {@link BlobStore} method when a key or prefix breaks the key rules. */
export class InvalidBlobKeyError extends Error {
  override readonly name = "InvalidBlobKeyError";
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`invalid blob key ${JSON.stringify(key)}: ${reason}`);
  }
}

/** Thrown by {@link BlobStore.get} for a malformed range or one that starts past the end. */
export class InvalidBlobRangeError extends Error {
  override readonly name = "InvalidBlobRangeError";
  constructor(
    readonly range: BlobRange,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`invalid blob range ${JSON.stringify(range)}: ${reason}`, options);
  }
}

/**
 * Thrown by {@link BlobStore.put} when `opts.size` was given and the body yielded a different
 * number of bytes (typically a client that disconnected mid-upload). Nothing is stored.
 */
export class BlobSizeMismatchError extends Error {
  override readonly name = "BlobSizeMismatchError";
  constructor(
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`blob body yielded ${actual > expected ? "more than " : ""}${actual} bytes, expected ${expected}`);
  }
}

/**
 * Thrown by a {@link BlobStore} whose backend cannot be reached or answers that it cannot serve
 * now (S3 refused the connection, timed out, or said ServiceUnavailable/SlowDown/InternalError).
 * A retry later may succeed; callers answer `unavailable` (HTTP 503). The backend's error is the
 * `cause`. Failures of the caller's own body (a client that went away) are never wrapped.
 */
export class BlobStoreUnavailableError extends Error {
  override readonly name = "BlobStoreUnavailableError";
  constructor(options?: ErrorOptions) {
    super("blob storage unavailable", options);
  }
}
