// Baseline: a bare node:http handler that returns the JSON body the stub server's REST
// GetInstanceProfile answers, byte for byte (bench/rest.ts checks that they match).
import http from "node:http";

const body = JSON.stringify({
  version: "0.1.0",
  demo: false,
  instanceUrl: "",
  commit: "",
  needsSetup: true,
  accessMode: "INSTANCE_ACCESS_MODE_PRIVATE",
});
http
  .createServer((req, res) => {
    if (req.url === "/healthz") return void res.end("ok");
    let n = 0;
    req.on("data", (c: Buffer) => (n += c.length));
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  })
  .listen(Number(process.env.MEMOS_PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
