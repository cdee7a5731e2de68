import type { Selectable } from "kysely";
import type { Db } from "./database.js";
import type { PersonalAccessTokenTable } from "./schema.js";

/** A personal access token row (metadata and hash; the token itself is never stored). */
export type PersonalAccessTokenRow = Selectable<PersonalAccessTokenTable>;

/** What verifying a token needs, read in one query: the token row and its owner's status. */
export interface PersonalAccessTokenMatch {
  readonly id: string;
  readonly userId: number;
  readonly expiresTs: number | null;
  readonly lastUsedTs: number | null;
  readonly userRowStatus: string;
}

/** Personal access token rows. */
export interface PersonalAccessTokenRepository {
  create(token: { id: string; userId: number; tokenHash: string; description: string; expiresTs: number | null }): Promise<PersonalAccessTokenRow>;
  /** The user's tokens, newest first. */
  listByUser(userId: number): Promise<PersonalAccessTokenRow[]>;
  /** Deletes token `id` of `userId`; answers false when there was none. */
  delete(userId: number, id: string): Promise<boolean>;
  /** Looks a token up by its SHA-256 hex hash (unique index), joined with its owner. */
  findByHash(tokenHash: string): Promise<PersonalAccessTokenMatch | undefined>;
  /** Sets `last_used_ts = now` unless it is already at or past `now` (it never moves backwards). */
  touch(id: string, now: number): Promise<void>;
}

export function createPersonalAccessTokenRepository(db: Db): PersonalAccessTokenRepository {
  return {
    create: (t) =>
      db
        .insertInto("personal_access_token")
        .values({ id: t.id, user_id: t.userId, token_hash: t.tokenHash, description: t.description, expires_ts: t.expiresTs })
        .returningAll()
        .executeTakeFirstOrThrow(),
    listByUser: (userId) =>
      db
        .selectFrom("personal_access_token")
        .selectAll()
        .where("user_id", "=", userId)
        .orderBy("created_ts", "desc")
        .orderBy("id")
        .execute(),
    async delete(userId, id) {
      const res = await db.deleteFrom("personal_access_token").where("user_id", "=", userId).where("id", "=", id).executeTakeFirst();
      return res.numDeletedRows > 0n;
    },
    async findByHash(tokenHash) {
      const row = await db
        .selectFrom("personal_access_token as p")
        .innerJoin("user as u", "u.id", "p.user_id")
        .select(["p.id", "p.user_id", "p.expires_ts", "p.last_used_ts", "u.row_status"])
        .where("p.token_hash", "=", tokenHash)
        .executeTakeFirst();
      return row === undefined
        ? undefined
        : { id: row.id, userId: row.user_id, expiresTs: row.expires_ts, lastUsedTs: row.last_used_ts, userRowStatus: row.row_status };
    },
    async touch(id, now) {
      await db
        .updateTable("personal_access_token")
        .set({ last_used_ts: now })
        .where("id", "=", id)
        .where((eb) => eb.or([eb("last_used_ts", "is", null), eb("last_used_ts", "<", now)]))
        .execute();
    },
  };
}
