import type { Selectable } from "kysely";
import type { Db } from "./database.js";
import type { UserIdentityTable } from "./schema.js";

/** A `user_identity` row: the link of a user to an account at an identity provider (`provider` is the idp uid). */
export type UserIdentityRow = Selectable<UserIdentityTable>;

/** Queries over `user_identity`. */
export interface UserIdentityRepository {
  /** The user's linked identities, oldest first. */
  listByUser(userId: number): Promise<UserIdentityRow[]>;
  /** The user's link to `provider` (at most one: UNIQUE(user_id, provider)). */
  find(userId: number, provider: string): Promise<UserIdentityRow | undefined>;
  /** Removes the link; answers false when there was none. */
  delete(userId: number, provider: string): Promise<boolean>;
}

export function createUserIdentityRepository(db: Db): UserIdentityRepository {
  return {
    listByUser: (userId) => db.selectFrom("user_identity").selectAll().where("user_id", "=", userId).orderBy("id").execute(),
    find: (userId, provider) =>
      db.selectFrom("user_identity").selectAll().where("user_id", "=", userId).where("provider", "=", provider).executeTakeFirst(),
    async delete(userId, provider) {
      const res = await db.deleteFrom("user_identity").where("user_id", "=", userId).where("provider", "=", provider).executeTakeFirst();
      return res.numDeletedRows > 0n;
    },
  };
}
