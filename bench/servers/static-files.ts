// Baselines: a bare node:http static file server and a bare sharp thumbnail pipeline over BENCH_ROOT.
//   /static/<path>  -> stat + fs.createReadStream, Content-Type and Content-Length, nothing else
//   /sharp/<path>   -> the file through sharp: auto-orient, fit 600x600, JPEG q90 (TOOLCHAIN §8)
import { createReadStream } from "node:fs";
import { pipeline } from "node:stream";
import { stat } from "node:fs/promises";
import http from "node:http";
import { join } from "node:path";
import sharp from "sharp";

const root = process.env.BENCH_ROOT!;
/** Read size of the baseline's streams: Node's default unless BENCH_BARE_HWM says otherwise. */
const highWaterMark = Number(process.env.BENCH_BARE_HWM ?? 64 * 1024);
http
  .createServer((req, res) => {
    const url = req.url ?? "/";
    if (url === "/healthz") return void res.end("ok");
    if (url.startsWith("/static/")) {
      const path = join(root, url.slice("/static/".length));
      void stat(path).then(
        (s) => {
          res.writeHead(200, { "content-type": "application/octet-stream", "content-length": s.size });
          pipeline(createReadStream(path, { highWaterMark }), res, () => {}); // destroys the file stream if the client leaves
        },
        () => {
          res.statusCode = 404;
          res.end();
        },
      );
      return;
    }
    if (url.startsWith("/sharp/")) {
      void sharp(join(root, url.slice("/sharp/".length)))
        .rotate()
        .resize({ width: 600, height: 600, fit: "inside" })
        .jpeg({ quality: 90 })
        .toBuffer()
        .then((jpeg) => {
          res.writeHead(200, { "content-type": "image/jpeg", "content-length": jpeg.length });
          res.end(jpeg);
        });
      return;
    }
    res.statusCode = 404;
    res.end();
  })
  .listen(Number(process.env.MEMOS_PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
