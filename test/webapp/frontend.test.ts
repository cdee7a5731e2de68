/** Serving a built web app from MEMOS_FRONTEND_DIR: SPA fallback, cache rules, types, no traversal. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestApp, type TestApp } from "../support/app.js";

const INDEX = "<!doctype html><title>Memos</title><div id=root></div>";
const APP_JS = "console.log('app')";

/** A raw GET (paths sent verbatim: no client-side `..` normalisation). */
function raw(baseUrl: string, path: string, method = "GET", headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("MEMOS_FRONTEND_DIR", () => {
  let t: TestApp;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "memos-web-"));
    const dist = join(dir, "dist");
    mkdirSync(join(dist, "assets"), { recursive: true });
    writeFileSync(join(dist, "index.html"), INDEX);
    writeFileSync(join(dist, "assets", "index-Ab12Cd.js"), APP_JS);
    writeFileSync(join(dist, "assets", "index-Ef34.css"), "body{}");
    writeFileSync(join(dist, "favicon.ico"), Buffer.from([0, 0, 1, 0]));
    writeFileSync(join(dist, "site.webmanifest"), "{}");
    writeFileSync(join(dist, "robots.txt"), "User-agent: *");
    writeFileSync(join(dir, "secret.txt"), "do not serve");
    symlinkSync(join(dir, "secret.txt"), join(dist, "leak.txt"));
    t = await startTestApp({ MEMOS_FRONTEND_DIR: dist });
  }, 60_000);
  afterAll(async () => {
    try {
      await t?.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("/ is index.html, never cached, with an ETag", async () => {
    const res = await raw(t.baseUrl, "/");
    expect(res.status).toBe(200);
    expect(res.body).toBe(INDEX);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.headers["cache-control"]).toBe("no-cache, no-store, must-revalidate");
    expect(res.headers["etag"]).toMatch(/^W\/"/);
    expect(res.headers["content-length"]).toBe(String(INDEX.length));
  });

  test.each(["/explore", "/auth/signup", "/memos/AbC123", "/u/alice", "/setting", "/archived/", "/assets"])("client route %s falls back to index.html", async (path) => {
    const res = await raw(t.baseUrl, path);
    expect([res.status, res.body, res.headers["cache-control"]]).toEqual([200, INDEX, "no-cache, no-store, must-revalidate"]);
  });

  test("assets are cached for 30 days as immutable, with their types; other files revalidate", async () => {
    const js = await raw(t.baseUrl, "/assets/index-Ab12Cd.js");
    expect([js.status, js.body, js.headers["content-type"], js.headers["cache-control"]]).toEqual([
      200,
      APP_JS,
      "text/javascript; charset=utf-8",
      "public, max-age=2592000, immutable",
    ]);
    expect((await raw(t.baseUrl, "/assets/index-Ef34.css")).headers["content-type"]).toBe("text/css; charset=utf-8");
    const ico = await raw(t.baseUrl, "/favicon.ico");
    expect([ico.status, ico.headers["content-type"], ico.headers["cache-control"]]).toEqual([200, "image/x-icon", "no-cache"]);
    expect((await raw(t.baseUrl, "/site.webmanifest")).headers["content-type"]).toBe("application/manifest+json; charset=utf-8");
    expect((await raw(t.baseUrl, "/robots.txt")).body).toBe("User-agent: *");
  });

  test("files that do not exist are 404, and so are paths that never fall back", async () => {
    for (const path of ["/assets/missing.js", "/nope.png", "/explore/rss.xml", "/u/alice/rss.xml", "/sitemap.xml"]) {
      const res = await raw(t.baseUrl, path);
      expect([path, res.status]).toEqual([path, 404]);
      expect(res.body).not.toContain("<title>Memos");
    }
  });

  test("API, file and Connect paths are never the web app", async () => {
    const api = await raw(t.baseUrl, "/api/v1/no-such-thing");
    expect(api.status).toBe(404);
    expect(JSON.parse(api.body)).toMatchObject({ code: 5 });
    expect((await raw(t.baseUrl, "/api")).body).not.toContain("Memos");
    expect((await raw(t.baseUrl, "/file/attachments/none")).status).toBe(404);
    const connect = await raw(t.baseUrl, "/memos.api.v1.MemoService/ListMemos");
    expect(connect.body).not.toContain("Memos</title>");
    expect((await raw(t.baseUrl, "/healthz")).body).toBe("Service ready.");
    const profile = await fetch(`${t.baseUrl}/api/v1/instance/profile`);
    expect(profile.headers.get("content-type")).toContain("application/json");
  });

  test.each(["/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt", "/assets/%2e%2e/%2e%2e/secret.txt", "/leak.txt", "/%00", "/assets%5c..%5c..%5csecret.txt", "/%zz"])(
    "%s is not served",
    async (path) => {
      const res = await raw(t.baseUrl, path);
      expect(res.body).not.toContain("do not serve");
      expect(res.status).toBe(404);
    },
  );

  test("HEAD answers the headers only; a matching If-None-Match is 304; other methods are not served", async () => {
    const head = await raw(t.baseUrl, "/assets/index-Ab12Cd.js", "HEAD");
    expect([head.status, head.body, head.headers["content-length"]]).toEqual([200, "", String(APP_JS.length)]);
    const etag = String(head.headers["etag"]);
    const cached = await raw(t.baseUrl, "/assets/index-Ab12Cd.js", "GET", { "If-None-Match": etag });
    expect([cached.status, cached.body]).toEqual([304, ""]);
    expect((await raw(t.baseUrl, "/", "GET", { "If-None-Match": '"other"' })).status).toBe(200);
    expect((await raw(t.baseUrl, "/", "POST")).status).toBe(404);
  });
});

describe("without MEMOS_FRONTEND_DIR", () => {
  test("/ is a plain 404; a directory without index.html is refused at start-up", async () => {
    const t = await startTestApp();
    try {
      const res = await raw(t.baseUrl, "/");
      expect([res.status, res.body]).toEqual([404, "Not Found"]);
    } finally {
      await t.close();
    }
    const empty = mkdtempSync(join(tmpdir(), "memos-web-empty-"));
    try {
      await expect(startTestApp({ MEMOS_FRONTEND_DIR: empty })).rejects.toThrow(/MEMOS_FRONTEND_DIR: expected a directory holding a built web app/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  }, 60_000);
});
