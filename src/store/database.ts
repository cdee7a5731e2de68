import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Kysely, Migrator, PostgresDialect, type LogConfig } from "kysely";
import type pg from "pg";
import { migrationProvider } from "./migrations.js";
import { isNewDataDir, readPgliteTemplate } from "./pglite-template.js";
import type { Database } from "./schema.js";

/** The Kysely handle every repository takes. */
export type Db = Kysely<Database>;

/** Where the database lives. */
export type DatabaseOptions = (
  | { driver: "pglite"; /** Directory of the embedded database; `undefined` keeps it in memory. */ dataDir?: string; loadDataDir?: Blob | File }
  | { driver: "postgres"; dsn: string; /** Pool size. Default 10. */ maxConnections?: number }
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
  /** Cheap liveness probe: true when a trivial query succeeds. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

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
    const [{ PGlite }, { PGliteDialect }] = await Promise.all([import("@electric-sql/pglite"), import("kysely-pglite-dialect")]);
    let loadDataDir = options.loadDataDir;
    if (options.dataDir !== undefined) {
      mkdirSync(options.dataDir, { recursive: true });
      // A new directory starts from the install-time template when there is one (no initdb).
      if (loadDataDir === undefined && isNewDataDir(options.dataDir)) loadDataDir = readPgliteTemplate();
    }
    const client = new PGlite({ dataDir: options.dataDir, loadDataDir });
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
      connectionTimeoutMillis: 5_000,
    });
    // An idle client that loses its server emits "error" on the pool; without a listener that
    // would crash the process. The next query reports the failure to its caller instead.
    pool.on("error", () => {});
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: options.log });
  }
  try {
    await migrate(db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return {
    db,
    driver: options.driver,
    ...(options.driver === "postgres" ? { dsn: options.dsn } : {}),
    async ping() {
      try {
        await db.selectNoFrom((eb) => eb.val(1).as("one")).execute();
        return true;
      } catch {
        return false;
      }
    },
    close: () => db.destroy(),
  };
}

/** Applies every pending migration; the first failure is thrown with its cause. */
export async function migrate(db: Db): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new Error(`database migration ${failed} failed`, { cause: error });
  }
}

/** The embedded database directory inside the data directory. */
export function pgliteDir(dataDir: string): string {
  return join(dataDir, "pglite");
}
