import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "../../logger.js";
import { dataExceptionMessage } from "../../store/database-errors.js";
import { procedureOf } from "../request-context.js";
import { asUnavailable, failureSummary } from "../unavailable.js";

/**
 * Turns anything thrown below it that is not a deliberate `ConnectError` into `internal`
 * "internal server error", except that an unreachable database or blob storage becomes
 * `unavailable` (REST 503) so clients and load balancers retry instead of giving up, and a value
 * the database rejects (a data exception: NUL in text, an integer out of range) becomes
 * `invalid_argument`. The cause of an internal error is logged and never sent to the client.
 */
export function createRecoveryInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (err) {
      const procedure = procedureOf(req.method);
      const unavailable = asUnavailable(err);
      if (unavailable !== undefined) {
        if (unavailable !== err) logger.warn({ procedure, reason: failureSummary(unavailable) }, unavailable.rawMessage);
        throw unavailable;
      }
      const dataError = err instanceof ConnectError && err.code !== Code.Internal ? undefined : dataExceptionMessage(err);
      if (dataError !== undefined) throw new ConnectError(`invalid value: ${dataError}`, Code.InvalidArgument);
      if (err instanceof ConnectError) {
        if (err.code === Code.Internal && err.cause !== undefined) {
          logger.error({ procedure, err: err.cause }, "internal error");
        }
        throw err;
      }
      logger.error({ procedure, err }, "unhandled error");
      throw new ConnectError("internal server error", Code.Internal);
    }
  };
}
