// Baseline: a minimal stock connect-node server (no interceptors, no CORS, no one-port sniffer)
// serving the same InstanceService implementation on the same kind of database.
import http from "node:http";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { InstanceService } from "../../gen/memos/api/v1/instance_service_pb.js";
import { initAccessMode } from "../../src/auth/access-mode-store.js";
import { createInstanceService } from "../../src/services/instance-service.js";
import { openDatabase } from "../../src/store/database.js";
import { createSystemSettingRepository } from "../../src/store/system-setting-repository.js";

const database =
  process.env.MEMOS_DRIVER === "postgres"
    ? await openDatabase({ driver: "postgres", dsn: process.env.MEMOS_DSN! })
    : await openDatabase({ driver: "pglite", dataDir: join(mkdtempSync(join(tmpdir(), "bench-stock-")), "pglite") });
const settings = createSystemSettingRepository(database.db);
await initAccessMode(settings, undefined);
const impl = createInstanceService({
  db: database.db,
  version: "0.1.0",
  instanceUrl: undefined,
});
const adapter = connectNodeAdapter({ routes: (router) => router.service(InstanceService, impl) });
http
  .createServer((req, res) => {
    if (req.url === "/healthz") return void res.end("ok");
    adapter(req, res);
  })
  .listen(Number(process.env.MEMOS_PORT), "127.0.0.1");
process.on("SIGTERM", () => void database.close().then(() => process.exit(0)));
