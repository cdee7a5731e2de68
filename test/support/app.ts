import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { startApp, type App, type AppOverrides } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { openDatabase } from "../../src/store/database.js";

/** A server on a free loopback port with an in-memory database, and the log lines it wrote. */
export interface TestApp {
  readonly app: App;
  readonly baseUrl: string;
  /** Every JSON log line written so far. */
  readonly logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Starts the real app on 127.0.0.1:0 with in-memory PGlite and a temporary data directory. */
export async function startTestApp(env: Record<string, string> = {}, overrides: AppOverrides = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), "memos-app-"));
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const config = loadConfig({ MEMOS_PORT: "0", MEMOS_ADDR: "127.0.0.1", MEMOS_DATA: dataDir, ...env });
  const database = overrides.database ?? (await openDatabase({ driver: "pglite" }));
  let app: App;
  try {
    app = await startApp(config, createLogger("info", sink), { ...overrides, database });
  } catch (err) {
    await database.close().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    app,
    baseUrl: `http://127.0.0.1:${app.port}`,
    logs,
    async close() {
      try {
        await app.close();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}
