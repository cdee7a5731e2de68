import { sql } from "kysely";
import type { Db } from "./database.js";

/** One stored per-user setting: `value` is the setting's protobuf-JSON text (spec §7). */
export interface UserSettingRow {
  readonly key: string;
  readonly value: string;
}

/** Reads and writes `user_setting` rows, unique per (user, key). */
export interface UserSettingRepository {
  /** The stored value, `undefined` when none (an empty placeholder row counts as none). */
  get(userId: number, key: string): Promise<string | undefined>;
  /** Every stored setting of the user whose key is one of `keys`, in unspecified order. */
  list(userId: number, keys: readonly string[]): Promise<UserSettingRow[]>;
  upsert(userId: number, key: string, value: string): Promise<void>;
  /**
   * Read-modify-write of one setting, serialised per (user, key) across connections and replicas:
   * the row is created empty when missing, locked (`FOR UPDATE`) for the rest of a transaction,
   * and `change` gets its current value (`undefined` for a new row). When `change` answers a
   * `value`, that is stored; it may throw to abort without writing. Answers `result`.
   */
  modify<T>(userId: number, key: string, change: (current: string | undefined) => { value?: string; result: T }): Promise<T>;
}

export function createUserSettingRepository(db: Db): UserSettingRepository {
  return {
    async get(userId, key) {
      const row = await db.selectFrom("user_setting").select("value").where("user_id", "=", userId).where("key", "=", key).executeTakeFirst();
      return row === undefined || row.value === "" ? undefined : row.value;
    },
    async list(userId, keys) {
      if (keys.length === 0) return [];
      return db
        .selectFrom("user_setting")
        .select(["key", "value"])
        .where("user_id", "=", userId)
        .where("key", "in", [...keys])
        .where("value", "<>", "")
        .execute();
    },
    async upsert(userId, key, value) {
      await db
        .insertInto("user_setting")
        .values({ user_id: userId, key, value })
        .onConflict((oc) => oc.columns(["user_id", "key"]).doUpdateSet({ value }))
        .execute();
    },
    modify(userId, key, change) {
      return db.transaction().execute(async (trx) => {
        // '' marks a row made only to have something to lock; it reads as "not stored".
        await trx
          .insertInto("user_setting")
          .values({ user_id: userId, key, value: "" })
          .onConflict((oc) => oc.columns(["user_id", "key"]).doNothing())
          .execute();
        const row = await sql<{ value: string }>`
          SELECT value FROM user_setting WHERE user_id = ${userId} AND key = ${key} FOR UPDATE`.execute(trx);
        const current = row.rows[0]?.value;
        const { value, result } = change(current === undefined || current === "" ? undefined : current);
        if (value !== undefined) {
          await trx.updateTable("user_setting").set({ value }).where("user_id", "=", userId).where("key", "=", key).execute();
        }
        return result;
      });
    },
  };
}
