import { sql, type Insertable, type Selectable, type Updateable } from "kysely";
import type { Db } from "./database.js";
import type { UserTable } from "./schema.js";

/** A user row as stored. */
export type UserRow = Selectable<UserTable>;

/** Columns a new user is created with (id and timestamps come from the database). */
export type NewUser = Pick<Insertable<UserTable>, "username" | "password_hash" | "role" | "email" | "nickname" | "avatar_url" | "description">;

/** Columns an update may change. */
export type UserPatch = Pick<
  Updateable<UserTable>,
  "username" | "password_hash" | "role" | "email" | "nickname" | "avatar_url" | "description" | "row_status" | "updated_ts"
>;

/** Queries over the `"user"` table. */
export interface UserRepository {
  /** The first admin (lowest id), the instance owner shown in the profile. */
  findFirstAdmin(): Promise<UserRow | undefined>;
  findById(id: number): Promise<UserRow | undefined>;
  /** Exact, case-sensitive match. */
  findByUsername(username: string): Promise<UserRow | undefined>;
  /** Users with one of `usernames` and the given row status, in unspecified order. */
  findByUsernames(usernames: readonly string[], rowStatus: string): Promise<UserRow[]>;
  /** One page of users, newest first; `username` narrows to that exact name. */
  list(options: { username?: string; limit: number; offset: number }): Promise<UserRow[]>;
  count(): Promise<number>;
  /**
   * Creates `user` as ADMIN only if the instance has no users yet, atomically: concurrent callers
   * serialise on a transaction-scoped advisory lock, so exactly one of them wins even on a
   * Postgres connection pool. Answers `undefined` when users already exist.
   */
  createFirstAdmin(user: Omit<NewUser, "role">): Promise<UserRow | undefined>;
  /** Inserts a user; a taken username raises a unique violation (see {@link isUniqueViolation}). */
  create(user: NewUser): Promise<UserRow>;
  /** Applies `patch`; answers the updated row, or `undefined` when the user is gone. */
  update(id: number, patch: UserPatch): Promise<UserRow | undefined>;
  /**
   * Deletes the user and everything they own in one transaction: memos (with their relations,
   * reactions and shares), reactions, attachments rows, inbox messages, settings, identities and
   * auth tokens. Answers false when the user did not exist.
   */
  deleteCompletely(id: number): Promise<boolean>;
}

/** Lock key for first-user creation (any constant works; it only has to be the same everywhere). */
const FIRST_USER_LOCK = 0x6d656d6f73; // "memos"

export function createUserRepository(db: Db): UserRepository {
  return {
    findFirstAdmin: () =>
      db.selectFrom("user").selectAll().where("role", "=", "ADMIN").orderBy("id").limit(1).executeTakeFirst(),
    findById: (id) => db.selectFrom("user").selectAll().where("id", "=", id).executeTakeFirst(),
    findByUsername: (username) => db.selectFrom("user").selectAll().where("username", "=", username).executeTakeFirst(),
    async findByUsernames(usernames, rowStatus) {
      if (usernames.length === 0) return [];
      return db
        .selectFrom("user")
        .selectAll()
        .where("username", "in", [...usernames])
        .where("row_status", "=", rowStatus)
        .execute();
    },
    list({ username, limit, offset }) {
      let query = db.selectFrom("user").selectAll();
      if (username !== undefined) query = query.where("username", "=", username);
      return query.orderBy("created_ts", "desc").orderBy("id", "desc").limit(limit).offset(offset).execute();
    },
    async count() {
      const row = await db
        .selectFrom("user")
        .select((eb) => eb.fn.countAll<string | number>().as("n"))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
    createFirstAdmin(user) {
      return db.transaction().execute(async (trx) => {
        await sql`SELECT pg_advisory_xact_lock(${FIRST_USER_LOCK})`.execute(trx);
        const result = await sql<UserRow>`
          INSERT INTO "user" (username, role, email, nickname, password_hash, avatar_url, description)
          SELECT ${user.username}, 'ADMIN', ${user.email ?? ""}, ${user.nickname ?? ""}, ${user.password_hash},
                 ${user.avatar_url ?? ""}, ${user.description ?? ""}
          WHERE NOT EXISTS (SELECT 1 FROM "user")
          RETURNING *`.execute(trx);
        return result.rows[0];
      });
    },
    create: (user) => db.insertInto("user").values(user).returningAll().executeTakeFirstOrThrow(),
    update: (id, patch) => db.updateTable("user").set(patch).where("id", "=", id).returningAll().executeTakeFirst(),
    deleteCompletely(id) {
      return db.transaction().execute(async (trx) => {
        const memoIds = trx.selectFrom("memo").select("id").where("creator_id", "=", id);
        await trx
          .deleteFrom("memo_relation")
          .where((eb) => eb.or([eb("memo_id", "in", memoIds), eb("related_memo_id", "in", memoIds)]))
          .execute();
        await trx
          .deleteFrom("reaction")
          .where((eb) => eb.or([eb("creator_id", "=", id), eb("memo_id", "in", memoIds)]))
          .execute();
        await trx.deleteFrom("memo_share").where("creator_id", "=", id).execute();
        await trx.deleteFrom("memo").where("creator_id", "=", id).execute();
        await trx.deleteFrom("attachment").where("creator_id", "=", id).execute();
        await trx.deleteFrom("inbox").where((eb) => eb.or([eb("receiver_id", "=", id), eb("sender_id", "=", id)])).execute();
        await trx.deleteFrom("user_setting").where("user_id", "=", id).execute();
        await trx.deleteFrom("user_identity").where("user_id", "=", id).execute();
        await trx.deleteFrom("refresh_token").where("user_id", "=", id).execute();
        await trx.deleteFrom("personal_access_token").where("user_id", "=", id).execute();
        const deleted = await trx.deleteFrom("user").where("id", "=", id).executeTakeFirst();
        return deleted.numDeletedRows > 0n;
      });
    },
  };
}

/** True when `err` is Postgres's unique violation (SQLSTATE 23505), on node-postgres and PGlite alike. */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === "23505";
}
