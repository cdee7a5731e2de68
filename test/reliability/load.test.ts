/**
 * Load: the mixed workload (sign-in, create, filtered and paged lists, get, upload, download,
 * thumbnails over Connect JSON and REST) from 50 concurrent keep-alive clients against the server
 * as a child process (`src/main.ts`), on PGlite and on a real Postgres server. Each run warms up
 * under the same load until the server's resident set levels off (15 to 60 s), then measures for
 * LOAD_SECONDS (default 60). Asserts no 5xx, no network error and no wrong answer in either
 * phase, and no growth trend of the resident set while measured; prints per-operation p50/p99
 * and req/s.
 *
 *   LOAD_SECONDS=60 NODE_OPTIONS=--experimental-vm-modules npx jest test/reliability/load.test.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type ServerProcess } from "../../bench/lib/process.js";
import { findPostgresBin, startPostgres, type TestPostgres } from "../support/postgres.js";
import { formatWorkloadReport, rssSettled, rssTrend, runWorkload } from "./workload.js";

const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const CLIENTS = 50;
/**
 * The warm-up: under a new load the heap, the allocator's arenas (sharp's worker threads each get
 * their own) and the caches grow before they level off, which takes a few thousand requests of
 * this mix (measured: the resident set rose for about 3,000 and then stayed flat for as long
 * again). So the warm-up lasts at least 15 s and 3,000 requests, and then until the resident set
 * has stopped climbing (under 5% in 15 s), at most 60 s.
 */
const WARMUP = { minSeconds: 15, minRequests: 3000, maxSeconds: 60 };
/**
 * Largest growth the measured window's trend may account for: 15% of the median RSS, at least
 * 64 MiB (about the swing of the resident set under this load: garbage collections, buffers of
 * uploads in flight, PGlite's WebAssembly memory growing in steps; a 66 MiB swing was seen on
 * PGlite within one minute that ended lower than it peaked). A leak of 80 MiB a minute fails it:
 * about 20 KiB per request at 70 req/s.
 */
const trendTolerance = (medianMiB: number) => Math.max(64, 0.15 * medianMiB);
const TIMEOUT_MS = (WARMUP.maxSeconds + SECONDS) * 1000 + 180_000;

const describeIfPostgres = findPostgresBin() !== undefined ? describe : describe.skip;

/** Runs the workload against `server`, prints the figures, and checks them. */
async function loadAndCheck(title: string, server: ServerProcess): Promise<void> {
  const warmup: number[] = [];
  const measured: number[] = [];
  const result = await runWorkload({
    baseUrl: server.baseUrl,
    clients: CLIENTS,
    seconds: SECONDS,
    warmup: { ...WARMUP, settled: () => rssSettled(warmup) },
    onSecond: (_, phase) => {
      try {
        (phase === "warmup" ? warmup : measured).push(server.rssMiB());
      } catch {
        // The process is gone; its requests fail and say so.
      }
    },
  });
  const trend = rssTrend(measured);
  console.log(formatWorkloadReport(`${title}, ${CLIENTS} clients`, result, trend) + `\nserver RSS (MiB, one a second) warming up: ${warmup.map((m) => m.toFixed(0)).join(" ")}\nmeasured: ${measured.map((m) => m.toFixed(0)).join(" ")}`);

  for (const phase of [result.warmup, result]) {
    expect(phase.failures).toEqual([]);
    expect({ serverErrors: phase.serverErrors, networkErrors: phase.networkErrors, wrong: phase.wrong }).toEqual({ serverErrors: 0, networkErrors: 0, wrong: 0 });
  }
  // Every operation of the mix ran while measured.
  for (const op of ["SignIn", "CreateMemo", "ListMemos", "next page", "GetMemo", "Upload multipart", "CreateAttachment", "Download", "Thumbnail"]) {
    expect([op, result.ops.some((o) => o.op.includes(op) && o.count > 0)]).toEqual([op, true]);
  }
  // One sample a second, from a timer that shares this process with the 50 clients: some ticks
  // come late, so three quarters of them are enough for the trend.
  expect(measured.length).toBeGreaterThanOrEqual(Math.floor(SECONDS * 0.75));
  expect(trend.trendGrowthMiB).toBeLessThan(trendTolerance(trend.medianMiB));
}

describe("mixed load on PGlite", () => {
  let dataDir: string;
  let server: ServerProcess | undefined;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "memos-load-"));
    server = await startServer("memos (PGlite)", "src/main.ts", { MEMOS_DRIVER: "pglite", MEMOS_DATA: dataDir }, { timeoutMs: 120_000 });
  }, 150_000);
  afterAll(async () => {
    try {
      await server?.stop();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test(`${CLIENTS} clients for ${SECONDS} s: no 5xx, no network error, no RSS growth trend`, () => loadAndCheck("PGlite", server!), TIMEOUT_MS);
});

describeIfPostgres("mixed load on Postgres", () => {
  let pg: TestPostgres | undefined;
  let dataDir: string;
  let server: ServerProcess | undefined;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "memos-load-"));
    pg = await startPostgres();
    server = await startServer("memos (Postgres)", "src/main.ts", { MEMOS_DRIVER: "postgres", MEMOS_DSN: pg.dsn, MEMOS_DATA: dataDir }, { timeoutMs: 120_000 });
  }, 150_000);
  afterAll(async () => {
    try {
      await server?.stop();
    } finally {
      pg?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test(`${CLIENTS} clients for ${SECONDS} s: no 5xx, no network error, no RSS growth trend`, () => loadAndCheck("Postgres", server!), TIMEOUT_MS);
});
