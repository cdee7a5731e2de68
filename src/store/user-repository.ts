import type { Selectable } from "kysely";
import type { Db } from "./database.js";
import type { UserTable } from "./schema.js";

/** A user row as stored. */
export type UserRow = Selectable<UserTable>;

/** Queries over the `"user"` table. */
export interface UserRepository {
  /** The first admin (lowest id), the instance owner shown in the profile. */
  findFirstAdmin(): Promise<UserRow | undefined>;
  findById(id: number): Promise<UserRow | undefined>;
  count(): Promise<number>;
}

export function createUserRepository(db: Db): UserRepository {
  return {
    findFirstAdmin: () =>
      db.selectFrom("user").selectAll().where("role", "=", "ADMIN").orderBy("id").limit(1).executeTakeFirst(),
    findById: (id) => db.selectFrom("user").selectAll().where("id", "=", id).executeTakeFirst(),
    async count() {
      const row = await db
        .selectFrom("user")
        .select((eb) => eb.fn.countAll<string | number>().as("n"))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}
