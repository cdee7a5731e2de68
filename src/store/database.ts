import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { DEFAULT_MIGRATION_TABLE, Kysely, Migrator, PostgresDialect, sql, type LogConfig } from "kysely";
import type { PGliteOptions } from "@electric-sql/pglite";
import type pg from "pg";
import { migrationProvider } from "./migrations.js";
import { PGliteDialect } from "./pglite-driver.js";
import { copyPgliteTemplate, isNewDataDir, readPgliteTemplate } from "./pglite-template.js";
import type { Database } from "./schema.js";

/** The Kysely handle every repository takes. */
export type Db = Kysely<Database>;

/** Where the database lives. */
export type DatabaseOptions = (
  | { driver: "pglite"; /** Directory of the embedded database; `undefined` keeps it in memory. */ dataDir?: string; loadDataDir?: Blob | File }
  | {
      driver: "postgres";
      dsn: string;
      /** Pool size. Default 10. */
      maxConnections?: number;
      /**
       * How long a query waits for a connection (a free pool slot, or a new connection to be
       * made) before it fails as unavailable. Default 5000 ms.
       */
      connectTimeoutMs?: number;
    }
) & {
  /** Kysely's query log hook (e.g. to count queries in tests); migrations are logged too. Default: none. */
  log?: LogConfig;
};

/** An open, migrated database. */
export interface OpenDatabase {
  readonly db: Db;
  readonly driver: "pglite" | "postgres";
  /** The Postgres connection URL (postgres driver only), for dedicated connections such as LISTEN. */
  readonly dsn?: string;
  /**
   * Readiness probe: true when a trivial query succeeds within {@link PING_TIMEOUT_MS}. Answers
   * are shared for {@link PING_CACHE_MS} and concurrent probes share one query, so a busy health
   * endpoint costs the database at most one query a second. False once closed.
   */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** A probe slower than this counts as a failure. */
export const PING_TIMEOUT_MS = 2_000;
/** How long a probe's answer is reused. */
export const PING_CACHE_MS = 1_000;

/** BIGINT columns hold Unix seconds and sizes, well inside the safe-integer range. */
const INT8_OID = 20;

/**
 * Opens the database, runs pending migrations and returns it. Throws if a migration fails.
 * Each driver's packages are loaded only when that driver is used, so a Postgres deployment
 * never loads PGlite's WebAssembly build and vice versa.
 */
export async function openDatabase(options: DatabaseOptions): Promise<OpenDatabase> {
  let db: Db;
  if (options.driver === "pglite") {
    const { PGlite } = await import("@electric-sql/pglite");
    let loadDataDir = options.loadDataDir;
    if (options.dataDir !== undefined) mkdirSync(options.dataDir, { recursive: true });
    // A new directory, or a database in memory, starts from the install-time template when
    // there is one (no initdb, and the migrations it holds already applied): a directory gets a
    // copy of the template's files, a database in memory loads its dump.
    if (loadDataDir === undefined && (options.dataDir === undefined || isNewDataDir(options.dataDir))) {
      const copied = options.dataDir !== undefined && (await copyPgliteTemplate(options.dataDir));
      if (!copied) loadDataDir = await readPgliteTemplate();
    }
    const pgliteWasmModule = compiledPgliteWasm();
    const client = new PGlite({ dataDir: options.dataDir, loadDataDir, ...(pgliteWasmModule === undefined ? {} : { pgliteWasmModule }) });
    db = new Kysely<Database>({ dialect: new PGliteDialect(client), log: options.log });
  } else {
    const { default: pgModule } = await import("pg");
    const types = {
      getTypeParser(oid: number, format?: "text" | "binary") {
        if (oid === INT8_OID) return (value: string) => Number(value);
        return pgModule.types.getTypeParser(oid, format);
      },
    } as pg.CustomTypesConfig;
    const pool = new pgModule.Pool({
      connectionString: options.dsn,
      max: options.maxConnections ?? 10,
      types,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      // TCP keep-alive, so a server that vanished without closing its sockets is noticed.
      keepAlive: true,
    });
    // An idle client that loses its server (a restart, a fail-over) emits "error" on the pool,
    // which then drops it; without a listener that would crash the process. The next query opens
    // a new connection, or reports the failure to its caller as unavailable.
    pool.on("error", () => {});
    // A checked-out client between two statements (Kysely holds one from connect to query, and
    // through a transaction) has no query to fail: the server's "terminating connection" would
    // be an unheard "error" event on the client itself. Heard here, it marks the client broken;
    // its next statement fails as unavailable and the pool drops it on release.
    pool.on("connect", (client) => client.on("error", () => {}));
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: options.log });
  }
  try {
    await migrate(db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  let closed = false;
  let probe: Promise<boolean> | undefined;
  let answer: { ok: boolean; at: number } | undefined;
  const runProbe = async (): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
    });
    const query = db.selectNoFrom((eb) => eb.val(1).as("one")).execute().then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([query, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    db,
    driver: options.driver,
    ...(options.driver === "postgres" ? { dsn: options.dsn } : {}),
    async ping() {
      if (closed) return false;
      if (answer !== undefined && performance.now() - answer.at < PING_CACHE_MS) return answer.ok;
      probe ??= runProbe().then((ok) => {
        probe = undefined;
        answer = { ok, at: performance.now() };
        return ok;
      });
      const ok = await probe;
      return ok && !closed;
    },
    close: () => {
      closed = true;
      return db.destroy();
    },
  };
}

/** A compiled WebAssembly module, as PGlite takes it. */
type WasmModule = NonNullable<PGliteOptions["pgliteWasmModule"]>;
/** The global `WebAssembly` object (its value; the compiler options here type only its namespace). */
const { WebAssembly: wasm } = globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => WasmModule } };

let pgliteWasm: WasmModule | undefined;

/**
 * PGlite's WebAssembly module, compiled once per process and synchronously: functions compile
 * lazily on first call, so this takes some tens of milliseconds, and it spares the start the
 * stall of PGlite's own asynchronous compilation, which blocks the main thread for hundreds of
 * milliseconds shortly after the database opens. `undefined` when the file cannot be found
 * (PGlite then loads it itself).
 */
function compiledPgliteWasm(): WasmModule | undefined {
  if (pgliteWasm !== undefined) return pgliteWasm;
  try {
    const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
    pgliteWasm = new wasm.Module(readFileSync(join(dirname(entry), "pglite.wasm")));
  } catch {
    return undefined;
  }
  return pgliteWasm;
}

/** Applies every pending migration; the first failure is thrown with its cause. */
export async function migrate(db: Db): Promise<void> {
  if (await allMigrationsApplied(db)) return;
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new Error(`database migration ${failed} failed`, { cause: error });
  }
}

/**
 * True when the database records exactly the in-code migrations as applied, read with two plain
 * queries. A start on an up-to-date database then skips the Migrator, whose checks (catalog
 * introspection twice, the lock table, an advisory lock and a transaction) are a noticeable part
 * of a PGlite start. Anything else (a new database, a pending or an unknown migration) goes
 * through the Migrator, which applies or reports it under its lock.
 */
async function allMigrationsApplied(db: Db): Promise<boolean> {
  const table = await sql<{ exists: boolean }>`select to_regclass(${DEFAULT_MIGRATION_TABLE}) is not null as "exists"`.execute(db);
  if (table.rows[0]?.exists !== true) return false;
  const applied = await sql<{ name: string }>`select name from ${sql.table(DEFAULT_MIGRATION_TABLE)}`.execute(db);
  const known = Object.keys(await migrationProvider.getMigrations());
  const names = new Set(applied.rows.map((r) => r.name));
  return names.size === known.length && known.every((name) => names.has(name));
}

/** The embedded database directory inside the data directory. */
export function pgliteDir(dataDir: string): string {
  return join(dataDir, "pglite");
}
