// The avatar route (spec §5.4) over real HTTP: an avatar stored as a data URI is served from the
// path the API reports, to authenticated callers on a private instance and to anyone on a public
// one, with the data URI's type, caching and security headers; every refusal in the file
// server's shape.
import sharp from "sharp";
import { signUpAndIn } from "../auth/support.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { serviceClients, setAccessMode } from "../webapp/support.js";

let t: TestApp;
let alice: Awaited<ReturnType<typeof signUpAndIn>>;
let png: Buffer;

beforeAll(async () => {
  t = await startTestApp();
  alice = await signUpAndIn(t.baseUrl, "alice");
  png = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#c04" } }).png().toBuffer();
  const me = serviceClients(t.baseUrl, alice.accessToken);
  const updated = await me.users.updateUser({
    user: { name: "users/alice", avatarUrl: `data:image/png;base64,${png.toString("base64")}` },
    updateMask: { paths: ["avatar_url"] },
  });
  expect(updated.avatarUrl).toBe("/file/users/alice/avatar");
}, 120_000);

afterAll(async () => {
  await t?.close();
});

const avatar = (path = "/file/users/alice/avatar", init: RequestInit = {}) => fetch(t.baseUrl + path, init);
const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

async function setStoredAvatar(username: string, value: string): Promise<void> {
  await t.app.database.db.updateTable("user").set({ avatar_url: value }).where("username", "=", username).execute();
}

describe("on a private instance", () => {
  beforeAll(() => setAccessMode(t.app.database.db, "PRIVATE"));

  test("anonymous callers get 401 in the file server's shape", async () => {
    const res = await avatar();
    expect(res.status).toBe(401);
    expect(res.headers.get("cache-control")).toBe("private, no-store");
    expect(await res.json()).toEqual({ message: "authentication required" });
  });

  test("a Bearer token gets the decoded bytes with the data URI's type and the security headers", async () => {
    const res = await avatar(undefined, bearer(alice.accessToken));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(res.headers.get("cache-control")).toBe("private, no-store");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);
  });

  test("the refresh cookie is enough, so <img> tags work", async () => {
    const res = await avatar(undefined, { headers: { cookie: `memos_refresh=${alice.refreshToken}` } });
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);
  });

  test("a bad token is an anonymous caller", async () => {
    expect((await avatar(undefined, bearer("not-a-token"))).status).toBe(401);
  });
});

describe("on a public instance", () => {
  beforeAll(() => setAccessMode(t.app.database.db, "PUBLIC"));
  afterAll(() => setAccessMode(t.app.database.db, "PRIVATE"));

  test("anyone reads it, cacheable for an hour", async () => {
    const res = await avatar();
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=3600");
    expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);
  });

  test("HEAD answers the headers without a body; If-None-Match answers 304", async () => {
    const head = await avatar(undefined, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(png.length));
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    const etag = head.headers.get("etag")!;
    expect(etag).toMatch(/^".+"$/);
    const again = await avatar(undefined, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
  });

  test("unknown users, users without an avatar and malformed paths are 404", async () => {
    await signUpAndIn(t.baseUrl, "bob");
    for (const path of ["/file/users/nobody/avatar", "/file/users/bob/avatar", "/file/users/alice/picture", "/file/users/%ZZ/avatar", "/file/users//avatar"]) {
      const res = await avatar(path);
      expect([path, res.status]).toEqual([path, 404]);
      expect(res.headers.get("content-type")).toBe("application/json");
    }
  });

  test("other methods are 405 with Allow", async () => {
    const res = await avatar(undefined, { method: "POST", body: "" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
  });

  test("a stored type that is not an avatar image is 400; a stored value that is not a data URI is 500", async () => {
    await signUpAndIn(t.baseUrl, "carol");
    await setStoredAvatar("carol", `data:text/html;base64,${Buffer.from("<script>alert(1)</script>").toString("base64")}`);
    const html = await avatar("/file/users/carol/avatar");
    expect(html.status).toBe(400);
    expect(html.headers.get("content-type")).toBe("application/json");
    await setStoredAvatar("carol", "https://example.com/carol.png");
    expect((await avatar("/file/users/carol/avatar")).status).toBe(500);
  });
});
