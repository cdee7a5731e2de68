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

/** Where the innermost function finds its call's context on the request object. */
const callContext = Symbol("rest call context");
type ContextCarrier = UnaryRequest & { [callContext]?: HandlerContext };

function createInvoker(
  service: DescService,
  method: DescMethodUnary,
  impl: UnaryImplFn,
  interceptors: readonly Interceptor[],
): UnaryInvoker {
  const innermost: AnyFn = async (req) => {
    const ctx = (req as ContextCarrier)[callContext]!;
    // The context as the implementation sees it, merged from the (possibly interceptor-modified) request.
    const output = await impl(req.message as Message, {
      service: req.service,
      method,
      protocolName: ctx.protocolName,
      requestMethod: req.requestMethod,
      url: req.url,
      get signal() {
        return req.signal;
      },
      timeoutMs: ctx.timeoutMs,
      requestHeader: req.header,
      responseHeader: ctx.responseHeader,
      get responseTrailer() {
        return ctx.responseTrailer;
      },
      values: req.contextValues,
    });
    const res: UnaryResponse = {
      stream: false,
      service,
      method,
      header: ctx.responseHeader,
      get trailer() {
        return ctx.responseTrailer;
      },
      message: create(method.output, output as never),
    };
    return res;
  };
  // The interceptors are stateless functions of `next`, so the chain is built once per method;
  // what is particular to a call travels on the request object.
  let chain = innermost;
  for (let i = interceptors.length - 1; i >= 0; i--) chain = interceptors[i]!(chain);

  return async (input, init) => {
    // The HandlerContext of connect-es `createHandlerContext`, built directly: one lazily created
    // signal instead of three AbortControllers per call (deadline, request, linked), and the
    // trailer (which REST never sends) only when asked for; REST calls carry no deadline.
    let trailer: Headers | undefined;
    const ctx: HandlerContext = {
      service,
      method,
      protocolName: "rest",
      requestMethod: init.requestMethod,
      url: init.url,
      get signal() {
        return init.signal();
      },
      timeoutMs: () => undefined,
      requestHeader: init.requestHeader,
      responseHeader: new Headers(),
      get responseTrailer() {
        return (trailer ??= new Headers());
      },
      values: init.contextValues,
    };
    const req: ContextCarrier = {
      stream: false,
      service,
      method,
      requestMethod: init.requestMethod,
      url: init.url,
      get signal() {
        return init.signal();
      },
      header: ctx.requestHeader,
      contextValues: ctx.values,
      message: input,
      [callContext]: ctx,
    };
    try {
      const res = await chain(req);
      return { ok: true, message: res.message as Message, header: res.header };
    } catch (err) {
      // Below the recovery interceptor everything is a ConnectError; guard anyway so no cause leaks.
      const error = err instanceof ConnectError ? err : new ConnectError("internal server error", Code.Internal);
      return { ok: false, error, header: ctx.responseHeader };
    }
  };
}
