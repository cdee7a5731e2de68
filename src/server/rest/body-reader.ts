import { Code, ConnectError } from "@connectrpc/connect";
import type { NodeRequest } from "../http-handler.js";

/**
 * The error for a body larger than the cap: `resource_exhausted`, answered 413. (A subclass of
 * ConnectError cannot be told apart with `instanceof`: ConnectError's `Symbol.hasInstance`
 * accepts any ConnectError. Callers check the code; reading fails with no other.)
 */
function tooLarge(limit: number): ConnectError {
  return new ConnectError(`request body larger than ${limit} bytes`, Code.ResourceExhausted);
}

/**
 * Reads a request body of at most `limit` bytes. A `Content-Length` above the cap fails at once,
 * without reading; otherwise bytes are counted as they arrive and reading stops (the stream is
 * paused, nothing more is buffered) as soon as the count passes the cap. A client that goes
 * away mid-body gives `canceled`; a body over the cap `resource_exhausted`.
 */
export function readBody(req: NodeRequest, limit: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(limit));
  if (declared === "0") return Promise.resolve(Buffer.alloc(0));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new ConnectError("failed to read request body", Code.Canceled, undefined, undefined, err));
    };
    const onClose = () => {
      cleanup();
      reject(new ConnectError("request body incomplete: client closed the connection", Code.Canceled));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}
