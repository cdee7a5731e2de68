import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { openDatabase } from "../src/store/database.js";
import { copyPgliteTemplate, isNewDataDir, pgliteTemplatePath, readPgliteTemplate, writePgliteTemplate } from "../src/store/pglite-template.js";

test("a new data directory starts from a copy of the install-time template, already migrated, and persists", async () => {
  const path = await writePgliteTemplate();
  expect(path).toBe(pgliteTemplatePath());
  expect(existsSync(path!)).toBe(true);
  expect((await readPgliteTemplate())!.size).toBeGreaterThan(0);

  const dir = mkdtempSync(join(tmpdir(), "memos-tpl-"));
  try {
    expect(isNewDataDir(dir)).toBe(true);
    const statements: string[] = [];
    const first = await openDatabase({ driver: "pglite", dataDir: dir, log: (e) => void statements.push(e.query.sql) });
    // The template's files were copied, so no migration ran: only the up-to-date check.
    expect(statements).toHaveLength(2);
    expect(readdirSync(dir)).toContain("PG_VERSION");
    await first.db.insertInto("user").values({ username: "tpl-user", password_hash: "x" }).execute();
    await first.close();
    expect(isNewDataDir(dir)).toBe(false);

    const again = await openDatabase({ driver: "pglite", dataDir: dir });
    const row = await again.db.selectFrom("user").select("username").where("username", "=", "tpl-user").executeTakeFirst();
    await again.close();
    expect(row).toEqual({ username: "tpl-user" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

test("a database in memory starts from the template's dump with every migration applied", async () => {
  await writePgliteTemplate();
  const statements: string[] = [];
  const database = await openDatabase({ driver: "pglite", log: (e) => void statements.push(e.query.sql) });
  try {
    expect(statements).toHaveLength(2);
    const tables = await sql<{ n: number }>`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'memo'`.execute(database.db);
    expect(tables.rows[0]!.n).toBe(1);
  } finally {
    await database.close();
  }
}, 120_000);

test("copying the template into a directory gives a complete cluster, PG_VERSION included", async () => {
  await writePgliteTemplate();
  const dir = mkdtempSync(join(tmpdir(), "memos-tpl-copy-"));
  try {
    expect(await copyPgliteTemplate(dir)).toBe(true);
    expect(isNewDataDir(dir)).toBe(false);
    expect(existsSync(join(dir, "base"))).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
