import { openDatabase, type OpenDatabase } from "../../src/store/database.js";
import { findPostgresBin, startPostgres, type TestPostgres } from "./postgres.js";

/** The database kinds the store tests run against: PGlite always, Postgres when installed. */
export const DRIVERS: ReadonlyArray<"pglite" | "postgres"> =
  findPostgresBin() !== undefined ? ["pglite", "postgres"] : ["pglite"];

/** A migrated database of the given kind plus its teardown. */
export interface TestDatabase {
  readonly database: OpenDatabase;
  close(): Promise<void>;
}

/** Opens a fresh, migrated database: in-memory PGlite, or a throwaway Postgres server. */
export async function openTestDatabase(driver: "pglite" | "postgres"): Promise<TestDatabase> {
  if (driver === "pglite") {
    const database = await openDatabase({ driver: "pglite" });
    return { database, close: () => database.close() };
  }
  const server: TestPostgres = await startPostgres();
  try {
    const database = await openDatabase({ driver: "postgres", dsn: server.dsn });
    return {
      database,
      async close() {
        try {
          await database.close();
        } finally {
          server.stop();
        }
      },
    };
  } catch (err) {
    server.stop();
    throw err;
  }
}
