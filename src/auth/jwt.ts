import { webcrypto } from "node:crypto";
import { jwtVerify, SignJWT, type JWTPayload } from "jose";

/** Issuer of every token (spec §3.4). */
export const JWT_ISSUER = "memos";
/** Key id in every token header; tokens with another `kid` are rejected. */
export const JWT_KEY_ID = "v1";

/** An HS256 key: imported once, so signing and verifying do not re-import it on every call. */
export type JwtKey = webcrypto.CryptoKey | Uint8Array;

/** Turns the instance secret into an HS256 key (its UTF-8 bytes, like the reference server). */
export function hmacKey(secret: string): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

/** Signs an HS256 JWT with header `{"alg":"HS256","kid":"v1","typ":"JWT"}`. */
export async function signJwt(
  key: JwtKey,
  claims: Record<string, unknown>,
  options: { subject: string; audience: string; issuedAt: number; lifetimeSeconds: number },
): Promise<{ token: string; expiresAt: number }> {
  const expiresAt = options.issuedAt + options.lifetimeSeconds;
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", kid: JWT_KEY_ID, typ: "JWT" })
    .setIssuer(JWT_ISSUER)
    .setAudience([options.audience])
    .setSubject(options.subject)
    .setIssuedAt(options.issuedAt)
    .setExpirationTime(expiresAt)
    .sign(key);
  return { token, expiresAt };
}

/**
 * Verifies an HS256 JWT: algorithm HS256 only (so `alg: none` and asymmetric confusion fail),
 * signature, `kid` v1, issuer `memos`, `audience` among `aud`, `exp` (and `nbf`/`iat` sanity via
 * jose), the `type` claim, and a numeric `sub`. Answers the payload, or `undefined` for any failure.
 */
export async function verifyJwt(
  key: JwtKey,
  token: string,
  expect: { audience: string; type: string; now: number },
): Promise<(JWTPayload & { userId: number }) | undefined> {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, key, {
      algorithms: ["HS256"],
      issuer: JWT_ISSUER,
      audience: expect.audience,
      currentDate: new Date(expect.now * 1000),
    });
    if (protectedHeader.kid !== JWT_KEY_ID) return undefined;
    if (payload.type !== expect.type) return undefined;
    if (payload.exp === undefined) return undefined;
    if (typeof payload.sub !== "string" || !/^[1-9]\d{0,9}$/.test(payload.sub)) return undefined;
    const userId = Number(payload.sub);
    if (userId > 2_147_483_647) return undefined;
    return { ...payload, userId };
  } catch {
    return undefined;
  }
}
