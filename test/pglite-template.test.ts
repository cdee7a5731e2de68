import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/store/database.js";
import { isNewDataDir, pgliteTemplatePath, readPgliteTemplate, writePgliteTemplate } from "../src/store/pglite-template.js";

test("a new data directory starts from the install-time template, is migrated, and persists", async () => {
  const path = await writePgliteTemplate();
  expect(path).toBe(pgliteTemplatePath());
  expect(existsSync(path!)).toBe(true);
  expect(readPgliteTemplate()!.size).toBeGreaterThan(0);

  const dir = mkdtempSync(join(tmpdir(), "memos-tpl-"));
  try {
    expect(isNewDataDir(dir)).toBe(true);
    const first = await openDatabase({ driver: "pglite", dataDir: dir });
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
}, 60_000);
