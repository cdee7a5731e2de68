// Baseline: a bare node:http server that answers every Connect call with an empty binary message
// (a valid all-defaults answer) and every GET with an empty 200: the loopback floor of a request.
import http from "node:http";

http
  .createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": req.method === "POST" ? "application/proto" : "text/plain", "content-length": 0 });
      res.end();
    });
  })
  .listen(Number(process.env.MEMOS_PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
