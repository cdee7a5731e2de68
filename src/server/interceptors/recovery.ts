import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "../../logger.js";

/**
 * Turns anything thrown below it that is not a deliberate `ConnectError` into `internal`
 * "internal server error". The cause is logged with its stack and never sent to the client.
 */
export function createRecoveryInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (err) {
      if (err instanceof ConnectError) {
        if (err.code === Code.Internal && err.cause !== undefined) {
          logger.error({ procedure: `/${req.service.typeName}/${req.method.name}`, err: err.cause }, "internal error");
        }
        throw err;
      }
      logger.error({ procedure: `/${req.service.typeName}/${req.method.name}`, err }, "unhandled error");
      throw new ConnectError("internal server error", Code.Internal);
    }
  };
}
