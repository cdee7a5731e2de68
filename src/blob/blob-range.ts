import { type BlobRange, InvalidBlobRangeError } from "./blob-store.js";

/**
 * Throws {@link InvalidBlobRangeError} unless `range` is well formed: integer offsets,
 * `0 <= start`, and `start <= end` when `end` is given. Whether `start` lies inside the blob is
 * for the backend to check, since only it knows the size.
 */
export function assertValidBlobRange(range: BlobRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new InvalidBlobRangeError(range, "start must be a non-negative integer");
  }
  if (end !== undefined) {
    if (!Number.isSafeInteger(end)) throw new InvalidBlobRangeError(range, "end must be an integer");
    if (end < start) throw new InvalidBlobRangeError(range, "end is before start");
  }
}
