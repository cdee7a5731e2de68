import type { IdentityResolver } from "../../auth/identity.js";
import { readCookie, REFRESH_COOKIE } from "../../auth/refresh-cookie.js";
import { isDatabaseUnavailable } from "../../store/database-errors.js";
import type { NodeRequest } from "../http-handler.js";
import type { FileIdentity } from "./file-server.js";

/** Checks a refresh-token cookie value without spending it; `undefined` for any invalid token. */
export type RefreshCookieVerifier = (token: string) => Promise<FileIdentity | undefined>;

/**
 * The file server's caller (spec §5.2 step 5): the `Authorization: Bearer` access token or PAT
 * first (the same resolver as the API's auth gate), else the `memos_refresh` cookie, which is
 * what lets `<img src="/file/attachments/...">` work in the web app. Every failure, including a
 * verifier that throws on a stale cookie, is an anonymous caller, never an error (spec Q5: the
 * reference answers 500 there); only an unreachable database is rethrown, for a 503.
 */
export function createFileIdentityResolver(deps: {
  bearer: IdentityResolver;
  /** Without one, cookies are ignored (Bearer only). */
  refreshCookie?: RefreshCookieVerifier;
}): (req: NodeRequest) => Promise<FileIdentity | undefined> {
  return async (req) => {
    try {
      const authorization = req.headers.authorization;
      const fromBearer = authorization === undefined ? undefined : await deps.bearer.resolve(authorization);
      if (fromBearer !== undefined) {
        return fromBearer.user === undefined ? { userId: fromBearer.userId } : { userId: fromBearer.userId, role: fromBearer.user.role };
      }
      if (deps.refreshCookie === undefined) return undefined;
      const cookie = req.headers.cookie;
      const token = readCookie(cookie === undefined ? null : Array.isArray(cookie) ? cookie.join("; ") : cookie, REFRESH_COOKIE);
      if (token === undefined || token === "") return undefined;
      return await deps.refreshCookie(token);
    } catch (err) {
      // An unreachable database is the route's failure (503), not an anonymous caller.
      if (isDatabaseUnavailable(err)) throw err;
      return undefined;
    }
  };
}
