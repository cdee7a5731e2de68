/**
 * The file route over a real HTTP server on 127.0.0.1:0, once per blob backend (local files and
 * S3 through s3rver), with an in-memory attachment table injected as the lookup.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Readable } from "node:stream";
import sharp from "sharp";
import type { BlobStore } from "../../src/blob/blob-store.js";
import type { FileAccess } from "../../src/domain/attachment-access.js";
import { createThumbnailer } from "../../src/media/thumbnail.js";
import { createFileRoute, type FileAttachment, type FileIdentity, parseFileUrl } from "../../src/server/files/file-server.js";
import { BACKENDS, type BlobBackend } from "../support/blob-backends.js";

interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A raw HTTP/1.1 request: the path is sent exactly as given (no URL normalisation). */
function request(port: number, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, method: options.method ?? "GET", headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** A test attachment: what the lookup answers plus the access the authorizer grants. */
type TestAttachment = FileAttachment & { access: FileAccess | ((identity: FileIdentity | undefined) => FileAccess) };

describe.each(BACKENDS)("file server on %s blobs", (_name, startBackend) => {
  let backend: BlobBackend;
  let store: BlobStore;
  let server: Server;
  let port: number;
  const table = new Map<string, TestAttachment>();
  const lookups: string[] = [];
  /** Streams the route opened, to check that a disconnect destroys them. */
  const opened: Readable[] = [];
  let identityCalls = 0;

  beforeAll(async () => {
    backend = await startBackend();
    try {
      const base = backend.store;
      store = {
        ...base,
        get: async (key, range) => {
          const stream = await base.get(key, range);
          opened.push(stream);
          return stream;
        },
      };
      const route = createFileRoute<TestAttachment>({
        blobs: store,
        thumbnails: createThumbnailer({ blobs: store }),
        lookup: async (uid) => {
          lookups.push(uid);
          return table.get(uid);
        },
        authorize: async ({ attachment, identity }) =>
          typeof attachment.access === "function" ? attachment.access(await identity()) : attachment.access,
        resolveIdentity: async (req) => {
          identityCalls++;
          return req.headers.authorization === "Bearer alice" ? { userId: 1 } : undefined;
        },
      });
      server = createServer((req, res) => {
        void route(req, res).then((done) => {
          if (!done) {
            res.statusCode = 404;
            res.end("fallthrough");
          }
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as AddressInfo).port;
    } catch (err) {
      await backend.teardown();
      throw err;
    }
  });

  afterAll(async () => {
    try {
      if (server !== undefined) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    } finally {
      await backend?.teardown();
    }
  });

  /** Stores `bytes` and registers an attachment for them; answers its UID. */
  async function attachment(bytes: Buffer | string, over: Partial<TestAttachment> = {}): Promise<string> {
    const uid = randomUUID();
    const key = `assets/${uid}_${over.filename ?? "file"}`.replace(/[^\w/.-]/g, "_");
    const data = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
    await backend.store.put(key, data, { size: data.length });
    table.set(uid, { id: table.size + 1, uid, filename: "file.bin", type: "application/octet-stream", content: { kind: "blob", key }, access: "private", ...over });
    return uid;
  }

  const get = (path: string, headers: Record<string, string> = {}) => request(port, path, { headers });

  test("GET: the whole file with length, type, validators, security and cache headers", async () => {
    const uid = await attachment("0123456789", { type: "image/png", filename: "digits.png", access: "public" });
    const res = await get(`/file/attachments/${uid}`);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe("0123456789");
    expect(res.headers["content-length"]).toBe("10");
    expect(res.headers["content-type"]).toBe("image/png");
    expect(res.headers["accept-ranges"]).toBe("bytes");
    expect(res.headers.etag).toMatch(/^"[^"]+"$/);
    expect(Date.parse(res.headers["last-modified"]!)).not.toBeNaN();
    expect(res.headers["cache-control"]).toBe("public, no-cache");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["x-frame-options"]).toBe("DENY");
    expect(res.headers["content-security-policy"]).toBe("default-src 'none'; style-src 'unsafe-inline';");
    expect(res.headers["color-gamut"]).toBe("srgb, p3, rec2020");
    expect(res.headers["content-disposition"]).toBeUndefined();
    // The filename segment is ignored.
    expect((await get(`/file/attachments/${uid}/whatever-name.png`)).body.toString()).toBe("0123456789");
  });

  test("privately readable attachments are never stored by caches", async () => {
    const uid = await attachment("secret", { access: "private" });
    expect((await get(`/file/attachments/${uid}`)).headers["cache-control"]).toBe("private, no-store");
  });

  test.each([
    ["bytes=0-0", 206, "0", "bytes 0-0/10"],
    ["bytes=2-5", 206, "2345", "bytes 2-5/10"],
    ["bytes=-3", 206, "789", "bytes 7-9/10"],
    ["bytes=-100", 206, "0123456789", "bytes 0-9/10"],
    ["bytes=7-", 206, "789", "bytes 7-9/10"],
    ["bytes=8-1000", 206, "89", "bytes 8-9/10"],
    ["bytes=9-9", 206, "9", "bytes 9-9/10"],
    ["bytes=0-1,4-5", 200, "0123456789", undefined],
    ["bytes=5-2", 200, "0123456789", undefined],
    ["items=0-1", 200, "0123456789", undefined],
  ])("Range %s -> %d", async (range, status, body, contentRange) => {
    const uid = await attachment("0123456789", { type: "video/mp4" });
    const res = await get(`/file/attachments/${uid}`, { Range: range });
    expect(res.status).toBe(status);
    expect(res.body.toString()).toBe(body);
    expect(res.headers["content-range"]).toBe(contentRange);
    expect(res.headers["content-length"]).toBe(String(body.length));
  });

  test.each(["bytes=10-", "bytes=10-20", "bytes=-0", "bytes=99999999999999999999999-"])("unsatisfiable %s -> 416 with bytes */size", async (range) => {
    const uid = await attachment("0123456789", { type: "text/plain" });
    const res = await get(`/file/attachments/${uid}`, { Range: range });
    expect(res.status).toBe(416);
    expect(res.headers["content-range"]).toBe("bytes */10");
    expect(res.headers["accept-ranges"]).toBe("bytes");
  });

  test("If-Range with a stale validator serves everything", async () => {
    const uid = await attachment("0123456789");
    const { headers } = await get(`/file/attachments/${uid}`);
    expect((await get(`/file/attachments/${uid}`, { Range: "bytes=0-1", "If-Range": headers.etag! })).status).toBe(206);
    expect((await get(`/file/attachments/${uid}`, { Range: "bytes=0-1", "If-Range": '"stale"' })).status).toBe(200);
  });

  test("304 for a matching ETag or an unchanged If-Modified-Since; 200 otherwise", async () => {
    const uid = await attachment("cache me", { type: "image/gif", access: "public" });
    const first = await get(`/file/attachments/${uid}`);
    const etag = first.headers.etag!;
    const lastModified = first.headers["last-modified"]!;

    const byTag = await get(`/file/attachments/${uid}`, { "If-None-Match": etag });
    expect(byTag.status).toBe(304);
    expect(byTag.body.length).toBe(0);
    expect(byTag.headers.etag).toBe(etag);
    expect(byTag.headers["cache-control"]).toBe("public, no-cache");
    expect((await get(`/file/attachments/${uid}`, { "If-None-Match": `"other", W/${etag}` })).status).toBe(304);
    expect((await get(`/file/attachments/${uid}`, { "If-None-Match": "*" })).status).toBe(304);
    expect((await get(`/file/attachments/${uid}`, { "If-None-Match": '"other"' })).status).toBe(200);

    expect((await get(`/file/attachments/${uid}`, { "If-Modified-Since": lastModified })).status).toBe(304);
    expect((await get(`/file/attachments/${uid}`, { "If-Modified-Since": new Date(Date.now() + 60_000).toUTCString() })).status).toBe(304);
    expect((await get(`/file/attachments/${uid}`, { "If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT" })).status).toBe(200);
    // If-None-Match wins over If-Modified-Since.
    expect((await get(`/file/attachments/${uid}`, { "If-None-Match": '"other"', "If-Modified-Since": lastModified })).status).toBe(200);
  });

  test("HEAD: the same headers and no body, without opening the blob", async () => {
    const uid = await attachment("0123456789", { type: "application/pdf" });
    const before = opened.length;
    const res = await request(port, `/file/attachments/${uid}`, { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers["content-length"]).toBe("10");
    expect(res.headers["content-type"]).toBe("application/pdf");
    expect(res.body.length).toBe(0);
    const ranged = await request(port, `/file/attachments/${uid}`, { method: "HEAD", headers: { Range: "bytes=1-2" } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers["content-length"]).toBe("2");
    expect(opened.length).toBe(before);
  });

  test("Content-Disposition: attachment for downloads (RFC 5987 for other names), none for inline types", async () => {
    const text = await attachment("hello", { type: "text/plain", filename: "notes.txt" });
    const res = await get(`/file/attachments/${text}`);
    expect(res.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(res.headers["content-disposition"]).toBe('attachment; filename="notes.txt"');
    const unicode = await attachment("x", { type: "application/zip", filename: "résumé \"final\".zip" });
    expect((await get(`/file/attachments/${unicode}`)).headers["content-disposition"]).toBe(
      `attachment; filename="r_sum_ \\"final\\".zip"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.zip`,
    );
    for (const type of ["image/jpeg", "application/pdf", "audio/mpeg", "video/webm"]) {
      const uid = await attachment("x", { type, filename: "a.bin" });
      expect((await get(`/file/attachments/${uid}`)).headers["content-disposition"]).toBeUndefined();
    }
  });

  test("an SVG with a script is served under a CSP that forbids scripts; HTML is served as a download", async () => {
    const svg = await attachment('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>', {
      type: "image/svg+xml",
      filename: "x.svg",
    });
    const res = await get(`/file/attachments/${svg}`);
    expect(res.headers["content-type"]).toBe("image/svg+xml");
    expect(res.headers["content-security-policy"]).toMatch(/default-src 'none'/);
    expect(res.headers["content-security-policy"]).not.toMatch(/script-src/);
    expect(res.headers["x-content-type-options"]).toBe("nosniff");

    for (const type of ["text/html", "TEXT/HTML", "application/xhtml+xml", "text/javascript", "application/xml"]) {
      const uid = await attachment("<html><script>alert(1)</script></html>", { type, filename: "page.html" });
      const html = await get(`/file/attachments/${uid}`);
      expect(html.headers["content-type"]).toBe("application/octet-stream");
      expect(html.headers["content-disposition"]).toBe('attachment; filename="page.html"');
    }
  });

  test.each([
    "/file/attachments/..%2F..%2Fetc%2Fpasswd",
    "/file/attachments/../../etc/passwd",
    "/file/attachments/%2e%2e/secret",
    "/file/attachments/x/..%2F..%2Fsecret",
    "/file/attachments/x/a/b",
    "/file/attachments/a%5Cb",
    "/file/attachments/a%00b",
    "/file/attachments/%E0%A4%A",
    "/file/attachments/",
    "/file/attachments//x",
  ])("%s is refused without a lookup", async (path) => {
    const before = lookups.length;
    const res = await get(path);
    expect(res.status).toBe(404);
    expect(lookups.length).toBe(before);
  });

  test("parseFileUrl decodes the UID and the query flags", () => {
    expect(parseFileUrl("/file/attachments/abc?thumbnail=1&share_token=tok")).toEqual({ uid: "abc", thumbnail: true, motion: false, shareToken: "tok" });
    expect(parseFileUrl("/file/attachments/abc/name.png?thumbnail=TRUE&motion=true")).toEqual({ uid: "abc", thumbnail: true, motion: true });
    expect(parseFileUrl("/file/attachments/abc?thumbnail=yes")?.thumbnail).toBe(false);
  });

  test("authorization: unknown 404, denials 404/401/403 as JSON without file headers", async () => {
    expect((await get(`/file/attachments/${randomUUID()}`)).status).toBe(404);
    for (const [access, status] of [
      ["not-found", 404],
      ["unauthenticated", 401],
      ["forbidden", 403],
    ] as const) {
      const uid = await attachment("x", { access });
      const res = await get(`/file/attachments/${uid}`);
      expect(res.status).toBe(status);
      expect(JSON.parse(res.body.toString())).toEqual({ message: expect.any(String) });
      expect(res.headers["cache-control"]).toBe("private, no-store");
      expect(res.headers["x-content-type-options"]).toBeUndefined();
    }
  });

  test("the identity is resolved only when the decision needs it, once", async () => {
    const ownerOnly = await attachment("mine", { access: (who) => (who?.userId === 1 ? "private" : "unauthenticated") });
    const calls = identityCalls;
    expect((await get(`/file/attachments/${ownerOnly}`, { Authorization: "Bearer alice" })).status).toBe(200);
    expect((await get(`/file/attachments/${ownerOnly}`)).status).toBe(401);
    expect(identityCalls - calls).toBe(2);
    const open = await attachment("open", { access: "public" });
    await get(`/file/attachments/${open}`, { Authorization: "Bearer alice" });
    expect(identityCalls - calls).toBe(2);
  });

  test("other methods: 405 with Allow", async () => {
    const uid = await attachment("x");
    const res = await request(port, `/file/attachments/${uid}`, { method: "DELETE" });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe("GET, HEAD");
  });

  test("thumbnail=true: a 600 px JPEG, whole even when a range is asked; other types get the original", async () => {
    const png = await sharp({ create: { width: 1200, height: 900, channels: 3, background: "#369" } }).png().toBuffer();
    const uid = await attachment(png, { type: "image/png", filename: "big.png", access: "public" });
    for (const flag of ["true", "1"]) {
      const res = await get(`/file/attachments/${uid}?thumbnail=${flag}`, { Range: "bytes=0-10" });
      expect(res.status).toBe(200);
      expect(res.headers["content-type"]).toBe("image/jpeg");
      expect(res.headers["accept-ranges"]).toBeUndefined();
      expect(res.headers["cache-control"]).toBe("public, no-cache");
      const meta = await sharp(res.body).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", 600, 450]);
      const again = await get(`/file/attachments/${uid}?thumbnail=true`, { "If-None-Match": res.headers.etag! });
      expect(again.status).toBe(304);
    }
    const gif = await sharp({ create: { width: 10, height: 10, channels: 3, background: "#000" } }).gif().toBuffer();
    const gifUid = await attachment(gif, { type: "image/gif" });
    const original = await get(`/file/attachments/${gifUid}?thumbnail=true`);
    expect(original.headers["content-type"]).toBe("image/gif");
    expect(original.body.equals(gif)).toBe(true);
    const broken = await attachment("not really a png", { type: "image/png" });
    const fallback = await get(`/file/attachments/${broken}?thumbnail=true`);
    expect(fallback.status).toBe(200);
    expect(fallback.body.toString()).toBe("not really a png");
    expect(fallback.headers["content-type"]).toBe("image/png");
  });

  test("database-stored bytes: ranges and validators too", async () => {
    const uid = randomUUID();
    table.set(uid, {
      id: 9000,
      uid,
      filename: "db.txt",
      type: "text/plain",
      content: { kind: "inline", bytes: Buffer.from("0123456789"), lastModified: new Date("2026-01-02T03:04:05Z") },
      access: "private",
    });
    const full = await get(`/file/attachments/${uid}`);
    expect(full.body.toString()).toBe("0123456789");
    expect(full.headers["last-modified"]).toBe("Fri, 02 Jan 2026 03:04:05 GMT");
    const part = await get(`/file/attachments/${uid}`, { Range: "bytes=-4" });
    expect([part.status, part.body.toString(), part.headers["content-range"]]).toEqual([206, "6789", "bytes 6-9/10"]);
    expect((await get(`/file/attachments/${uid}`, { "If-None-Match": full.headers.etag! })).status).toBe(304);
  });

  test("an empty file: 200 with no bytes; any range is unsatisfiable", async () => {
    const uid = await attachment("");
    const res = await get(`/file/attachments/${uid}`);
    expect([res.status, res.headers["content-length"], res.body.length]).toEqual([200, "0", 0]);
    expect((await get(`/file/attachments/${uid}`, { Range: "bytes=0-" })).status).toBe(416);
  });

  test("missing bytes, external links and motion clips", async () => {
    const uid = randomUUID();
    table.set(uid, { id: 9001, uid, filename: "gone", type: "image/png", content: { kind: "blob", key: `assets/${uid}` }, access: "private" });
    expect((await get(`/file/attachments/${uid}`)).status).toBe(404);
    const ext = randomUUID();
    table.set(ext, { id: 9002, uid: ext, filename: "x", type: "image/png", content: { kind: "external" }, access: "public" });
    expect((await get(`/file/attachments/${ext}`)).status).toBe(404);
    const still = await attachment("jpeg", { type: "image/jpeg" });
    expect((await get(`/file/attachments/${still}?motion=true`)).status).toBe(400);
  });

  test("a client that disconnects mid-download: the blob stream is destroyed and the server keeps serving", async () => {
    const big = randomBytes(8 * 1024 * 1024);
    const uid = await attachment(big, { type: "video/mp4" });
    const before = opened.length;
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port, path: `/file/attachments/${uid}`, agent: false }, (res) => {
        res.once("data", () => {
          req.destroy();
          resolve();
        });
        res.on("error", () => {});
      });
      req.on("error", (err: NodeJS.ErrnoException) => (err.code === "ECONNRESET" ? undefined : reject(err)));
      req.end();
    });
    const stream = opened[before]!;
    expect(stream).toBeDefined();
    for (let i = 0; i < 100 && !stream.destroyed; i++) await new Promise((r) => setTimeout(r, 20));
    expect(stream.destroyed).toBe(true);

    const after = await get(`/file/attachments/${uid}`, { Range: "bytes=-16" });
    expect(after.status).toBe(206);
    expect(after.body.equals(big.subarray(big.length - 16))).toBe(true);
    const whole = await get(`/file/attachments/${uid}`);
    expect(whole.body.equals(big)).toBe(true);
  });
});
