import { InvalidBlobKeyError } from "./blob-store.js";

/** S3's limit on an object key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;
/** The usual filesystem limit on one path component, in bytes, so keys work on every backend. */
const MAX_SEGMENT_BYTES = 255;
const CONTROL_CHAR = /[\u0000-\u001f\u007f]/;

/**
 * Throws {@link InvalidBlobKeyError} unless `key` is a valid blob key: a non-empty, relative,
 * `/`-separated path of at most 1024 UTF-8 bytes whose segments are non-empty, at most 255 bytes,
 * not `.` or `..`, and free of backslashes and control characters. The first segment must not
 * start with `.`: those names are reserved for the store's own files (the local store keeps
 * in-flight uploads under `.tmp/`).
 *
 * The same rules hold on every backend, so a key that works locally also works on S3 and no key
 * can name a file outside the local store's root.
 */
export function assertValidBlobKey(key: string): void {
  if (typeof key !== "string" || key === "") {
    throw new InvalidBlobKeyError(String(key), "must be a non-empty string");
  }
  checkCharacters(key, key);
  if (key.startsWith("/")) throw new InvalidBlobKeyError(key, "must be relative (no leading '/')");
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) {
    throw new InvalidBlobKeyError(key, `longer than ${MAX_KEY_BYTES} bytes`);
  }
  const segments = key.split("/");
  segments.forEach((segment, i) => checkSegment(key, segment, i === 0));
}

/**
 * Throws {@link InvalidBlobKeyError} unless `prefix` is a valid key prefix: `""`, or a string
 * that some valid key could start with. Everything up to the last `/` must be a valid key; the
 * rest is a partial segment (`thumbnails/ab` matches `thumbnails/ab12/x`).
 */
export function assertValidBlobPrefix(prefix: string): void {
  if (typeof prefix !== "string") throw new InvalidBlobKeyError(String(prefix), "must be a string");
  if (prefix === "") return;
  checkCharacters(prefix, prefix);
  if (Buffer.byteLength(prefix, "utf8") > MAX_KEY_BYTES) {
    throw new InvalidBlobKeyError(prefix, `longer than ${MAX_KEY_BYTES} bytes`);
  }
  const slash = prefix.lastIndexOf("/");
  if (slash === -1) return;
  const dir = prefix.slice(0, slash);
  if (dir === "") throw new InvalidBlobKeyError(prefix, "must be relative (no leading '/')");
  const segments = dir.split("/");
  segments.forEach((segment, i) => checkSegment(prefix, segment, i === 0));
}

function checkCharacters(key: string, value: string): void {
  if (value.includes("\\")) throw new InvalidBlobKeyError(key, "backslashes are not allowed");
  if (CONTROL_CHAR.test(value)) throw new InvalidBlobKeyError(key, "control characters are not allowed");
}

function checkSegment(key: string, segment: string, first: boolean): void {
  if (segment === "") throw new InvalidBlobKeyError(key, "empty path segment ('//' or a trailing '/')");
  if (segment === "." || segment === "..") {
    throw new InvalidBlobKeyError(key, `'${segment}' segments are not allowed`);
  }
  if (first && segment.startsWith(".")) {
    throw new InvalidBlobKeyError(key, "the first segment must not start with '.' (reserved)");
  }
  if (Buffer.byteLength(segment, "utf8") > MAX_SEGMENT_BYTES) {
    throw new InvalidBlobKeyError(key, `a segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
  }
}
