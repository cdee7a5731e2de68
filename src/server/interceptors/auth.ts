import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { methodAccess, type AccessModeReader } from "../../auth/access-policy.js";
import { identityKey, type IdentityResolver } from "../../auth/identity.js";
import { procedureOf } from "../request-context.js";

/**
 * The one auth gate (spec §1.3), shared by Connect, gRPC and REST. Resolves the caller from the
 * `Authorization` header and stores it in the context; an anonymous caller may only reach the
 * public methods, and the non-bootstrap ones only while the instance is in PUBLIC mode (read
 * fresh for every such call; bootstrap and protected methods cost no read).
 */
export function createAuthInterceptor(deps: {
  resolver: IdentityResolver;
  readAccessMode: AccessModeReader;
}): Interceptor {
  return (next) => async (req) => {
    const authorization = req.header.get("authorization");
    const identity = authorization === null ? undefined : await deps.resolver.resolve(authorization);
    if (identity !== undefined) {
      req.contextValues.set(identityKey, identity);
      return next(req);
    }
    const access = methodAccess(procedureOf(req.method));
    if (access === "protected") throw new ConnectError("authentication required", Code.Unauthenticated);
    if (access === "public") {
      let mode: string;
      try {
        mode = await deps.readAccessMode();
      } catch (cause) {
        throw new ConnectError("failed to resolve API access policy", Code.Internal, undefined, undefined, cause);
      }
      if (mode !== "PUBLIC") throw new ConnectError("authentication required", Code.Unauthenticated);
    }
    return next(req);
  };
}
