// npx tsx bench/auth.ts
// Sign-in under load and what it does to a cheap RPC on the same server. Starts the app on
// in-memory PGlite, signs up 20 users, then measures GetInstanceProfile latency twice: alone
// (baseline) and while 20 loops sign in back to back. bcrypt runs on libuv's thread pool with a
// bounded concurrency, so the event loop should stay responsive (target: p99 <= 50 ms).
//   BENCH_AUTH_SECONDS (8)   BENCH_AUTH_LOOPS (20)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Writable } from "node:stream";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AuthService } from "../gen/memos/api/v1/auth_service_pb.js";
import { InstanceService } from "../gen/memos/api/v1/instance_service_pb.js";
import { UserService } from "../gen/memos/api/v1/user_service_pb.js";
import { startApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { openDatabase } from "../src/store/database.js";

const SECONDS = Number(process.env.BENCH_AUTH_SECONDS ?? 8);
const LOOPS = Number(process.env.BENCH_AUTH_LOOPS ?? 20);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), "bench-auth-"));
  const config = loadConfig({ MEMOS_PORT: "0", MEMOS_ADDR: "127.0.0.1", MEMOS_DATA: dataDir });
  const quiet = new Writable({ write: (_c, _e, done) => done() });
  const app = await startApp(config, createLogger("warn", quiet), { database: await openDatabase({ driver: "pglite" }) });
  try {
    const baseUrl = `http://127.0.0.1:${app.port}`;
    const transport = (address: string) =>
      createConnectTransport({
        baseUrl,
        httpVersion: "1.1",
        useBinaryFormat: true,
        interceptors: [(next) => (req) => (req.header.set("X-Forwarded-For", address), next(req))],
      });
    const users = Array.from({ length: LOOPS }, (_, i) => ({ username: `bench-${i}`, password: `pw-${i}`, address: `10.0.0.${i + 1}` }));
    const setup = createClient(UserService, transport("10.0.1.1"));
    for (const u of users) await setup.createUser({ user: { username: u.username, password: u.password } });

    const profile = createClient(InstanceService, transport("10.0.2.1"));
    const measureCheap = async (until: () => boolean) => {
      const latencies: number[] = [];
      while (!until()) {
        const start = performance.now();
        await profile.getInstanceProfile({});
        latencies.push(performance.now() - start);
      }
      return latencies.sort((a, b) => a - b);
    };

    // Warm-up, then the baseline: the cheap RPC alone.
    let deadline = Date.now() + 1000;
    await measureCheap(() => Date.now() >= deadline);
    deadline = Date.now() + SECONDS * 1000;
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    const baseline = await measureCheap(() => Date.now() >= deadline);
    loopDelay.disable();
    const baselineLoopP99 = loopDelay.percentile(99) / 1e6;
    loopDelay.reset();

    // Under load: LOOPS sign-in loops plus the cheap RPC loop, for the same time.
    deadline = Date.now() + SECONDS * 1000;
    let signIns = 0;
    let failures = 0;
    const started = performance.now();
    const loops = users.map(async (u) => {
      const auth = createClient(AuthService, transport(u.address));
      while (Date.now() < deadline) {
        try {
          await auth.signIn({ credentials: { case: "passwordCredentials", value: { username: u.username, password: u.password } } });
          signIns++;
        } catch {
          failures++;
        }
      }
    });
    loopDelay.enable();
    const [loaded] = await Promise.all([measureCheap(() => Date.now() >= deadline), ...loops]);
    loopDelay.disable();
    const loadedLoopP99 = loopDelay.percentile(99) / 1e6;
    const elapsed = (performance.now() - started) / 1000;

    const row = (name: string, l: number[]) =>
      `${name.padEnd(34)} ${String(l.length).padStart(7)} ${percentile(l, 50).toFixed(2).padStart(9)} ${percentile(l, 99).toFixed(2).padStart(9)}`;
    console.log(`GetInstanceProfile latency (ms), ${SECONDS} s each, PGlite, ${LOOPS} sign-in loops under load`);
    console.log(`${"scenario".padEnd(34)} ${"calls".padStart(7)} ${"p50".padStart(9)} ${"p99".padStart(9)}`);
    console.log(`${row("baseline (no sign-ins)", baseline)}   event-loop delay p99 ${baselineLoopP99.toFixed(1)} ms`);
    console.log(`${row(`with ${LOOPS} concurrent sign-in loops`, loaded)}   event-loop delay p99 ${loadedLoopP99.toFixed(1)} ms`);
    console.log(`sign-ins: ${signIns} in ${elapsed.toFixed(1)} s = ${(signIns / elapsed).toFixed(1)}/s (failed: ${failures})`);
    const p99 = percentile(loaded, 99);
    console.log(`target p99 <= 50 ms under load: ${p99 <= 50 ? "met" : "NOT met"} (${p99.toFixed(2)} ms)`);
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
