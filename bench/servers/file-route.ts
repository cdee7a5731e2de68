// Our file route (createFileRoute) over a local blob store rooted at BENCH_ROOT, with an in-memory
// lookup instead of the database, so the figures are those of the file serving path itself:
//   /file/attachments/big            -> assets/big.bin (application/octet-stream, public)
//   /file/attachments/photo-<n>      -> assets/photo.jpg (image/jpeg, row id n: its own thumbnail)
import http from "node:http";
import { createLocalBlobStore } from "../../src/blob/local-blob-store.js";
import { createThumbnailer } from "../../src/media/thumbnail.js";
import { createFileRoute, type FileAttachment } from "../../src/server/files/file-server.js";

const blobs = await createLocalBlobStore({ root: process.env.BENCH_ROOT! });
const route = createFileRoute<FileAttachment>({
  blobs,
  thumbnails: createThumbnailer({ blobs }),
  async lookup(uid) {
    if (uid === "big") return { id: 1, uid, filename: "big.bin", type: "application/octet-stream", content: { kind: "blob", key: "assets/big.bin" } };
    const photo = /^photo-(\d+)$/.exec(uid);
    if (photo !== null) return { id: Number(photo[1]), uid, filename: "photo.jpg", type: "image/jpeg", content: { kind: "blob", key: "assets/photo.jpg" } };
    return undefined;
  },
  authorize: async () => "public",
  resolveIdentity: async () => undefined,
});
http
  .createServer((req, res) => {
    if (req.url === "/healthz") return void res.end("ok");
    void route(req, res).then((done) => {
      if (!done) {
        res.statusCode = 404;
        res.end();
      }
    });
  })
  .listen(Number(process.env.MEMOS_PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
