import { randomUUID } from "node:crypto";
import type { Db } from "../store/database.js";
import type { RefreshTokenRepository } from "../store/refresh-token-repository.js";
import { signJwt, verifyJwt, type JwtKey } from "./jwt.js";

/** Audience of refresh tokens (spec §3.4). */
export const REFRESH_TOKEN_AUDIENCE = "user.refresh-token";
/** Refresh tokens live 30 days. */
export const REFRESH_TOKEN_LIFETIME_SECONDS = 30 * 24 * 60 * 60;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Who a refresh token is issued to, recorded with the row for the user's session list. */
export interface ClientInfo {
  readonly userAgent: string;
  readonly ip: string;
}

/** A refresh token ready to go into the cookie. */
export interface IssuedRefreshToken {
  readonly token: string;
  /** Unix seconds. */
  readonly expiresAt: number;
}

/** Why a refresh token was refused. */
export type RefreshFailure = "malformed" | "unknown" | "revoked" | "expired" | "reused";

/**
 * Refresh-token sessions. Each sign-in starts a family; every refresh spends the presented token
 * and issues its successor in the same family. Presenting a spent token again means it was
 * copied: the whole family is revoked, so both the thief and the victim must sign in again.
 */
export interface RefreshSessions {
  /** Starts a new family for `userId` (sign-in). */
  start(userId: number, client: ClientInfo): Promise<IssuedRefreshToken>;
  /** Spends `token` and issues its successor, or says why it cannot. */
  rotate(token: string, client: ClientInfo): Promise<{ ok: true; userId: number; next: IssuedRefreshToken } | { ok: false; reason: RefreshFailure }>;
  /** Revokes the family of `token` if it is a valid refresh token of `userId` (sign-out). */
  revoke(token: string, userId: number): Promise<boolean>;
}

export function createRefreshSessions(deps: {
  key: JwtKey;
  tokens: RefreshTokenRepository;
  clock?: () => number;
}): RefreshSessions {
  const clock = deps.clock ?? Date.now;
  const nowSeconds = () => Math.floor(clock() / 1000);
  const sign = (userId: number, tid: string, issuedAt: number) =>
    signJwt(
      deps.key,
      { type: "refresh", tid },
      { subject: String(userId), audience: REFRESH_TOKEN_AUDIENCE, issuedAt, lifetimeSeconds: REFRESH_TOKEN_LIFETIME_SECONDS },
    );
  const parse = async (token: string) => {
    const claims = await verifyJwt(deps.key, token, { audience: REFRESH_TOKEN_AUDIENCE, type: "refresh", now: nowSeconds() });
    if (claims === undefined || typeof claims.tid !== "string" || !UUID.test(claims.tid)) return undefined;
    return { userId: claims.userId, tid: claims.tid };
  };
  return {
    async start(userId, client) {
      const id = randomUUID();
      const issuedAt = nowSeconds();
      const issued = await sign(userId, id, issuedAt);
      await deps.tokens.insert({ id, familyId: id, userId, expiresTs: issued.expiresAt, userAgent: client.userAgent, ip: client.ip });
      // Housekeeping at each sign-in keeps the table bounded by the user's live sessions.
      await deps.tokens.deleteExpired(userId, issuedAt);
      return issued;
    },
    async rotate(token, client) {
      const parsed = await parse(token);
      if (parsed === undefined) return { ok: false, reason: "malformed" };
      const nextId = randomUUID();
      const issuedAt = nowSeconds();
      const next = await sign(parsed.userId, nextId, issuedAt);
      const outcome = await deps.tokens.rotate(parsed.tid, parsed.userId, issuedAt, {
        id: nextId,
        expiresTs: next.expiresAt,
        userAgent: client.userAgent,
        ip: client.ip,
      });
      if (outcome.kind === "rotated") return { ok: true, userId: parsed.userId, next };
      return { ok: false, reason: outcome.kind === "reused" ? "reused" : outcome.reason };
    },
    async revoke(token, userId) {
      const parsed = await parse(token);
      if (parsed === undefined || parsed.userId !== userId) return false;
      return (await deps.tokens.revokeFamilyOf(parsed.tid, userId, nowSeconds())) > 0;
    },
  };
}

/**
 * Checks a refresh token without spending it (the file server's `memos_refresh` cookie, spec §5.2
 * step 5, so `<img>` tags work): the JWT must verify and its row must be live — not revoked, not
 * rotated (a stale cookie is anonymous), not expired — and its user NORMAL. One query. Answers
 * the user's id and role, or `undefined` for any failure.
 */
export function createRefreshTokenChecker(deps: {
  key: JwtKey;
  db: Db;
  clock?: () => number;
}): (token: string) => Promise<{ userId: number; role: string } | undefined> {
  const clock = deps.clock ?? Date.now;
  return async (token) => {
    const now = Math.floor(clock() / 1000);
    const claims = await verifyJwt(deps.key, token, { audience: REFRESH_TOKEN_AUDIENCE, type: "refresh", now });
    if (claims === undefined || typeof claims.tid !== "string" || !UUID.test(claims.tid)) return undefined;
    const row = await deps.db
      .selectFrom("refresh_token as t")
      .innerJoin("user as u", "u.id", "t.user_id")
      .select(["u.id", "u.role"])
      .where("t.id", "=", claims.tid)
      .where("t.user_id", "=", claims.userId)
      .where("t.revoked_ts", "is", null)
      .where("t.rotated_to", "is", null)
      .where("t.expires_ts", ">", now)
      .where("u.row_status", "=", "NORMAL")
      .executeTakeFirst();
    return row === undefined ? undefined : { userId: row.id, role: row.role };
  };
}
