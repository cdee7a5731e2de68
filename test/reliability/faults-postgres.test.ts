/**
 * Faults: Postgres stops (`pg_ctl stop -m fast`) under a concurrent CreateMemo load against the
 * server as a child process (`src/main.ts`, MEMOS_DRIVER=postgres). While it is down every call
 * fails fast with `unavailable` (Connect 503, REST 503 `{"code":14}`, file route 503, live events
 * 503) and `/healthz` answers 503; the process stays up. When Postgres is started again the server
 * resumes by itself (no restart), and every write it acknowledged is in the database. Skipped when
 * the PostgreSQL server binaries are not installed. Also: a database host that accepts the TCP
 * connection and then says nothing (no Postgres binaries needed) fails within the connect timeout,
 * as unavailable.
 *
 *   NODE_OPTIONS=--experimental-vm-modules npx jest test/reliability/faults-postgres.test.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jest } from "@jest/globals";
import pg from "pg";
import { startServer, type ServerProcess } from "../../bench/lib/process.js";
import { asUnavailable } from "../../src/server/unavailable.js";
import { openDatabase } from "../../src/store/database.js";
import { signUpAndIn } from "../auth/support.js";
import { findPostgresBin, startPostgres, type TestPostgres } from "../support/postgres.js";

jest.setTimeout(300_000);

const WRITERS = 8;
/** The server's MEMOS_DB_CONNECT_TIMEOUT_MS here. */
const CONNECT_TIMEOUT_MS = 2_000;
/**
 * A call during the outage must fail well before a client would give up: the connection timeout
 * plus a wide margin for a loaded machine. A call that hangs on a dead database fails this.
 */
const FAIL_FAST_BOUND_MS = CONNECT_TIMEOUT_MS + 8_000;

/** One CreateMemo call as the load generator saw it. */
interface Outcome {
  readonly startedAt: number;
  readonly ms: number;
  readonly status: number;
  /** Connect error code, or "ok". */
  readonly code: string;
  /** `memos/{uid}` of an acknowledged write. */
  readonly name?: string;
}

const describeIfPostgres = findPostgresBin() !== undefined ? describe : describe.skip;

describeIfPostgres("Postgres stopped under load", () => {
  let postgres: TestPostgres | undefined;
  let server: ServerProcess | undefined;
  let dataDir: string | undefined;

  beforeAll(async () => {
    postgres = await startPostgres();
    dataDir = mkdtempSync(join(tmpdir(), "faults-pg-"));
    server = await startServer(
      "memos-postgres",
      "src/main.ts",
      { MEMOS_DRIVER: "postgres", MEMOS_DSN: postgres.dsn, MEMOS_DATA: dataDir, MEMOS_DB_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS), MEMOS_LOG_LEVEL: "warn" },
      { timeoutMs: 180_000 },
    );
  });

  afterAll(async () => {
    try {
      await server?.stop();
    } finally {
      try {
        postgres?.stop();
      } finally {
        if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
      }
    }
  });

  test("calls fail fast with unavailable, /healthz is 503, the service resumes by itself and no acknowledged write is lost", async () => {
    const base = server!.baseUrl;
    const alice = await signUpAndIn(base);
    const auth = { authorization: `Bearer ${alice.accessToken}` };
    const outcomes: Outcome[] = [];
    let running = true;
    let sequence = 0;

    const createMemo = async (): Promise<Outcome> => {
      const startedAt = performance.now();
      const content = `load memo ${sequence++}`;
      try {
        const res = await fetch(`${base}/memos.api.v1.MemoService/CreateMemo`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ memo: { content, visibility: "PRIVATE" } }),
        });
        const body = (await res.json()) as { name?: string; code?: string };
        const ms = performance.now() - startedAt;
        return res.ok ? { startedAt, ms, status: res.status, code: "ok", name: body.name! } : { startedAt, ms, status: res.status, code: body.code ?? "?" };
      } catch (err) {
        return { startedAt, ms: performance.now() - startedAt, status: 0, code: `network: ${(err as Error).message}` };
      }
    };
    const writers = Array.from({ length: WRITERS }, async () => {
      while (running) outcomes.push(await createMemo());
    });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const status = async (path: string, headers: Record<string, string> = {}) => {
      const res = await fetch(base + path, { headers });
      const body = await res.text();
      return { status: res.status, body };
    };

    try {
      await sleep(2_000);
      const healthyAcks = outcomes.filter((o) => o.code === "ok").length;
      expect(healthyAcks).toBeGreaterThan(0);

      // Synchronous: returns once Postgres has shut down (sessions terminated, port closed).
      postgres!.shutdown();
      const downAt = performance.now();

      let notReadyMs: number | undefined;
      for (let deadline = downAt + 15_000; performance.now() < deadline; await sleep(50)) {
        if ((await status("/healthz")).status === 503) {
          notReadyMs = performance.now() - downAt;
          break;
        }
      }
      expect(notReadyMs).toBeDefined();
      expect(await status("/healthz")).toEqual({ status: 503, body: "Service unavailable." });

      // Every other route answers unavailable too, in its own shape.
      const restList = await status("/api/v1/memos", auth);
      expect(restList.status).toBe(503);
      expect(JSON.parse(restList.body)).toMatchObject({ code: 14, message: "database unavailable" });
      expect(await status("/file/attachments/any-uid", auth)).toEqual({ status: 503, body: JSON.stringify({ message: "database unavailable" }) });
      expect((await status("/api/v1/sse", auth)).status).toBe(503);

      await sleep(3_000);
      expect(server!.child.exitCode).toBeNull();

      postgres!.start();
      const upAt = performance.now();
      const during = outcomes.filter((o) => o.startedAt > downAt && o.startedAt + o.ms < upAt);
      expect(during.length).toBeGreaterThan(0);
      expect(new Set(during.map((o) => `${o.status} ${o.code}`))).toEqual(new Set(["503 unavailable"]));
      const failMs = during.map((o) => o.ms).sort((a, b) => a - b);
      expect(failMs[failMs.length - 1]).toBeLessThan(FAIL_FAST_BOUND_MS);

      let recoveredMs: number | undefined;
      for (let deadline = upAt + 60_000; performance.now() < deadline; await sleep(50)) {
        const ok = outcomes.find((o) => o.code === "ok" && o.startedAt > upAt);
        if (ok !== undefined) {
          recoveredMs = ok.startedAt + ok.ms - upAt;
          break;
        }
      }
      expect(recoveredMs).toBeDefined();
      let readyMs: number | undefined;
      for (let deadline = upAt + 30_000; performance.now() < deadline; await sleep(50)) {
        if ((await status("/healthz")).status === 200) {
          readyMs = performance.now() - upAt;
          break;
        }
      }
      expect(readyMs).toBeDefined();
      await sleep(2_000);
      running = false;
      await Promise.all(writers);

      // No write was acknowledged that the database does not have.
      const acknowledged = outcomes.flatMap((o) => (o.name === undefined ? [] : [o.name.slice("memos/".length)]));
      const client = new pg.Client({ connectionString: postgres!.dsn });
      await client.connect();
      let stored: Set<string>;
      try {
        stored = new Set((await client.query<{ uid: string }>("SELECT uid FROM memo")).rows.map((r) => r.uid));
      } finally {
        await client.end();
      }
      const lost = acknowledged.filter((uid) => !stored.has(uid));
      expect(lost).toEqual([]);
      expect(outcomes.filter((o) => o.code === "ok" && o.startedAt > upAt).length).toBeGreaterThan(0);
      expect(outcomes.filter((o) => o.status !== 200 && o.status !== 503)).toEqual([]);

      const pct = (p: number) => Math.round(failMs[Math.min(failMs.length - 1, Math.floor(p * failMs.length))]!);
      process.stdout.write(
        `faults-postgres: ${outcomes.length} CreateMemo calls from ${WRITERS} writers; ${acknowledged.length} acknowledged, ${lost.length} lost; ` +
          `${during.length} during the outage, all 503 unavailable: p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${pct(1)} ms; ` +
          `/healthz 503 ${Math.round(notReadyMs!)} ms after the stop; first acknowledged write ${Math.round(recoveredMs!)} ms and /healthz 200 ` +
          `${Math.round(readyMs!)} ms after Postgres was back\n`,
      );
    } finally {
      running = false;
      await Promise.all(writers);
    }
  });
});

describe("a database that accepts connections and never answers", () => {
  test("fails within the connect timeout, as unavailable", async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    try {
      const started = performance.now();
      const err = await openDatabase({ driver: "postgres", dsn: `postgres://memos@127.0.0.1:${port}/memos`, connectTimeoutMs: 500 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const ms = performance.now() - started;
      expect(err).toBeInstanceOf(Error);
      expect(asUnavailable(err)?.rawMessage).toBe("database unavailable");
      expect(ms).toBeLessThan(FAIL_FAST_BOUND_MS);
      process.stdout.write(`faults-postgres: silent database host, start-up failed as unavailable after ${Math.round(ms)} ms (connect timeout 500 ms)\n`);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
