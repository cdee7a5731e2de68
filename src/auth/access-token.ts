import type { UserRepository } from "../store/user-repository.js";
import type { TokenVerifier } from "./identity.js";
import { signJwt, verifyJwt, type JwtKey } from "./jwt.js";

/** Audience of access tokens (spec §3.4). */
export const ACCESS_TOKEN_AUDIENCE = "user.access-token";
/** Access tokens live 15 minutes. */
export const ACCESS_TOKEN_LIFETIME_SECONDS = 15 * 60;

/** The user fields an access token carries (informational: authorization always uses the row). */
export interface AccessTokenSubject {
  readonly id: number;
  readonly username: string;
  readonly role: string;
  readonly row_status: string;
}

/** Issues and checks stateless access tokens. */
export interface AccessTokens {
  /** A new token and its expiry in Unix seconds. */
  issue(user: AccessTokenSubject): Promise<{ token: string; expiresAt: number }>;
  /** The token's claims with the numeric user id, or `undefined` when it is not a valid access token. */
  verify(token: string): Promise<(Record<string, unknown> & { userId: number }) | undefined>;
}

export function createAccessTokens(key: JwtKey, clock: () => number = Date.now): AccessTokens {
  const nowSeconds = () => Math.floor(clock() / 1000);
  return {
    issue: (user) =>
      signJwt(
        key,
        { type: "access", role: user.role, status: user.row_status, username: user.username },
        { subject: String(user.id), audience: ACCESS_TOKEN_AUDIENCE, issuedAt: nowSeconds(), lifetimeSeconds: ACCESS_TOKEN_LIFETIME_SECONDS },
      ),
    verify: (token) => verifyJwt(key, token, { audience: ACCESS_TOKEN_AUDIENCE, type: "access", now: nowSeconds() }),
  };
}

/**
 * The access-token half of the identity resolver: a valid token whose user still exists and is
 * not archived identifies that user; anything else is anonymous (spec §1.3).
 */
export function createAccessTokenVerifier(deps: { tokens: AccessTokens; users: UserRepository }): TokenVerifier {
  return async (token) => {
    const claims = await deps.tokens.verify(token);
    if (claims === undefined) return undefined;
    const user = await deps.users.findById(claims.userId);
    if (user === undefined || user.row_status !== "NORMAL") return undefined;
    return { userId: user.id, via: "access-token", claims, user };
  };
}
