// npx tsx bench/rest.ts
// REST transcoding overhead: GET /api/v1/instance/profile against Connect JSON
// GetInstanceProfile on the same server process (same service, same interceptors), and against
// a bare node:http handler returning a JSON body of the same shape. Two servers are measured:
//   - the real app (src/main.ts): every call reads the embedded database (PGlite), which
//     dominates the cost;
//   - a "stub" server (bench/servers/rest-stub.ts): the same Connect handler, REST handler
//     and interceptor chain as the app, but GetInstanceProfile answers a constant, so the
//     transport and transcoding overhead is what is left.
// Every server runs as an esbuild bundle, as `npm start` runs ours. Contestants alternate round
// by round; medians are printed with the ratios.
// Targets: REST >= 1.0x Connect JSON, >= 0.5x bare node:http (stub server).
//   BENCH_SECONDS (5)  BENCH_ROUNDS (3)  BENCH_CONNECTIONS (32)
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runLoad, type LoadResult, type LoadTarget } from "./lib/load.js";
import { ROOT, startServer, type ServerProcess } from "./lib/process.js";
import { printLoadTable } from "./lib/report.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "bench-rest-"));
  const servers: ServerProcess[] = [];
  try {
    execFileSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { stdio: "inherit" });
    const memos = await startServer("memos-connect", "dist/main.js", { MEMOS_DATA: dataDir, MEMOS_LOG_LEVEL: "warn" });
    servers.push(memos);
    const stub = await startServer("stub", "bench/servers/rest-stub.ts", {}, { bundle: true });
    servers.push(stub);
    const bare = await startServer("bare", "bench/servers/bare-http.ts", {}, { bundle: true });
    servers.push(bare);
    const restTarget = (s: ServerProcess): LoadTarget => ({ url: s.baseUrl + "/api/v1/instance/profile", method: "GET" });
    const connectTarget = (s: ServerProcess): LoadTarget => ({
      url: s.baseUrl + "/memos.api.v1.InstanceService/GetInstanceProfile",
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    await scenario("app (PGlite read per call)", [
      { name: "REST GET /api/v1/instance/profile", server: memos, target: restTarget(memos) },
      { name: "Connect JSON GetInstanceProfile", server: memos, target: connectTarget(memos) },
      { name: "bare node:http, same JSON", server: bare, target: restTarget(bare) },
    ]);
    await scenario("stub (same transports and interceptors, constant answer)", [
      { name: "REST GET /api/v1/instance/profile", server: stub, target: restTarget(stub) },
      { name: "Connect JSON GetInstanceProfile", server: stub, target: connectTarget(stub) },
      { name: "bare node:http, same JSON", server: bare, target: restTarget(bare) },
    ]);
  } finally {
    for (const s of servers) await s.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function scenario(title: string, contestants: ReadonlyArray<{ name: string; server: ServerProcess; target: LoadTarget }>): Promise<void> {
  // The REST answer must be a real one before it is timed.
  const probe = await fetch(contestants[0]!.target.url);
  const restBody = await probe.text();
  if (probe.status !== 200) throw new Error(`REST probe answered ${probe.status}: ${restBody}`);
  const bareBody = await (await fetch(contestants[2]!.target.url)).text();
  if (bareBody !== restBody) console.log(`(the bare handler's body differs from REST's: ${bareBody.length} vs ${restBody.length} bytes)`);

  console.log(`\n## ${title}: ${ROUNDS} rounds x ${SECONDS} s, ${CONNECTIONS} keep-alive connections, contestants alternate\n`);
  for (const c of contestants) await runLoad(c.target, { connections: CONNECTIONS, seconds: 1 }); // warm-up
  const results: LoadResult[][] = contestants.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, c] of contestants.entries()) {
      results[i]!.push(await runLoad(c.target, { connections: CONNECTIONS, seconds: SECONDS, serverCpuMs: c.server.cpuMs }));
    }
  }
  printLoadTable(contestants.map((c) => c.name), results, "REST / this");
}

await main();
