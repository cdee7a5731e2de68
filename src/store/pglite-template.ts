import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, sep } from "node:path";
import { Kysely } from "kysely";
import { migrate } from "./database.js";
import { migrationProvider } from "./migrations.js";
import { PGliteDialect } from "./pglite-driver.js";
import type { Database } from "./schema.js";

/**
 * A freshly initialised and migrated PGlite cluster, made once (at `npm install`, by
 * scripts/pglite-template.ts) so that a new data directory starts from a copy instead of running
 * PGlite's initdb and every migration, which take seconds. Kept twice: as a dump (for databases
 * in memory) and as a closed data directory (copied file by file into a new one, much faster
 * than loading the dump). Keyed by the PGlite version, since a cluster only opens in the version
 * that made it. Start-up still applies the migrations added since the template was made.
 */
export function pgliteTemplatePath(): string | undefined {
  try {
    // The package does not export its package.json: find it from the entry point's node_modules.
    const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
    const marker = `${sep}node_modules${sep}`;
    const nodeModules = entry.slice(0, entry.lastIndexOf(marker) + marker.length - 1);
    const pkg = join(nodeModules, "@electric-sql", "pglite", "package.json");
    const version = (JSON.parse(readFileSync(pkg, "utf8")) as { version: string }).version;
    return join(nodeModules, ".cache", "memos-connect", `pglite-${version}.tar.gz`);
  } catch {
    return undefined;
  }
}

/** The template as a data directory, beside the dump. */
function templateDirOf(path: string): string {
  return path.replace(/\.tar\.gz$/, ".dir");
}

/** The migrations applied in the template, beside the dump. */
function templateMigrationsOf(path: string): string {
  return path.replace(/\.tar\.gz$/, ".migrations.json");
}

/**
 * The template's path when one was made for the installed PGlite and this code knows every
 * migration in it (a template made by newer code would not open: the migrator refuses a
 * database with migrations it does not have).
 */
async function usableTemplatePath(): Promise<string | undefined> {
  const path = pgliteTemplatePath();
  if (path === undefined || !existsSync(path) || !existsSync(templateMigrationsOf(path))) return undefined;
  try {
    const applied = JSON.parse(readFileSync(templateMigrationsOf(path), "utf8")) as unknown;
    if (!Array.isArray(applied)) return undefined;
    const known = await migrationProvider.getMigrations();
    return applied.every((name) => typeof name === "string" && Object.hasOwn(known, name)) ? path : undefined;
  } catch {
    return undefined;
  }
}

/** The template's bytes, when a usable one was made for the installed PGlite. */
export async function readPgliteTemplate(): Promise<Blob | undefined> {
  const path = await usableTemplatePath();
  return path === undefined ? undefined : new Blob([readFileSync(path)]);
}

/**
 * Copies the template's data directory into the new data directory `dataDir`; false when there
 * is no usable one. `PG_VERSION` is copied last, so a copy cut short still counts as new (see
 * {@link isNewDataDir}) and is made again at the next start.
 */
export async function copyPgliteTemplate(dataDir: string): Promise<boolean> {
  const path = await usableTemplatePath();
  const source = path === undefined ? undefined : templateDirOf(path);
  if (source === undefined || !existsSync(join(source, "PG_VERSION"))) return false;
  cpSync(source, dataDir, { recursive: true, filter: (from) => from !== join(source, "PG_VERSION") });
  cpSync(join(source, "PG_VERSION"), join(dataDir, "PG_VERSION"));
  return true;
}

/** True when `dataDir` holds no cluster yet (PostgreSQL writes PG_VERSION at initdb). */
export function isNewDataDir(dataDir: string): boolean {
  return !existsSync(join(dataDir, "PG_VERSION"));
}

/** True when the template at `path` is complete and holds exactly `migrations`. */
function templateHolds(path: string, migrations: readonly string[]): boolean {
  try {
    const applied = readFileSync(templateMigrationsOf(path), "utf8");
    return applied === JSON.stringify(migrations) && existsSync(path) && existsSync(join(templateDirOf(path), "PG_VERSION"));
  } catch {
    return false;
  }
}

/**
 * Makes the template, unless the one there already holds these migrations: an in-memory cluster,
 * migrated, dumped, and opened once into a directory.
 */
export async function writePgliteTemplate(): Promise<string | undefined> {
  const path = pgliteTemplatePath();
  if (path === undefined) return undefined;
  const migrations = Object.keys(await migrationProvider.getMigrations());
  if (templateHolds(path, migrations)) return path;
  const { PGlite } = await import("@electric-sql/pglite");
  const pg = new PGlite();
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pg) });
  let dump: Blob;
  try {
    await migrate(db);
    dump = await pg.dumpDataDir("gzip");
  } finally {
    await db.destroy();
  }
  const parent = dirname(path);
  mkdirSync(parent, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const tmpDir = `${templateDirOf(path)}.${process.pid}.tmp`;
  try {
    const dir = new PGlite({ dataDir: tmpDir, loadDataDir: dump });
    await dir.waitReady;
    await dir.close();
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    // Replaced in an order that never pairs a dump or directory with the wrong migration list:
    // the list goes first (a reader then finds no usable template), and comes back last.
    rmSync(templateMigrationsOf(path), { force: true });
    rmSync(templateDirOf(path), { recursive: true, force: true });
    renameSync(tmpDir, templateDirOf(path));
    renameSync(tmp, path);
    writeFileSync(templateMigrationsOf(path), JSON.stringify(migrations));
    return path;
  } finally {
    rmSync(tmp, { force: true });
    rmSync(tmpDir, { recursive: true, force: true });
  }
}
