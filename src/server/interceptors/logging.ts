import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "../../logger.js";
import { procedureOf } from "../request-context.js";

/** Codes that mean the caller did something wrong: logged at info, not error (spec §1.5). */
const CLIENT_CODES: ReadonlySet<Code> = new Set([
  Code.Canceled,
  Code.InvalidArgument,
  Code.NotFound,
  Code.AlreadyExists,
  Code.PermissionDenied,
  Code.Unauthenticated,
  Code.ResourceExhausted,
  Code.FailedPrecondition,
  Code.Aborted,
  Code.OutOfRange,
  Code.Unimplemented,
]);

/** The lower-snake name of a code, as the Connect protocol spells it (`not_found`). */
export function codeName(code: Code): string {
  return Code[code].replace(/[A-Z]/g, (c, i: number) => (i === 0 ? "" : "_") + c.toLowerCase());
}

/**
 * Writes one log line per call with the procedure, the outcome code and the duration in
 * milliseconds. Client-class errors are logged at info, every other error at error.
 */
export function createLoggingInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const procedure = procedureOf(req.method);
    try {
      const res = await next(req);
      logger.info({ procedure, code: "ok", ms: elapsed(started) }, "call");
      return res;
    } catch (err) {
      const code = ConnectError.from(err).code;
      const line = { procedure, code: codeName(code), ms: elapsed(started) };
      if (CLIENT_CODES.has(code)) logger.info(line, "call");
      else logger.error(line, "call");
      throw err;
    }
  };
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}
