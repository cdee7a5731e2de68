import { Code, ConnectError } from "@connectrpc/connect";
import type { NodeResponse } from "../http-handler.js";

/**
 * The one table from error codes to HTTP statuses on REST (spec §1.4): grpc-gateway's
 * `HTTPStatusFromCode`. It differs from the Connect protocol's mapping in places (gateway:
 * FailedPrecondition 400, Canceled 499, Unimplemented 501, ResourceExhausted 429, Unavailable
 * 503, DeadlineExceeded 504), so Connect's `codeToHttpStatus` is not used here.
 */
const HTTP_STATUS_BY_CODE: Readonly<Record<Code, number>> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 400,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

/** The HTTP status grpc-gateway answers for an error code. */
export function httpStatusForCode(code: Code): number {
  return HTTP_STATUS_BY_CODE[code] ?? 500;
}

/** Headers that must not be copied from service metadata onto the HTTP response. */
const SKIPPED_HEADERS = new Set([
  "content-type",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "proxy-connection",
  "set-cookie",
]);

/**
 * Copies headers a service or interceptor set (`ctx.responseHeader`, error metadata) onto the
 * response as real headers, `Set-Cookie` included (spec §1.7 recommendation, §10 Q1: not the
 * gateway's `Grpc-Metadata-` prefix). Multiple cookies stay separate header lines.
 */
export function copyResponseHeaders(from: Headers, res: NodeResponse): void {
  from.forEach((value, key) => {
    if (!SKIPPED_HEADERS.has(key)) res.setHeader(key, value);
  });
  const cookies = from.getSetCookie();
  if (cookies.length > 0) {
    const prev = res.getHeader("set-cookie");
    const existing = prev === undefined ? [] : Array.isArray(prev) ? prev : [String(prev)];
    res.setHeader("set-cookie", [...existing, ...cookies]);
  }
}

/** Writes a JSON body that is already serialized. */
export function writeJson(res: NodeResponse, status: number, body: string): void {
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json");
  res.setHeader("Content-Length", Buffer.byteLength(body));
  res.end(body);
}

/**
 * Writes an error as grpc-gateway does (spec §1.4): `{"code":<int>,"message":"...","details":[]}`
 * with `Content-Type: application/json`. The status comes from the code unless `status` is
 * given (routing errors: 404, 405, 413). Headers in the error's metadata are sent too.
 * `Unauthenticated` also gets `WWW-Authenticate: Bearer` (RFC 6750; the gateway puts the
 * error message there, which is not a valid challenge).
 */
export function writeError(res: NodeResponse, error: ConnectError, status?: number): void {
  copyResponseHeaders(error.metadata, res);
  if (error.code === Code.Unauthenticated) res.setHeader("WWW-Authenticate", "Bearer");
  writeJson(
    res,
    status ?? httpStatusForCode(error.code),
    JSON.stringify({ code: error.code, message: error.rawMessage, details: [] }),
  );
}
