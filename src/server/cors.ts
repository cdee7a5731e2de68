import type { NodeRequest, NodeResponse } from "./http-handler.js";

type Req = NodeRequest;
type Res = NodeResponse;

const ALLOWED_METHODS = "GET, HEAD, PUT, PATCH, POST, DELETE";
/** Response headers a cross-origin browser client needs to read (Connect, gRPC-Web, ranges). */
const EXPOSED_HEADERS = [
  "Grpc-Status",
  "Grpc-Message",
  "Grpc-Status-Details-Bin",
  "Connect-Protocol-Version",
  "Content-Disposition",
  "Content-Range",
  "Accept-Ranges",
  "ETag",
  "Retry-After",
  "WWW-Authenticate",
].join(", ");

/**
 * CORS for every route (spec §1.8). Any origin but the literal `null` is reflected; credentials
 * are allowed only for trusted origins: the origin's host equals the request's `Host`, or the
 * origin matches the configured instance URL's scheme and host. Returns true when the request
 * was a preflight and has been answered.
 */
export function createCors(instanceUrl: string | undefined) {
  let trusted: { protocol: string; host: string } | undefined;
  if (instanceUrl !== undefined) {
    const u = new URL(instanceUrl);
    trusted = { protocol: u.protocol, host: u.host };
  }
  return function applyCors(req: Req, res: Res): boolean {
    const origin = req.headers.origin;
    if (origin === undefined || origin === "null") return false;
    res.setHeader("Access-Control-Allow-Origin", origin);
    res.setHeader("Vary", "Origin");
    if (isTrusted(origin, req.headers[":authority"] ?? req.headers.host, trusted)) {
      res.setHeader("Access-Control-Allow-Credentials", "true");
    }
    if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
      res.setHeader("Access-Control-Allow-Methods", ALLOWED_METHODS);
      const requested = req.headers["access-control-request-headers"];
      if (requested !== undefined) res.setHeader("Access-Control-Allow-Headers", requested);
      res.setHeader("Access-Control-Max-Age", "7200");
      res.statusCode = 204;
      res.end();
      return true;
    }
    res.setHeader("Access-Control-Expose-Headers", EXPOSED_HEADERS);
    return false;
  };
}

function isTrusted(
  origin: string,
  host: string | string[] | undefined,
  instance: { protocol: string; host: string } | undefined,
): boolean {
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (typeof host === "string" && parsed.host.toLowerCase() === host.toLowerCase()) return true;
  return instance !== undefined && parsed.protocol === instance.protocol && parsed.host === instance.host;
}
