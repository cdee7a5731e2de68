import type { Db } from "./database.js";

/** Reads and writes `system_setting` rows; values are protobuf-JSON strings. */
export interface SystemSettingRepository {
  get(name: string): Promise<string | undefined>;
  /** Inserts `value` unless a row exists; returns the value now stored. */
  insertIfAbsent(name: string, value: string): Promise<string>;
  upsert(name: string, value: string): Promise<void>;
  /** Compare-and-set: replaces the value only while it still equals `expected`; answers whether it did. */
  replaceIf(name: string, expected: string, value: string): Promise<boolean>;
}

export function createSystemSettingRepository(db: Db): SystemSettingRepository {
  return {
    async get(name) {
      const row = await db.selectFrom("system_setting").select("value").where("name", "=", name).executeTakeFirst();
      return row?.value;
    },
    async insertIfAbsent(name, value) {
      await db
        .insertInto("system_setting")
        .values({ name, value })
        .onConflict((oc) => oc.column("name").doNothing())
        .execute();
      const row = await db.selectFrom("system_setting").select("value").where("name", "=", name).executeTakeFirstOrThrow();
      return row.value;
    },
    async upsert(name, value) {
      await db
        .insertInto("system_setting")
        .values({ name, value })
        .onConflict((oc) => oc.column("name").doUpdateSet({ value }))
        .execute();
    },
    async replaceIf(name, expected, value) {
      const res = await db
        .updateTable("system_setting")
        .set({ value })
        .where("name", "=", name)
        .where("value", "=", expected)
        .executeTakeFirst();
      return res.numUpdatedRows > 0n;
    },
  };
}
