import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A throwaway Postgres server for one test file. */
export interface TestPostgres {
  /** DSN of a fresh database on it. */
  readonly dsn: string;
  /** Creates another empty database and returns its DSN. */
  createDatabase(name: string): string;
  /** Shuts the server down (`pg_ctl stop -m fast`: sessions are terminated), keeping its data and port. */
  shutdown(): void;
  /** Starts the server again after `shutdown`, on the same port and data. */
  start(): void;
  stop(): void;
}

/** The Postgres server binaries directory (Debian layout), or undefined when none is installed. */
export function findPostgresBin(): string | undefined {
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(base, versions[0]!, "bin") : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr !== null ? addr.port : 0));
    });
  });
}

/**
 * Starts a Postgres server in a temporary directory on a free loopback port (initdb refuses to
 * run as root, so as root it runs as the `postgres` user). Call `stop()` in teardown.
 */
export async function startPostgres(): Promise<TestPostgres> {
  const bin = findPostgresBin();
  if (bin === undefined) throw new Error("PostgreSQL server binaries are not installed");
  const dir = mkdtempSync(join(tmpdir(), "memos-pg-"));
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", join(bin, cmd), ...args]] : [join(bin, cmd), args];
    const r = spawnSync(file as string, argv as string[], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
  };
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, "data");
  run("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]);
  const port = await freePort();
  let running = false;
  const start = () => {
    run("pg_ctl", [
      "-D", data, "-l", join(dir, "log"), "-w", "start",
      "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`,
    ]);
    running = true;
  };
  start();
  const dsnFor = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  const psql = (sql: string) => {
    const r = spawnSync(join(bin, "psql"), ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-c", sql], {
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  };
  psql("CREATE DATABASE memos_test");
  let stopped = false;
  return {
    dsn: dsnFor("memos_test"),
    createDatabase(name) {
      psql(`CREATE DATABASE ${name}`);
      return dsnFor(name);
    },
    shutdown() {
      run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
      running = false;
    },
    start,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        if (running) run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
