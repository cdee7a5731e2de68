// npm run bench [-- scenario...]
// Runs each scenario's load against our server and its baselines in the same run, alternating
// them round by round, and prints the median figures and the ratios.
//   BENCH_SECONDS (5)  BENCH_ROUNDS (3)  BENCH_CONNECTIONS (32)
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findPostgresBin, startPostgres, type TestPostgres } from "../test/support/postgres.js";
import { runLoad, type LoadResult, type LoadTarget } from "./lib/load.js";
import { ROOT, startServer, type ServerProcess } from "./lib/process.js";
import { median, printLoadTable, printTable } from "./lib/report.js";

/** Our server as `npm start` runs it: the built bundle. */
const SERVER = "dist/main.js";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

/** One contestant of a scenario: a server and the request to send it. */
interface Contestant {
  readonly name: string;
  start(): Promise<ServerProcess>;
  target(server: ServerProcess): LoadTarget;
}

interface Scenario {
  readonly name: string;
  readonly description: string;
  run(): Promise<void>;
}

const tempDirs: string[] = [];
function tempDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "bench-memos-"));
  tempDirs.push(dir);
  return dir;
}

const connectJson = (path: string, body = "{}") => (s: ServerProcess): LoadTarget => ({
  url: s.baseUrl + path,
  method: "POST",
  headers: { "content-type": "application/json" },
  body,
});

const PROFILE = "/memos.api.v1.InstanceService/GetInstanceProfile";

/** A throwaway Postgres server shared by the scenarios that need one; started on first use. */
let postgres: TestPostgres | undefined;
let databases = 0;
/** Environment that points a server at a new, empty database on the shared Postgres server. */
function postgresEnv(): Record<string, string> {
  if (postgres === undefined) throw new Error("Postgres is not running");
  return { MEMOS_DRIVER: "postgres", MEMOS_DSN: postgres.createDatabase(`bench_${++databases}`) };
}

/** The unary scenario on one driver: our server, the stock adapter on the same implementation, bare node:http. */
function unaryScenario(name: string, driver: "pglite" | "postgres"): Scenario {
  const env = () => (driver === "postgres" ? postgresEnv() : {});
  return loadScenario(name, `GetInstanceProfile over Connect JSON (${driver === "postgres" ? "Postgres" : "PGlite"})`, driver === "postgres", [
      {
        name: "memos-connect",
        start: () => startServer("memos-connect", SERVER, { MEMOS_DATA: tempDataDir(), ...env() }),
        target: connectJson(PROFILE),
      },
      { name: "stock connect-node", start: () => startServer("stock", "bench/servers/stock-connect.ts", env()), target: connectJson(PROFILE) },
      { name: "bare node:http", start: () => startServer("bare", "bench/servers/bare-http.ts", {}), target: connectJson(PROFILE) },
  ]);
}

/** Idle time before RSS is read, so start-up garbage has been collected. */
const IDLE_MS = 3_000;

/**
 * Cold start to the first 200 from /healthz, on a new and on an existing data dir, and the idle
 * RSS of the server process, beside the targets. Runs each measurement ROUNDS times. Also the CPU
 * time the server process used until it was ready, which a busy machine does not inflate the way
 * it does wall time.
 */
const startupScenario: Scenario = {
  name: "startup",
  description: "cold start to /healthz 200 and idle RSS",
  async run() {
    const rows: Array<[string, number, string]> = [];
    const fresh: number[] = [];
    const again: number[] = [];
    const freshCpu: number[] = [];
    const againCpu: number[] = [];
    const rss: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const dir = tempDataDir();
      const first = await startServer("memos-connect", SERVER, { MEMOS_DATA: dir });
      fresh.push(first.startupMs);
      freshCpu.push(first.cpuMs());
      await first.stop();
      const second = await startServer("memos-connect", SERVER, { MEMOS_DATA: dir });
      again.push(second.startupMs);
      againCpu.push(second.cpuMs());
      await new Promise((r) => setTimeout(r, IDLE_MS));
      rss.push(second.rssMiB());
      await second.stop();
    }
    rows.push(["start, new data dir (PGlite), ms", median(fresh), "<= 5000"]);
    rows.push(["start, existing data dir (PGlite), ms", median(again), "<= 2500"]);
    rows.push(["CPU until ready, new data dir (PGlite), ms", median(freshCpu), "-"]);
    rows.push(["CPU until ready, existing data dir (PGlite), ms", median(againCpu), "-"]);
    rows.push(["idle RSS (PGlite), MiB", median(rss), "<= 450"]);
    if (findPostgresBin() !== undefined) {
      postgres ??= await startPostgres();
      const pgRss: number[] = [];
      const pgStart: number[] = [];
      const pgCpu: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const server = await startServer("memos-connect", SERVER, { MEMOS_DATA: tempDataDir(), ...postgresEnv() });
        pgStart.push(server.startupMs);
        pgCpu.push(server.cpuMs());
        await new Promise((r) => setTimeout(r, IDLE_MS));
        pgRss.push(server.rssMiB());
        await server.stop();
      }
      rows.push(["start (Postgres), ms", median(pgStart), "-"]);
      rows.push(["CPU until ready (Postgres), ms", median(pgCpu), "-"]);
      rows.push(["idle RSS (Postgres), MiB", median(pgRss), "<= 150"]);
    }
    printTable(["figure (median of rounds)", "measured", "target"], rows);
  },
};

/** A benchmark that is a script of its own (it prints its own tables), run as a child process. */
function scriptScenario(name: string, script: string, description: string): Scenario {
  return {
    name,
    description,
    async run() {
      execFileSync(process.execPath, ["--import", "tsx", join(ROOT, script)], { stdio: "inherit" });
    },
  };
}

const scenarios: Scenario[] = [unaryScenario("unary", "pglite")];
if (findPostgresBin() !== undefined) scenarios.push(unaryScenario("unary-pg", "postgres"));
scenarios.push(
  startupScenario,
  scriptScenario("rest", "bench/rest.ts", "REST against Connect JSON and bare node:http, same RPC (bench/rest.ts)"),
  scriptScenario("rest-matcher", "bench/rest-matcher.ts", "REST route matching time over the full route table (bench/rest-matcher.ts)"),
  scriptScenario("home", "bench/home.ts", "the web app's home-page load, server time on PGlite (bench/home.ts)"),
);

/**
 * A load scenario: starts every contestant (the first is ours, the others baselines), warms
 * them up, then runs ROUNDS rounds in which each contestant gets the same load in turn.
 */
function loadScenario(name: string, description: string, needsPostgres: boolean, contestants: readonly Contestant[]): Scenario {
  return {
    name,
    description,
    async run() {
      console.log(`${ROUNDS} rounds x ${SECONDS} s, ${CONNECTIONS} connections, contestants alternate within each round\n`);
      if (needsPostgres) postgres ??= await startPostgres();
      const servers: ServerProcess[] = [];
      try {
        for (const c of contestants) servers.push(await c.start());
        const results: LoadResult[][] = contestants.map(() => []);
        // Warm-up (JIT, connection pools), not counted.
        for (const [i, c] of contestants.entries()) await runLoad(c.target(servers[i]!), { connections: CONNECTIONS, seconds: 1 });
        for (let round = 0; round < ROUNDS; round++) {
          for (const [i, c] of contestants.entries()) {
            results[i]!.push(await runLoad(c.target(servers[i]!), { connections: CONNECTIONS, seconds: SECONDS }));
          }
        }
        printLoadTable(contestants.map((c) => c.name), results, "ours / this");
      } finally {
        for (const s of servers) await s.stop();
      }
    },
  };
}


const wanted = process.argv.slice(2);
execFileSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { stdio: "inherit" });
try {
  for (const s of scenarios) {
    if (wanted.length > 0 && !wanted.includes(s.name)) continue;
    console.log(`\n## ${s.name}: ${s.description}`);
    await s.run();
  }
} finally {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  postgres?.stop();
}
