import { Code } from "@connectrpc/connect";
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { codeName } from "./interceptors/logging.js";

type NodeHandlerFn = NonNullable<ConnectNodeAdapterOptions["fallback"]>;
/** A request on HTTP/1.1 or HTTP/2, as connect-node passes it. */
export type NodeRequest = Parameters<NodeHandlerFn>[0];
/** A response on HTTP/1.1 or HTTP/2, as connect-node passes it. */
export type NodeResponse = Parameters<NodeHandlerFn>[1];
export type NodeHandler = (req: NodeRequest, res: NodeResponse) => void;
/** A route handler that answers the request, or returns false to let the next one try. */
export type RouteHandler = (req: NodeRequest, res: NodeResponse) => Promise<boolean>;

/**
 * Answers `/healthz`: 200 `Service ready.` while the database answers, 503 otherwise, so a load
 * balancer stops sending traffic to a replica that lost its database.
 */
export function createHealthRoute(ping: () => Promise<boolean>): RouteHandler {
  return async (req, res) => {
    if (req.url !== "/healthz" || (req.method !== "GET" && req.method !== "HEAD")) return false;
    const ok = await ping();
    res.statusCode = ok ? 200 : 503;
    res.setHeader("Content-Type", "text/plain; charset=utf-8");
    res.setHeader("Cache-Control", "no-store");
    if (req.method === "HEAD") res.end();
    else res.end(ok ? "Service ready." : "Service unavailable.");
    return true;
  };
}

/**
 * The last route: a request nothing else served. An RPC path (`/pkg.Service/Method`) gets the
 * error its protocol expects (gRPC status 12 in trailers, or a Connect error body); any other
 * path a plain 404.
 */
export function answerNotFound(req: NodeRequest, res: NodeResponse): void {
  const path = (req.url ?? "/").split("?")[0]!;
  const contentType = String(req.headers["content-type"] ?? "");
  if (/^\/[\w.]+\.[\w]+\/\w+$/.test(path) && req.method === "POST") {
    const message = `unknown procedure ${path}`;
    if (contentType.startsWith("application/grpc")) {
      // gRPC and gRPC-Web: HTTP 200 with the status in trailers-only form.
      res.statusCode = 200;
      res.setHeader("Content-Type", contentType.startsWith("application/grpc-web") ? "application/grpc-web+proto" : "application/grpc");
      res.setHeader("Grpc-Status", String(Code.Unimplemented));
      res.setHeader("Grpc-Message", encodeURIComponent(message));
      res.end();
      return;
    }
    res.statusCode = 404;
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify({ code: codeName(Code.Unimplemented), message }));
    return;
  }
  res.statusCode = 404;
  res.setHeader("Content-Type", "text/plain; charset=utf-8");
  res.end("Not Found");
}
