import { Code, ConnectError, createConnectRouter, type ConnectRouter, type ContextValues, type Interceptor } from "@connectrpc/connect";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import type { Logger } from "../logger.js";
import type { NodeRequest, NodeResponse } from "./http-handler.js";

/** Options of {@link createConnectHandler}. */
export interface ConnectHandlerOptions {
  readonly routes: (router: ConnectRouter) => void;
  /** The interceptor chain, outermost first. */
  readonly interceptors: Interceptor[];
  /** Largest request message accepted, in bytes. */
  readonly readMaxBytes: number;
  /** Per-request context values (e.g. the peer address). */
  readonly contextValues: (req: NodeRequest) => ContextValues;
  readonly logger: Logger;
}

/**
 * Serves Connect, gRPC and gRPC-Web for the registered services. Returns a handler that answers
 * a request for a known procedure and returns true, or returns false for any other path.
 *
 * It is connect-node's adapter with two differences:
 * - A request body that is not valid protobuf binary, a compressed body that does not
 *   decompress (truncated gzip or brotli), or a gRPC message flagged compressed without a
 *   `grpc-encoding` is the caller's fault: connect-es reports it as `internal` ("parse binary:
 *   ...", "decompression failed", "received compressed envelope, ..."), connect-go as
 *   `invalid_argument` for the first. We answer `invalid_argument` (HTTP 400 on Connect,
 *   grpc-status 3 on gRPC), like the reference server does for malformed protobuf.
 * - Failures after the handler ran (the client went away mid-response) go to our logger at
 *   debug level instead of `console.error`.
 */
export function createConnectHandler(options: ConnectHandlerOptions): (req: NodeRequest, res: NodeResponse) => boolean {
  const router = createConnectRouter({
    interceptors: options.interceptors,
    readMaxBytes: options.readMaxBytes,
    jsonOptions: { ignoreUnknownFields: true },
    acceptCompression: [compressionGzip, compressionBrotli],
  });
  options.routes(router);
  const handlers = new Map(router.handlers.map((h) => [h.requestPath, h]));

  return (req, res) => {
    const path = req.url === undefined ? "" : req.url.split("?", 1)[0]!;
    const handler = handlers.get(path);
    if (handler === undefined) return false;
    const uReq = universalRequestFromNodeRequest(req, res, undefined, options.contextValues(req));
    handler(uReq)
      .then((uRes) => universalResponseToNodeResponse(rewriteBinaryParseError(uRes), res))
      .catch((reason: unknown) => {
        const err = ConnectError.from(reason);
        options.logger.debug({ procedure: path, code: Code[err.code], err: err.message }, "response not delivered");
      });
    return true;
  };
}

/** Starts of connect-es `internal` messages that are really the caller's fault (see above). */
const CLIENT_FAULTS = ["parse binary:", "decompression failed", "received compressed envelope"];
const GRPC_CLIENT_FAULTS = CLIENT_FAULTS.map(encodeURIComponent);

/** Maps connect-es's `internal` errors for malformed request bodies to `invalid_argument`. */
function rewriteBinaryParseError(uRes: UniversalServerResponse): UniversalServerResponse {
  // Connect unary errors: HTTP 500 with a small JSON body.
  if (uRes.status === 500 && uRes.body !== undefined) {
    const body = uRes.body;
    const out: UniversalServerResponse = { ...uRes };
    out.body = (async function* () {
      const chunks: Uint8Array[] = [];
      for await (const chunk of body) chunks.push(chunk);
      const bytes = Buffer.concat(chunks);
      try {
        const json = JSON.parse(bytes.toString("utf8")) as { code?: string; message?: string };
        const message = json.message;
        if (json.code === "internal" && message !== undefined && CLIENT_FAULTS.some((p) => message.startsWith(p))) {
          // The adapter writes the status line after the first chunk, so this still counts.
          out.status = 400;
          out.header?.delete("content-length");
          yield Buffer.from(JSON.stringify({ code: "invalid_argument", message: json.message }));
          return;
        }
      } catch {
        // not a JSON error body: pass it through untouched
      }
      yield bytes;
    })();
    return out;
  }
  // gRPC: the status is in the trailers (or, for a trailers-only answer, in the headers).
  const fix = (h: Headers | undefined) => {
    if (h === undefined || h.get("grpc-status") !== String(Code.Internal)) return;
    const message = h.get("grpc-message");
    if (message !== null && GRPC_CLIENT_FAULTS.some((p) => message.startsWith(p))) {
      h.set("grpc-status", String(Code.InvalidArgument));
    }
  };
  fix(uRes.header);
  if (uRes.trailer !== undefined && uRes.body !== undefined) {
    const body = uRes.body;
    const trailer = uRes.trailer;
    return {
      ...uRes,
      body: (async function* () {
        yield* body;
        fix(trailer);
      })(),
    };
  }
  return uRes;
}
