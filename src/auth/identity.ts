import { createContextKey } from "@connectrpc/connect";
import type { UserRow } from "../store/user-repository.js";
import { isDatabaseUnavailable } from "../store/database-errors.js";

/** Who is calling. Services re-load the user row by `userId`; the rest is informational. */
export interface Identity {
  readonly userId: number;
  /** How the caller proved who it is. */
  readonly via: "access-token" | "personal-access-token";
  /** JWT claims when `via` is `access-token`. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /**
   * The user row the verifier read to accept the credentials, when it read one. It was read for
   * this request, so services take it as their per-call load of the caller instead of reading the
   * same row again.
   */
  readonly user?: UserRow;
}

/** Verifies one kind of bearer token; answers `undefined` for any token it does not accept. */
export type TokenVerifier = (token: string) => Promise<Identity | undefined>;

/** Turns an `Authorization` header into an identity, or `undefined` for an anonymous caller. */
export interface IdentityResolver {
  resolve(authorization: string | null | undefined): Promise<Identity | undefined>;
}

/** Prefix that marks a personal access token (spec §3.6). */
export const PAT_PREFIX = "memos_pat_";

/**
 * Creates the resolver of spec §1.3: the header must be exactly two whitespace-separated fields
 * with the scheme `Bearer` (any case). Tokens starting with `memos_pat_` go to the personal access
 * token verifier, every other token to the access token verifier. Any failure, including a
 * verifier that throws, yields an anonymous caller rather than an error, except an unreachable
 * database, which is rethrown: the caller must see `unavailable`, not `unauthenticated` (a
 * client would drop a perfectly good session).
 */
export function createIdentityResolver(verifiers: {
  accessToken?: TokenVerifier;
  personalAccessToken?: TokenVerifier;
}): IdentityResolver {
  return {
    async resolve(authorization) {
      const token = parseBearer(authorization);
      if (token === undefined) return undefined;
      const verify = token.startsWith(PAT_PREFIX) ? verifiers.personalAccessToken : verifiers.accessToken;
      if (verify === undefined) return undefined;
      try {
        return await verify(token);
      } catch (err) {
        if (isDatabaseUnavailable(err)) throw err;
        return undefined;
      }
    },
  };
}

/** Extracts the token of a `Bearer <token>` header, or `undefined` when the header is not one. */
export function parseBearer(authorization: string | null | undefined): string | undefined {
  if (authorization === null || authorization === undefined) return undefined;
  const fields = authorization.trim().split(/\s+/);
  if (fields.length !== 2 || fields[0]!.toLowerCase() !== "bearer" || fields[1] === "") return undefined;
  return fields[1];
}

/** Context key under which the auth interceptor stores the caller's identity. */
export const identityKey = createContextKey<Identity | undefined>(undefined, { description: "caller identity" });
