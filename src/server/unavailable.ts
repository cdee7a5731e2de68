import { Code, ConnectError } from "@connectrpc/connect";
import { BlobStoreUnavailableError } from "../blob/blob-store.js";
import { someInChain } from "../connection-errors.js";
import type { Logger } from "../logger.js";
import { isDatabaseUnavailable } from "../store/database-errors.js";
import type { NodeResponse } from "./http-handler.js";
import { writeError } from "./rest/rest-response.js";

/**
 * The `unavailable` error to answer for `err` when it says the database or the blob storage
 * cannot be reached (directly, or as the cause of an `internal` ConnectError); `undefined` for
 * every other error. The backend's error is kept as the cause, for logs only.
 */
export function asUnavailable(err: unknown): ConnectError | undefined {
  let inner = err;
  if (err instanceof ConnectError) {
    if (err.code === Code.Unavailable) return err;
    if (err.code !== Code.Internal && err.code !== Code.Unknown) return undefined;
    inner = err.cause;
  }
  if (inner === undefined) return undefined;
  // Storage first: its wrapped cause may be a bare connection failure, which reads as the database's.
  if (someInChain(inner, (e) => e instanceof BlobStoreUnavailableError)) {
    return new ConnectError("storage unavailable", Code.Unavailable, undefined, undefined, inner);
  }
  if (isDatabaseUnavailable(inner)) return new ConnectError("database unavailable", Code.Unavailable, undefined, undefined, inner);
  return undefined;
}

/** What a log line needs of a backend failure: its message and code, without a stack. */
export function failureSummary(err: unknown): { message: string; code?: string } {
  type Described = { message?: unknown; code?: unknown } | undefined;
  const outer = err instanceof ConnectError ? (err.cause ?? err) : err;
  const inner = (outer instanceof BlobStoreUnavailableError ? outer.cause : outer) as Described;
  const message = typeof inner?.message === "string" ? inner.message : String(inner);
  return typeof inner?.code === "string" ? { message, code: inner.code } : { message };
}

/**
 * Answers a request whose route handler failed outside the interceptor chain (live events, REST
 * routing, the web app): 503 in the REST error shape when a backend is unreachable, else 500; a
 * response already under way is cut off. Never throws.
 */
export function answerRouteFailure(res: NodeResponse, err: unknown, logger: Pick<Logger, "warn" | "error">): void {
  const unavailable = asUnavailable(err);
  if (unavailable !== undefined) logger.warn({ reason: failureSummary(unavailable) }, unavailable.rawMessage);
  else logger.error({ err }, "route failed");
  try {
    if (res.headersSent) res.destroy();
    else writeError(res, unavailable ?? new ConnectError("internal server error", Code.Internal));
  } catch {
    res.destroy();
  }
}
