import { createHash, randomBytes } from "node:crypto";
import type { PersonalAccessTokenRepository } from "../store/personal-access-token-repository.js";
import { PAT_PREFIX, type TokenVerifier } from "./identity.js";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const RANDOM_LENGTH = 32;

/** A new token: `memos_pat_` and 32 characters of `[0-9a-zA-Z]` from the crypto RNG (spec §3.6). */
export function generatePersonalAccessToken(): string {
  let out = "";
  while (out.length < RANDOM_LENGTH) {
    for (const byte of randomBytes(48)) {
      // 62 * 4 = 248: rejecting bytes >= 248 keeps every character equally likely.
      if (byte < 248 && out.length < RANDOM_LENGTH) out += ALPHABET[byte % 62];
    }
  }
  return PAT_PREFIX + out;
}

/** What is stored: the lowercase hex SHA-256 of the whole token string. */
export function hashPersonalAccessToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** Options of {@link createPersonalAccessTokenVerifier}. */
export interface PersonalAccessTokenVerifierOptions {
  readonly tokens: PersonalAccessTokenRepository;
  readonly clock?: () => number;
  /**
   * `last_used_ts` is written only when the stored value is at least this many seconds old,
   * decided from the row already read to verify the token, so a busy token costs one write a
   * minute, not one per request. Default 60.
   */
  readonly touchAfterSeconds?: number;
  /** Told about a failed `last_used_ts` write (which never fails the request). */
  readonly onTouchError?: (err: unknown) => void;
}

/**
 * The PAT half of the identity resolver. Looks the token up by hash on every request (no cache),
 * so deletion and expiry take effect at once; an expired token or an archived owner is anonymous.
 */
export function createPersonalAccessTokenVerifier(options: PersonalAccessTokenVerifierOptions): TokenVerifier {
  const clock = options.clock ?? Date.now;
  const touchAfter = options.touchAfterSeconds ?? 60;
  return async (token) => {
    if (!token.startsWith(PAT_PREFIX) || token.length !== PAT_PREFIX.length + RANDOM_LENGTH) return undefined;
    const match = await options.tokens.findByHash(hashPersonalAccessToken(token));
    if (match === undefined) return undefined;
    const now = Math.floor(clock() / 1000);
    if (match.expiresTs !== null && match.expiresTs <= now) return undefined;
    if (match.userRowStatus !== "NORMAL") return undefined;
    if (match.lastUsedTs === null || now - match.lastUsedTs >= touchAfter) {
      await options.tokens.touch(match.id, now).catch((err: unknown) => options.onTouchError?.(err));
    }
    return { userId: match.userId, via: "personal-access-token" };
  };
}
