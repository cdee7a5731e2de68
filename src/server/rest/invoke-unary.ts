import { create, type DescMethod, type DescMethodUnary, type DescService, type Message } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createServiceImplSpec,
  type ContextValues,
  type HandlerContext,
  type Interceptor,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import type { ServiceRegistration } from "../connect-routes.js";
import { ResponseHeaders } from "../headers.js";

/** The request-side facts of one call, taken from the HTTP request. */
export interface CallInit {
  /** HTTP method of the request (`GET`, `PATCH`, ...). */
  readonly requestMethod: string;
  readonly url: string;
  /** Request headers, as given to services in `ctx.requestHeader` (Cookie included). */
  readonly requestHeader: Headers;
  readonly contextValues: ContextValues;
  /**
   * The call's abort signal (aborts when the client goes away, and once the call is over),
   * created on first use: most calls never look at it, and an AbortController per request is
   * a measurable part of a small call's cost.
   */
  readonly signal: () => AbortSignal;
}

/** The outcome of a call: response headers are kept on both paths (Set-Cookie on errors too). */
export type CallResult =
  | { readonly ok: true; readonly message: Message; readonly header: Headers }
  | { readonly ok: false; readonly error: ConnectError; readonly header: Headers };

/** Calls one unary method of a registered service. */
export type UnaryInvoker = (input: Message, init: CallInit) => Promise<CallResult>;

/**
 * Builds invokers for every unary method of `services` that call the implementation directly
 * through `interceptors` (outermost first), the same chain and the same implementation objects
 * the Connect router uses, so REST and Connect share one auth gate, one log line per call and
 * one recovery path. This mirrors connect-es `invokeUnaryImplementation`: a HandlerContext per
 * call, interceptors composed around a function that runs the implementation with the context
 * merged from the (possibly interceptor-modified) request, the output normalized with `create`.
 * The caller aborts the signal it hands out (if it was ever created) once the call is over.
 * Unimplemented methods answer `unimplemented`, as `createServiceImplSpec` makes them.
 */
export function createUnaryInvokers(
  services: readonly ServiceRegistration[],
  interceptors: readonly Interceptor[],
): Map<DescMethod, UnaryInvoker> {
  const invokers = new Map<DescMethod, UnaryInvoker>();
  for (const { service, impl } of services) {
    const spec = createServiceImplSpec(service, impl as never);
    for (const method of service.methods) {
      const m = spec.methods[method.localName];
      if (m === undefined || m.kind !== "unary") continue;
      invokers.set(method, createInvoker(service, method as DescMethodUnary, m.impl as UnaryImplFn, interceptors));
    }
  }
  return invokers;
}

type UnaryImplFn = (input: Message, ctx: HandlerContext) => Promise<unknown> | unknown;
type AnyFn = Parameters<Interceptor>[0];

// The per-call objects below are classes, not object literals: a literal with getters makes V8
// allocate accessor pairs (and a fresh hidden class) on every call, which is both slower and
// keeps short-lived garbage alive past the young generation.

/** What both handler contexts of a REST call hold; REST calls carry no deadline. */
abstract class RestContext implements HandlerContext {
  readonly protocolName = "rest";

  constructor(
    readonly service: DescService,
    readonly method: DescMethodUnary,
    readonly requestMethod: string,
    readonly url: string,
    readonly requestHeader: Headers,
    readonly values: ContextValues,
    readonly responseHeader: Headers,
  ) {}

  abstract get signal(): AbortSignal;
  abstract get responseTrailer(): Headers;

  timeoutMs(): undefined {
    return undefined;
  }
}

/**
 * The HandlerContext of connect-es `createHandlerContext`, built directly: one lazily created
 * signal instead of three AbortControllers per call (deadline, request, linked), and the
 * trailer (which REST never sends) only when asked for.
 */
class RestHandlerContext extends RestContext {
  #trailer: Headers | undefined;
  readonly #init: CallInit;

  constructor(service: DescService, method: DescMethodUnary, init: CallInit) {
    super(service, method, init.requestMethod, init.url, init.requestHeader, init.contextValues, new ResponseHeaders());
    this.#init = init;
  }

  get signal(): AbortSignal {
    return this.#init.signal();
  }

  get responseTrailer(): Headers {
    return (this.#trailer ??= new Headers());
  }
}

/** The request the interceptors see; the innermost function finds the call's context on it. */
class RestUnaryRequest implements UnaryRequest {
  readonly stream = false;
  readonly service: DescService;
  readonly method: DescMethodUnary;
  readonly requestMethod: string;
  readonly url: string;
  readonly header: Headers;
  readonly contextValues: ContextValues;

  constructor(
    readonly ctx: RestHandlerContext,
    readonly message: Message,
  ) {
    this.service = ctx.service;
    this.method = ctx.method;
    this.requestMethod = ctx.requestMethod;
    this.url = ctx.url;
    this.header = ctx.requestHeader;
    this.contextValues = ctx.values;
  }

  get signal(): AbortSignal {
    return this.ctx.signal;
  }
}

/**
 * The context the implementation sees: the call's context with what the interceptors may have
 * replaced on the request (message aside: headers, URL, context values).
 */
class ImplContext extends RestContext {
  constructor(
    readonly req: UnaryRequest,
    readonly ctx: RestHandlerContext,
  ) {
    super(req.service, ctx.method, req.requestMethod, req.url, req.header, req.contextValues, ctx.responseHeader);
  }

  get signal(): AbortSignal {
    return this.req.signal;
  }

  get responseTrailer(): Headers {
    return this.ctx.responseTrailer;
  }
}

class RestUnaryResponse implements UnaryResponse {
  readonly stream = false;
  readonly service: DescService;
  readonly method: DescMethodUnary;
  readonly header: Headers;

  constructor(
    readonly ctx: RestHandlerContext,
    readonly message: Message,
  ) {
    this.service = ctx.service;
    this.method = ctx.method;
    this.header = ctx.responseHeader;
  }

  get trailer(): Headers {
    return this.ctx.responseTrailer;
  }
}

function createInvoker(
  service: DescService,
  method: DescMethodUnary,
  impl: UnaryImplFn,
  interceptors: readonly Interceptor[],
): UnaryInvoker {
  const innermost: AnyFn = async (req) => {
    const ctx = (req as RestUnaryRequest).ctx;
    const output = await impl(req.message as Message, new ImplContext(req as UnaryRequest, ctx));
    return new RestUnaryResponse(ctx, create(method.output, output as never));
  };
  // The interceptors are stateless functions of `next`, so the chain is built once per method;
  // what is particular to a call travels on the request object.
  let chain = innermost;
  for (let i = interceptors.length - 1; i >= 0; i--) chain = interceptors[i]!(chain);

  return async (input, init) => {
    const ctx = new RestHandlerContext(service, method, init);
    try {
      const res = await chain(new RestUnaryRequest(ctx, input));
      return { ok: true, message: res.message as Message, header: res.header };
    } catch (err) {
      // Below the recovery interceptor everything is a ConnectError; guard anyway so no cause leaks.
      const error = err instanceof ConnectError ? err : new ConnectError("internal server error", Code.Internal);
      return { ok: false, error, header: ctx.responseHeader };
    }
  };
}
