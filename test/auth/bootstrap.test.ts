import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { User_Role } from "../../gen/memos/api/v1/user_service_pb.js";
import { loadInstanceSecret } from "../../src/auth/instance-secret.js";
import { openDatabase } from "../../src/store/database.js";
import { createSystemSettingRepository } from "../../src/store/system-setting-repository.js";
import { createUserRepository } from "../../src/store/user-repository.js";
import { startTestApp } from "../support/app.js";
import { DRIVERS, openTestDatabase } from "../support/database.js";
import { clients, codeOf } from "./support.js";

describe.each(DRIVERS)("on %s", (driver) => {
  test("20 concurrent first sign-ups produce exactly one admin", async () => {
    const { database, close } = await openTestDatabase(driver);
    // The app closes the database it was given; the server (for Postgres) is stopped after.
    const t = await startTestApp({}, { database });
    try {
      const c = clients(t.baseUrl);
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => c.users.createUser({ user: { username: `first-${i}`, password: "pw", role: User_Role.USER } })),
      );
      expect(results.filter((r) => r.status === "rejected")).toEqual([]);
      const roles = results.map((r) => (r as PromiseFulfilledResult<{ role: User_Role }>).value.role);
      expect(roles.filter((r) => r === User_Role.ADMIN)).toHaveLength(1);
      expect(roles.filter((r) => r === User_Role.USER)).toHaveLength(19);
      const admins = await database.db.selectFrom("user").select("username").where("role", "=", "ADMIN").execute();
      expect(admins).toHaveLength(1);
    } finally {
      await t.close();
      await close().catch(() => {});
    }
  }, 60_000);

  test("the repository's first-admin insert is atomic under real concurrency (pool connections racing)", async () => {
    const { database, close } = await openTestDatabase(driver);
    try {
      const users = createUserRepository(database.db);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => users.createFirstAdmin({ username: `race-${i}`, password_hash: "x" })),
      );
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
      expect(await users.count()).toBe(1);
    } finally {
      await close();
    }
  }, 60_000);

  test("replicas booting at once agree on one instance secret", async () => {
    const { database, close } = await openTestDatabase(driver);
    try {
      const settings = createSystemSettingRepository(database.db);
      const secrets = await Promise.all(Array.from({ length: 5 }, () => loadInstanceSecret(settings)));
      expect(new Set(secrets).size).toBe(1);
      expect(secrets[0]).toMatch(/^[0-9a-f-]{36}$/);
      // A BASIC row without a secret (e.g. only a schema version) gets one, keeping its fields.
      await database.db.updateTable("system_setting").set({ value: '{"schemaVersion":"0.31.0"}' }).where("name", "=", "BASIC").execute();
      const fresh = await Promise.all([loadInstanceSecret(settings), loadInstanceSecret(settings)]);
      expect(fresh[0]).toBe(fresh[1]);
      const row = await database.db.selectFrom("system_setting").select("value").where("name", "=", "BASIC").executeTakeFirstOrThrow();
      expect(JSON.parse(row.value)).toEqual({ schemaVersion: "0.31.0", secretKey: fresh[0] });
    } finally {
      await close();
    }
  }, 60_000);
});

test("tokens survive a restart: the secret is persisted", async () => {
  const dir = mkdtempSync(join(tmpdir(), "memos-restart-"));
  try {
    const first = await startTestApp({}, { database: await openDatabase({ driver: "pglite", dataDir: dir }) });
    let token: string;
    try {
      const c = clients(first.baseUrl);
      await c.users.createUser({ user: { username: "keeper", password: "pw" } });
      token = (await c.auth.signIn({ credentials: { case: "passwordCredentials", value: { username: "keeper", password: "pw" } } })).accessToken;
    } finally {
      await first.close();
    }
    const second = await startTestApp({}, { database: await openDatabase({ driver: "pglite", dataDir: dir }) });
    try {
      expect((await clients(second.baseUrl, { token }).auth.getCurrentUser({})).user?.username).toBe("keeper");
      expect(await codeOf(clients(second.baseUrl, { token: `${token}x` }).auth.getCurrentUser({}))).toBe(Code.Unauthenticated);
    } finally {
      await second.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
