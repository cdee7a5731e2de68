import { sql, type KyselyPlugin } from "kysely";
import { initAccessMode, createAccessModeReader } from "../src/auth/access-mode-store.js";
import { migrate } from "../src/store/database.js";
import { createSystemSettingRepository } from "../src/store/system-setting-repository.js";
import { createUserRepository } from "../src/store/user-repository.js";
import { DRIVERS, openTestDatabase, type TestDatabase } from "./support/database.js";

const TABLES = [
  "attachment",
  "idp",
  "inbox",
  "memo",
  "memo_relation",
  "memo_share",
  "personal_access_token",
  "reaction",
  "refresh_token",
  "sign_in_throttle",
  "system_setting",
  "user",
  "user_identity",
  "user_setting",
];

describe.each(DRIVERS)("store on %s", (driver) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(driver);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  test("migrations create every table of the schema", async () => {
    const rows = await sql<{ table_name: string }>`
      SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely_%'
      ORDER BY table_name`.execute(t.database.db);
    expect(rows.rows.map((r) => r.table_name)).toEqual(TABLES);
  });

  test("migrating again is a no-op", async () => {
    await expect(migrate(t.database.db)).resolves.toBeUndefined();
  });

  test("an up-to-date database is checked with two reads, without the migrator's lock and transaction", async () => {
    const statements: string[] = [];
    const recording: KyselyPlugin = {
      transformQuery: (args) => {
        statements.push(t.database.db.getExecutor().compileQuery(args.node, args.queryId).sql);
        return args.node;
      },
      transformResult: (args) => Promise.resolve(args.result),
    };
    await migrate(t.database.db.withPlugin(recording));
    expect(statements).toHaveLength(2);
    expect(statements.join("\n")).not.toMatch(/advisory|begin|kysely_migration_lock/i);
  });

  test("a recorded migration the code does not know still fails the start", async () => {
    const db = t.database.db;
    await sql`INSERT INTO kysely_migration (name, timestamp) VALUES ('9999_from_a_newer_release', '2030-01-01T00:00:00.000Z')`.execute(db);
    try {
      await expect(migrate(db)).rejects.toThrow(/database migration/);
    } finally {
      await sql`DELETE FROM kysely_migration WHERE name = '9999_from_a_newer_release'`.execute(db);
    }
    await expect(migrate(db)).resolves.toBeUndefined();
  });

  test("usernames are unique byte-wise (case-sensitive) and timestamps default to now", async () => {
    const db = t.database.db;
    const before = Math.floor(Date.now() / 1000) - 1;
    await db.insertInto("user").values({ username: "Store-Alice", password_hash: "x" }).execute();
    await db.insertInto("user").values({ username: "store-alice", password_hash: "x" }).execute();
    await expect(db.insertInto("user").values({ username: "Store-Alice", password_hash: "y" }).execute()).rejects.toThrow();
    const row = await db.selectFrom("user").selectAll().where("username", "=", "Store-Alice").executeTakeFirstOrThrow();
    expect(typeof row.created_ts).toBe("number");
    expect(row.created_ts).toBeGreaterThanOrEqual(before);
    expect(row).toMatchObject({ role: "USER", row_status: "NORMAL", email: "", nickname: "" });
  });

  test("user repository finds the first admin and counts users", async () => {
    const db = t.database.db;
    const users = createUserRepository(db);
    const n = await users.count();
    await db.insertInto("user").values({ username: "store-admin-2", password_hash: "x", role: "ADMIN" }).execute();
    await db.insertInto("user").values({ username: "store-admin-3", password_hash: "x", role: "ADMIN" }).execute();
    expect(await users.count()).toBe(n + 2);
    expect((await users.findFirstAdmin())?.username).toBe("store-admin-2");
  });

  test("access mode is initialised once and then kept", async () => {
    const settings = createSystemSettingRepository(t.database.db);
    const read = createAccessModeReader(settings);
    expect(await initAccessMode(settings, "https://memos.example.com")).toBe("PUBLIC");
    // A later boot without an instance URL does not change it.
    expect(await initAccessMode(settings, undefined)).toBe("PUBLIC");
    expect(await read()).toBe("PUBLIC");
    await settings.upsert("ACCESS", JSON.stringify({ accessMode: "INSTANCE_ACCESS_MODE_PRIVATE" }));
    expect(await read()).toBe("PRIVATE");
  });

  test("jsonb payloads round-trip", async () => {
    const db = t.database.db;
    const creator = await db.insertInto("user").values({ username: "store-writer", password_hash: "x" }).returning("id").executeTakeFirstOrThrow();
    await db
      .insertInto("memo")
      .values({ uid: "store-memo-1", creator_id: creator.id, content: "hi #tag", payload: JSON.stringify({ tags: ["tag"] }) })
      .execute();
    const memo = await db.selectFrom("memo").selectAll().where("uid", "=", "store-memo-1").executeTakeFirstOrThrow();
    expect(memo.payload).toEqual({ tags: ["tag"] });
    expect(memo.visibility).toBe("PRIVATE");
    expect(memo.pinned).toBe(false);
  });

  test("ping answers true while the database is up", async () => {
    expect(await t.database.ping()).toBe(true);
  });
});
