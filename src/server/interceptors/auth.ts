import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { anonymousMayCall, type AccessModeReader } from "../../auth/access-policy.js";
import { identityKey, type IdentityResolver } from "../../auth/identity.js";

/**
 * The one auth gate (spec §1.3), shared by Connect, gRPC and REST. Resolves the caller from the
 * `Authorization` header and stores it in the context; an anonymous caller may only reach the
 * public methods, and the non-bootstrap ones only while the instance is in PUBLIC mode.
 */
export function createAuthInterceptor(deps: {
  resolver: IdentityResolver;
  readAccessMode: AccessModeReader;
}): Interceptor {
  return (next) => async (req) => {
    const identity = await deps.resolver.resolve(req.header.get("authorization"));
    if (identity !== undefined) {
      req.contextValues.set(identityKey, identity);
      return next(req);
    }
    let allowed: boolean;
    try {
      allowed = await anonymousMayCall(`/${req.service.typeName}/${req.method.name}`, deps.readAccessMode);
    } catch (cause) {
      throw new ConnectError("failed to resolve API access policy", Code.Internal, undefined, undefined, cause);
    }
    if (!allowed) throw new ConnectError("authentication required", Code.Unauthenticated);
    return next(req);
  };
}
