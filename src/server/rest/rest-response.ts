import { Code, ConnectError } from "@connectrpc/connect";
import type { OutgoingHttpHeaders } from "node:http";
import { ResponseHeaders } from "../headers.js";
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
]);

/**
 * Adds headers a service or interceptor set (`ctx.responseHeader`, error metadata) to `out` as
 * real response headers, `Set-Cookie` included (spec §1.7 recommendation, §10 Q1: not the
 * gateway's `Grpc-Metadata-` prefix). Multiple cookies stay separate header lines.
 */
function addHeaders(from: Headers, out: OutgoingHttpHeaders): void {
  const add = (name: string, value: string) => {
    if (name === "set-cookie") {
      const cookies = out["set-cookie"];
      if (cookies === undefined) out["set-cookie"] = [value];
      else (cookies as string[]).push(value);
    } else if (!SKIPPED_HEADERS.has(name)) out[name] = value;
  };
  if (from instanceof ResponseHeaders) return from.each(add);
  from.forEach((value, name) => {
    if (name !== "set-cookie") add(name, value);
  });
  for (const cookie of from.getSetCookie()) add("set-cookie", cookie);
}

/**
 * Writes a JSON body that is already serialized, with the headers of `sources` (the call's
 * response headers, an error's metadata) and any set on `res` before.
 */
export function writeJson(res: NodeResponse, status: number, body: string, ...sources: Headers[]): void {
  const out: OutgoingHttpHeaders = {};
  for (const from of sources) addHeaders(from, out);
  send(res, status, body, out);
}

/**
 * Writes an error as grpc-gateway does (spec §1.4): `{"code":<int>,"message":"...","details":[]}`
 * with `Content-Type: application/json`. The status comes from the code unless `status` is
 * given (routing errors: 404, 405, 413). The headers of `callHeaders` (what the service set
 * before it failed, such as a cleared cookie) and of the error's metadata are sent too.
 * `Unauthenticated` also gets `WWW-Authenticate: Bearer` (RFC 6750; the gateway puts the
 * error message there, which is not a valid challenge).
 */
export function writeError(res: NodeResponse, error: ConnectError, status?: number, callHeaders?: Headers): void {
  const out: OutgoingHttpHeaders = {};
  if (callHeaders !== undefined) addHeaders(callHeaders, out);
  addHeaders(error.metadata, out);
  if (error.code === Code.Unauthenticated) out["www-authenticate"] = "Bearer";
  const body = JSON.stringify({ code: error.code, message: error.rawMessage, details: [] });
  send(res, status ?? httpStatusForCode(error.code), body, out);
}

/**
 * Sends the response with every header in one `writeHead` (cheaper than a `setHeader` each);
 * headers set on `res` before are kept, and cookies set there are sent beside those in `out`.
 */
function send(res: NodeResponse, status: number, body: string, out: OutgoingHttpHeaders): void {
  const cookies = out["set-cookie"] as string[] | undefined;
  if (cookies !== undefined && res.hasHeader("set-cookie")) {
    const prev = res.getHeader("set-cookie");
    out["set-cookie"] = [...(Array.isArray(prev) ? prev : [String(prev)]), ...cookies];
  }
  out["content-type"] = "application/json";
  out["content-length"] = Buffer.byteLength(body);
  res.writeHead(status, out);
  res.end(body);
}
