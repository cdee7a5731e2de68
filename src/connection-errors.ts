/**
 * Socket-level failures that mean "the other side cannot be reached right now" (refused, reset,
 * timed out, unroutable, name not resolvable), as opposed to a bad request or a bug.
 */
const CONNECTION_FAILURE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/**
 * Whether `err`, or any error it wraps (`cause`, or the `errors` of an AggregateError, which Node
 * raises when every address of a host refused), is a connection failure. Duck-typed on `code`:
 * Node's own errors may come from another realm (jest's VM context), where `instanceof` fails.
 */
export function isConnectionFailure(err: unknown): boolean {
  return someInChain(err, (e) => {
    const code = (e as { code?: unknown }).code;
    return typeof code === "string" && CONNECTION_FAILURE_CODES.has(code);
  });
}

/** Whether `test` holds for `err` or an error it wraps, looking a few levels deep. */
export function someInChain(err: unknown, test: (e: object) => boolean, depth = 0): boolean {
  if (typeof err !== "object" || err === null || depth > 5) return false;
  if (test(err)) return true;
  const { cause, errors } = err as { cause?: unknown; errors?: unknown };
  if (someInChain(cause, test, depth + 1)) return true;
  return Array.isArray(errors) && errors.some((e) => someInChain(e, test, depth + 1));
}
