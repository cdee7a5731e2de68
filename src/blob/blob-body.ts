import { type Readable, addAbortSignal } from "node:stream";
import { BlobSizeMismatchError } from "./blob-store.js";

/** Options for {@link readBlobBody}. */
export interface ReadBlobBodyOptions {
  /** When given, yielding any other number of bytes fails with {@link BlobSizeMismatchError}. */
  size?: number;
  /** Aborting destroys `body` (when it is a stream) and fails the iteration with an AbortError. */
  signal?: AbortSignal;
}

/**
 * The chunks of a `put` body as Buffers, failing (rather than ending early) when the body errors,
 * the signal aborts, or the byte count disagrees with `size`. Both stores write what this yields,
 * so they share one definition of a complete body. Stopping the iteration early destroys `body`.
 */
export async function* readBlobBody(
  body: Readable | Uint8Array,
  opts: ReadBlobBodyOptions = {},
): AsyncGenerator<Buffer, void, undefined> {
  const { size, signal } = opts;
  if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
    throw new RangeError(`blob size must be a non-negative integer, got ${size}`);
  }
  signal?.throwIfAborted();
  let seen = 0;
  const check = (): void => {
    if (size !== undefined && seen > size) throw new BlobSizeMismatchError(size, seen);
  };
  if (body instanceof Uint8Array) {
    const chunk = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    seen = chunk.length;
    check();
    yield chunk;
  } else {
    if (signal) addAbortSignal(signal, body);
    for await (const chunk of body as AsyncIterable<unknown>) {
      const buf = toBuffer(chunk);
      seen += buf.length;
      check();
      yield buf;
      signal?.throwIfAborted();
    }
  }
  signal?.throwIfAborted();
  if (size !== undefined && seen !== size) throw new BlobSizeMismatchError(size, seen);
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === "string") return Buffer.from(chunk, "utf8");
  throw new TypeError("blob body must yield bytes (Buffer, Uint8Array or string chunks)");
}
