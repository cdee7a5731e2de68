import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, sep } from "node:path";

/**
 * A freshly initialised PGlite cluster, dumped once (at `npm install`, by
 * scripts/pglite-template.mjs) so that a new data directory starts from a copy instead of
 * running PGlite's initdb, which takes several seconds. Keyed by the PGlite version, since a dump
 * only loads into the version that made it. Migrations still run at start-up as usual.
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

/** The template's bytes, when one was made for the installed PGlite. */
export function readPgliteTemplate(): Blob | undefined {
  const path = pgliteTemplatePath();
  if (path === undefined || !existsSync(path)) return undefined;
  return new Blob([readFileSync(path)]);
}

/** True when `dataDir` holds no cluster yet (PostgreSQL writes PG_VERSION at initdb). */
export function isNewDataDir(dataDir: string): boolean {
  return !existsSync(join(dataDir, "PG_VERSION"));
}

/** Makes the template: an empty in-memory cluster, dumped and written atomically. */
export async function writePgliteTemplate(): Promise<string | undefined> {
  const path = pgliteTemplatePath();
  if (path === undefined) return undefined;
  const { PGlite } = await import("@electric-sql/pglite");
  const pg = new PGlite();
  try {
    await pg.waitReady;
    const dump = await pg.dumpDataDir("gzip");
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    renameSync(tmp, path);
    return path;
  } finally {
    await pg.close();
  }
}
