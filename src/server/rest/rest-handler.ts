import { toJson, type JsonValue, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "../../logger.js";
import type { ServiceRegistration } from "../connect-routes.js";
import type { NodeRequest, NodeResponse, RouteHandler } from "../http-handler.js";
import { incomingHeaders } from "../headers.js";
import { callContextValues } from "../request-context.js";
import { readBody } from "./body-reader.js";
import { createUnaryInvokers, type CallInit } from "./invoke-unary.js";
import { createOpenApiDocument, type OpenApiOptions } from "./openapi.js";
import { buildRequest } from "./request-builder.js";
import { writeError, writeJson } from "./rest-response.js";
import { collectRoutes, createRouteTable, type RouteMatch, type RouteTable } from "./route-table.js";

/** Settings of {@link createRestHandler}. */
export interface RestHandlerOptions {
  /** The services served, the same registrations (and implementation objects) Connect serves. */
  readonly services: readonly ServiceRegistration[];
  /** The interceptor chain, outermost first: the same chain Connect uses. */
  readonly interceptors: readonly Interceptor[];
  /** Largest request body read, in bytes; larger bodies get 413 (spec §1.1). */
  readonly maxBodyBytes: number;
  /** Path prefix this handler owns: unmatched paths below it get the gateway's 404. Default `/api/v1/`. */
  readonly prefix?: string;
  /**
   * When given, the OpenAPI document generated from the same bindings is served (public) at
   * `<prefix>openapi.json`.
   */
  readonly openApi?: Omit<OpenApiOptions, "documentPath">;
  /**
   * Logs requests answered before they reach the interceptor chain (unknown route, wrong
   * method, unreadable body), one info line each; calls that reach the chain are logged there.
   */
  readonly logger?: Logger;
}

/** The REST transcoder as a route: answers (and returns true) for every path under the prefix. */
export interface RestHandler extends RouteHandler {
  readonly table: RouteTable;
  /** The OpenAPI document, when served (generated on first use). */
  openApiDocument(): Readonly<Record<string, unknown>> | undefined;
}

const FORM_CONTENT_TYPE = "application/x-www-form-urlencoded";

/**
 * Creates the REST (grpc-gateway compatible) handler of spec §1.2 from the `google.api.http`
 * bindings of `services`. A matched request is turned into the request message (path, query,
 * body; parsed once), run through the interceptor chain into the service implementation, and
 * answered with the response's proto3 JSON (`alwaysEmitImplicit`: defaults and empty lists are
 * written, unset messages and `optional`s omitted, int64 as strings, enums by name).
 *
 * Routing answers of the gateway: no binding under the prefix -> 404 `{"code":5,"message":"Not
 * Found"}`; a path bound only for other methods -> 405 `{"code":12,"message":"Method Not
 * Allowed"}` with an `Allow` header (grpc-gateway's routing error handler also answers 405 with
 * code 12, UNIMPLEMENTED); a POST with a form body to a path bound only for GET is served as that
 * GET with the form fields as query parameters ("form POST fallback").
 */
export function createRestHandler(options: RestHandlerOptions): RestHandler {
  const prefix = options.prefix ?? "/api/v1/";
  const routes = collectRoutes(options.services.map((s) => s.service));
  const table = createRouteTable(routes);
  const invokers = createUnaryInvokers(options.services, options.interceptors);
  const documentPath = `${prefix}openapi.json`;
  // Generated on first request, not at start: it walks every binding, and few clients ask for it.
  const openApiOptions = options.openApi;
  let openApi: Readonly<Record<string, unknown>> | undefined;
  let openApiBody: string | undefined;
  const openApiDocument = (): Readonly<Record<string, unknown>> | undefined =>
    openApiOptions === undefined ? undefined : (openApi ??= createOpenApiDocument(routes, { ...openApiOptions, documentPath }));
  const logger = options.logger;
  const maxBodyBytes = options.maxBodyBytes;
  const prefixBare = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  /** The abort reason once a call is over (a shared value: creating an error per call costs a stack trace). */
  const callOver = new ConnectError("the call is over", Code.Canceled);

  const reject = (req: NodeRequest, res: NodeResponse, path: string, error: ConnectError, status?: number) => {
    writeError(res, error, status);
    logger?.info({ method: req.method, path, status: res.statusCode, code: error.code }, "rest request rejected");
  };

  const handler = async (req: NodeRequest, res: NodeResponse): Promise<boolean> => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    if (!path.startsWith(prefix) && path !== prefixBare) return false;
    const httpMethod = req.method ?? "GET";
    try {
      if (openApiOptions !== undefined && path === documentPath) {
        if (httpMethod !== "GET" && httpMethod !== "HEAD") {
          res.setHeader("Allow", "GET, HEAD");
          reject(req, res, path, new ConnectError("Method Not Allowed", Code.Unimplemented), 405);
          return true;
        }
        res.setHeader("Cache-Control", "no-cache");
        if (httpMethod === "HEAD") {
          res.statusCode = 200;
          res.setHeader("Content-Type", "application/json");
          res.end();
        } else writeJson(res, 200, (openApiBody ??= JSON.stringify(openApiDocument())));
        return true;
      }

      let match: RouteMatch | undefined;
      let form = false;
      const found = table.lookup(httpMethod, path);
      if (found.kind === "match") match = found.match;
      else if (found.kind === "bad-path") {
        reject(req, res, path, new ConnectError("malformed percent-encoding in path", Code.InvalidArgument));
        return true;
      } else if (found.kind === "method-not-allowed") {
        if (httpMethod === "POST" && isForm(req) && found.allowed.includes("GET")) {
          match = table.match("GET", path);
          form = true;
        }
        if (match === undefined) {
          res.setHeader("Allow", found.allowed.join(", "));
          reject(req, res, path, new ConnectError("Method Not Allowed", Code.Unimplemented), 405);
          return true;
        }
      } else {
        reject(req, res, path, new ConnectError("Not Found", Code.NotFound), 404);
        return true;
      }

      const route = match.route;
      let params: Iterable<[string, string]> = q === -1 ? [] : new URLSearchParams(url.slice(q + 1));
      let body: JsonValue | undefined;
      let bytes: Buffer | undefined;
      try {
        if (form || route.body !== "") bytes = await readBody(req, maxBodyBytes);
      } catch (err) {
        if (err instanceof ConnectError && err.code === Code.ResourceExhausted) {
          // Stop the client from sending the rest: close the HTTP/1.1 connection after answering.
          if (req.httpVersionMajor === 1) res.setHeader("Connection", "close");
          reject(req, res, path, err, 413);
          return true;
        }
        throw err;
      }

      let input: Message;
      try {
        if (form) params = [...new URLSearchParams(bytes!.toString("utf8")), ...params];
        else if (bytes !== undefined) body = parseJsonBody(bytes);
        input = buildRequest({ match, params, body });
      } catch (err) {
        if (err instanceof ConnectError) {
          reject(req, res, path, err);
          return true;
        }
        throw err;
      }

      let abort: AbortController | undefined;
      const onClose = () => abort!.abort(new ConnectError("client closed the connection", Code.Canceled));
      const init: CallInit = {
        requestMethod: httpMethod,
        url: requestUrl(req, url),
        requestHeader: incomingHeaders(req.headers),
        contextValues: callContextValues(req.socket?.remoteAddress),
        signal: () => {
          if (abort === undefined) {
            abort = new AbortController();
            if ((res as { destroyed?: boolean }).destroyed === true) onClose();
            else res.once("close", onClose);
          }
          return abort.signal;
        },
      };
      const result = await invokers.get(route.method)!(input, init);
      if (abort !== undefined) {
        res.off("close", onClose);
        if (!abort.signal.aborted) abort.abort(callOver);
      }
      if (res.writableEnded || res.destroyed) return true;
      if (!result.ok) {
        writeError(res, result.error, undefined, result.header);
        return true;
      }
      const out = toJson(route.method.output, result.message, { alwaysEmitImplicit: true });
      const payload = route.responseBody === undefined ? out : ((out as Record<string, JsonValue>)[route.responseBody.jsonName] ?? null);
      writeJson(res, 200, JSON.stringify(payload), result.header);
      return true;
    } catch (err) {
      if (!res.headersSent && !res.writableEnded) {
        const error = err instanceof ConnectError ? err : new ConnectError("internal server error", Code.Internal);
        if (!(err instanceof ConnectError)) logger?.error({ err, method: httpMethod, path }, "rest handler failed");
        reject(req, res, path, error);
      }
      return true;
    }
  };
  return Object.assign(handler, { table, openApiDocument });
}

function isForm(req: NodeRequest): boolean {
  const type = req.headers["content-type"];
  return typeof type === "string" && type.split(";")[0]!.trim().toLowerCase() === FORM_CONTENT_TYPE;
}

/** Parses a JSON body; an empty body is no body (the gateway treats EOF as an empty message). */
function parseJsonBody(bytes: Buffer): JsonValue | undefined {
  if (bytes.length === 0) return undefined;
  const text = bytes.toString("utf8");
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new ConnectError(`malformed JSON body: ${(err as Error).message}`, Code.InvalidArgument);
  }
}

function requestUrl(req: NodeRequest, url: string): string {
  const host = req.headers[":authority"] ?? req.headers.host ?? "localhost";
  const scheme = req.headers[":scheme"] ?? "http";
  return `${String(scheme)}://${String(host)}${url}`;
}
