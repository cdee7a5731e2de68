import type { Db } from "./database.js";

/** A refresh token to store. */
export interface NewRefreshToken {
  readonly id: string;
  readonly familyId: string;
  readonly userId: number;
  readonly expiresTs: number;
  readonly userAgent: string;
  readonly ip: string;
}

/** Outcome of {@link RefreshTokenRepository.rotate}. */
export type RotateOutcome =
  /** The old token was current: it is now spent and `next` is stored in its family. */
  | { readonly kind: "rotated" }
  /** The old token had already been rotated: its whole family is now revoked. */
  | { readonly kind: "reused"; readonly familyId: string }
  /** Unknown, revoked (signed out), expired, or another user's token. */
  | { readonly kind: "invalid"; readonly reason: "unknown" | "revoked" | "expired" };

/** Refresh-token rows: issue, rotate with reuse detection, revoke. */
export interface RefreshTokenRepository {
  insert(token: NewRefreshToken): Promise<void>;
  /**
   * Spends token `oldId` of `userId` and stores `next` in the same family, atomically: the
   * spend is a conditional UPDATE (`rotated_to IS NULL AND revoked_ts IS NULL`), so of two
   * concurrent rotations of one token exactly one succeeds and the other sees a reuse.
   */
  rotate(oldId: string, userId: number, now: number, next: Omit<NewRefreshToken, "familyId" | "userId">): Promise<RotateOutcome>;
  /** Revokes every live token of the family `id` belongs to (sign-out); answers how many. */
  revokeFamilyOf(id: string, userId: number, now: number): Promise<number>;
  /**
   * Deletes the user's expired rows. Spent rows must stay until they expire (they are what
   * detects reuse), but an expired token fails its JWT check before the table is consulted.
   */
  deleteExpired(userId: number, now: number): Promise<void>;
}

export function createRefreshTokenRepository(db: Db): RefreshTokenRepository {
  const revokeFamily = async (familyId: string, now: number) => {
    const res = await db
      .updateTable("refresh_token")
      .set({ revoked_ts: now })
      .where("family_id", "=", familyId)
      .where("revoked_ts", "is", null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  };
  return {
    async insert(t) {
      await db
        .insertInto("refresh_token")
        .values({ id: t.id, family_id: t.familyId, user_id: t.userId, expires_ts: t.expiresTs, user_agent: t.userAgent, ip: t.ip })
        .execute();
    },
    async rotate(oldId, userId, now, next) {
      const spent = await db.transaction().execute(async (trx) => {
        const row = await trx
          .updateTable("refresh_token")
          .set({ rotated_to: next.id, revoked_ts: now })
          .where("id", "=", oldId)
          .where("user_id", "=", userId)
          .where("revoked_ts", "is", null)
          .where("rotated_to", "is", null)
          .where("expires_ts", ">", now)
          .returning("family_id")
          .executeTakeFirst();
        if (row === undefined) return undefined;
        await trx
          .insertInto("refresh_token")
          .values({
            id: next.id,
            family_id: row.family_id,
            user_id: userId,
            expires_ts: next.expiresTs,
            user_agent: next.userAgent,
            ip: next.ip,
          })
          .execute();
        return row.family_id;
      });
      if (spent !== undefined) return { kind: "rotated" };
      const row = await db
        .selectFrom("refresh_token")
        .select(["family_id", "rotated_to", "revoked_ts", "expires_ts"])
        .where("id", "=", oldId)
        .where("user_id", "=", userId)
        .executeTakeFirst();
      if (row === undefined) return { kind: "invalid", reason: "unknown" };
      if (row.rotated_to !== null) {
        await revokeFamily(row.family_id, now);
        return { kind: "reused", familyId: row.family_id };
      }
      return { kind: "invalid", reason: row.revoked_ts !== null ? "revoked" : "expired" };
    },
    async revokeFamilyOf(id, userId, now) {
      const row = await db
        .selectFrom("refresh_token")
        .select("family_id")
        .where("id", "=", id)
        .where("user_id", "=", userId)
        .executeTakeFirst();
      return row === undefined ? 0 : revokeFamily(row.family_id, now);
    },
    async deleteExpired(userId, now) {
      await db.deleteFrom("refresh_token").where("user_id", "=", userId).where("expires_ts", "<=", now).execute();
    },
  };
}
