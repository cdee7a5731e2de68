// npx tsx bench/rest.ts
// REST transcoding overhead: GET /api/v1/instance/profile against Connect JSON
// GetInstanceProfile on the same server process (same service, same interceptors), and against
// a bare node:http handler returning a JSON body of the same shape. Two servers are measured:
//   - the real app (src/main.ts): every call reads the embedded database (PGlite), which
//     dominates the cost;
//   - a "stub" server (this file with BENCH_REST_STUB=1): the same Connect handler, REST handler
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

/** The app's transport stack over a constant GetInstanceProfile (no database). */
async function serveStub(): Promise<void> {
  const { create } = await import("@bufbuild/protobuf");
  const { createContextValues } = await import("@connectrpc/connect");
  const pb = await import("../gen/memos/api/v1/instance_service_pb.js");
  const { createIdentityResolver } = await import("../src/auth/identity.js");
  const { createLogger } = await import("../src/logger.js");
  const { createConnectHandler } = await import("../src/server/connect-adapter.js");
  const { createRoutes, registration } = await import("../src/server/connect-routes.js");
  const { createCors } = await import("../src/server/cors.js");
  const { answerNotFound } = await import("../src/server/http-handler.js");
  const { createAuthInterceptor } = await import("../src/server/interceptors/auth.js");
  const { createLoggingInterceptor } = await import("../src/server/interceptors/logging.js");
  const { createMetadataInterceptor } = await import("../src/server/interceptors/metadata.js");
  const { createRecoveryInterceptor } = await import("../src/server/interceptors/recovery.js");
  const { listen } = await import("../src/server/listener.js");
  const { peerAddressKey } = await import("../src/server/request-context.js");
  const { createRestHandler } = await import("../src/server/rest/rest-handler.js");

  const logger = createLogger("warn");
  const interceptors = [
    createMetadataInterceptor(),
    createLoggingInterceptor(logger),
    createRecoveryInterceptor(logger),
    createAuthInterceptor({ resolver: createIdentityResolver({}), readAccessMode: async () => "PRIVATE" as const }),
  ];
  const profile = create(pb.InstanceProfileSchema, { version: "0.1.0", needsSetup: true, accessMode: pb.InstanceAccessMode.PRIVATE });
  const services = [registration(pb.InstanceService, { getInstanceProfile: async () => profile })];
  const maxBodyBytes = 256 << 20;
  const cors = createCors(undefined);
  const connect = createConnectHandler({
    routes: createRoutes(services),
    interceptors,
    readMaxBytes: maxBodyBytes,
    contextValues: (req) => createContextValues().set(peerAddressKey, req.socket?.remoteAddress ?? ""),
    logger,
  });
  const rest = createRestHandler({ services, interceptors, maxBodyBytes, logger });
  await listen(
    (req, res) => {
      if (cors(req, res)) return;
      if (connect(req, res)) return;
      if (req.url === "/healthz") return void res.end("ok");
      void rest(req, res).then((done) => done || answerNotFound(req, res));
    },
    Number(process.env.MEMOS_PORT),
    "127.0.0.1",
  );
  process.on("SIGTERM", () => process.exit(0));
}

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
    const stub = await startServer("stub", "bench/rest.ts", { BENCH_REST_STUB: "1" }, { bundle: true });
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
  if (probe.status !== 200) throw new Error(`REST probe answered ${probe.status}: ${await probe.text()}`);

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

if (process.env.BENCH_REST_STUB === "1") {
  await serveStub();
} else {
  await main();
}
