/**
 * HTTP byte ranges (RFC 9110 §14) and validators (§13) for the file server: only what one file
 * response needs.
 */

/** What a `Range` header asks of a representation of `size` bytes. */
export type RangeRequest =
  /** No usable range: serve the whole representation with 200. */
  | { readonly kind: "full" }
  /** One satisfiable range (inclusive): serve 206. */
  | { readonly kind: "partial"; readonly start: number; readonly end: number }
  /** Syntactically valid but outside the representation: 416 with `Content-Range: bytes *\/size`. */
  | { readonly kind: "unsatisfiable" };

const MAX_DIGITS = 19;

/**
 * Interprets a `Range` header against a representation of `size` bytes:
 * - `bytes=a-b` (b clamped to the last byte), `bytes=a-` (open-ended), `bytes=-n` (the last n
 *   bytes; more than `size` means all of it);
 * - a first byte at or past the end, `bytes=-0`, or any range of an empty representation:
 *   unsatisfiable;
 * - several ranges (`bytes=0-1,5-6`): served as the whole representation with 200, since a
 *   multipart/byteranges body is rarely wanted and the RFC lets a server ignore Range;
 * - another unit, or malformed syntax (`bytes=5-2`, `bytes=x`): ignored (200), as the RFC requires.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: "full" };
  const match = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (match === null) return { kind: "full" };
  const specs = match[1]!.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (specs.length !== 1) return { kind: "full" };
  const spec = /^(\d*)\s*-\s*(\d*)$/.exec(specs[0]!);
  if (spec === null) return { kind: "full" };
  const [, first, last] = spec as unknown as [string, string, string];
  if (first === "" && last === "") return { kind: "full" };
  // A first byte with more digits than any real size is past the end. (Huge last bytes and
  // suffixes parse to huge numbers, which clamp correctly.)
  if (first.length > MAX_DIGITS) return { kind: "unsatisfiable" };
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "partial", start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? Infinity : Number(last);
  if (end < start) return { kind: "full" };
  if (start >= size) return { kind: "unsatisfiable" };
  return { kind: "partial", start, end: Math.min(end, size - 1) };
}

/** `"etag"` as sent in an `ETag` header (an already quoted or weak value is kept). */
export function quoteEtag(etag: string): string {
  if (/^(W\/)?".*"$/.test(etag)) return etag;
  return `"${etag.replace(/"/g, "")}"`;
}

/** The entity tags of an `If-None-Match` or `If-Match` header; `["*"]` for the wildcard. */
function entityTags(header: string): string[] {
  return header
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "");
}

/** Weak comparison (RFC 9110 §8.8.3.2): equal opaque tags, `W/` ignored. */
function weakMatch(a: string, b: string): boolean {
  return a.replace(/^W\//, "") === b.replace(/^W\//, "");
}

/**
 * Whether a GET/HEAD may be answered 304 Not Modified (RFC 9110 §13.2.2): `If-None-Match` decides
 * when present (weak comparison, `*` matches); otherwise `If-Modified-Since`, at one-second
 * precision (HTTP dates have no more).
 */
export function isNotModified(
  headers: { ifNoneMatch?: string | undefined; ifModifiedSince?: string | undefined },
  etag: string,
  lastModified: Date,
): boolean {
  if (headers.ifNoneMatch !== undefined) {
    const tags = entityTags(headers.ifNoneMatch);
    return tags.some((t) => t === "*" || weakMatch(t, etag));
  }
  if (headers.ifModifiedSince !== undefined) {
    const since = Date.parse(headers.ifModifiedSince);
    if (Number.isNaN(since)) return false;
    return Math.floor(lastModified.getTime() / 1000) <= Math.floor(since / 1000);
  }
  return false;
}

/**
 * Whether a `Range` may be honoured given `If-Range` (RFC 9110 §13.1.5): absent, a strong match
 * of the entity tag, or exactly the last-modified date; anything else means "send it all".
 */
export function ifRangeAllows(ifRange: string | undefined, etag: string, lastModified: Date): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith("W/")) return !value.startsWith("W/") && !etag.startsWith("W/") && value === etag;
  const date = Date.parse(value);
  return !Number.isNaN(date) && Math.floor(date / 1000) === Math.floor(lastModified.getTime() / 1000);
}
