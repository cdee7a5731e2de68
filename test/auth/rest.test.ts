import { startTestApp, type TestApp } from "../support/app.js";
import { uniqueAddress, uniqueName } from "./support.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
}, 60_000);
afterAll(async () => {
  await t?.close();
});

/** A REST call with a JSON body; answers status, headers and parsed JSON. */
async function rest(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${t.baseUrl}${path}`, {
    method,
    headers: { "X-Forwarded-For": uniqueAddress(), ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>) };
}

const cookieValue = (headers: Headers) => /^memos_refresh=([^;]*)/.exec(headers.getSetCookie()[0] ?? "")?.[1];

test("sign-up, sign-in with a real Set-Cookie, refresh with Cookie, me, sign-out", async () => {
  const username = uniqueName("rest");
  const created = await rest("POST", "/api/v1/users", { username, password: "pw", email: "r@example.com" });
  expect(created.status).toBe(200);
  expect(created.json).toMatchObject({ name: `users/${username}`, username, email: "r@example.com", password: "" });

  const signIn = await rest("POST", "/api/v1/auth/signin", { passwordCredentials: { username, password: "pw" } }, { "X-Forwarded-Proto": "https" });
  expect(signIn.status).toBe(200);
  expect(signIn.json).toMatchObject({ user: { username }, accessToken: expect.any(String), accessTokenExpiresAt: expect.any(String) });
  expect(signIn.headers.get("grpc-metadata-set-cookie")).toBeNull();
  const cookies = signIn.headers.getSetCookie();
  expect(cookies).toHaveLength(1);
  expect(cookies[0]).toMatch(/^memos_refresh=[^;]+; Path=\/; HttpOnly; Expires=[^;]+ GMT; SameSite=Lax; Secure$/);
  const refreshToken = cookieValue(signIn.headers)!;

  const refreshed = await rest("POST", "/api/v1/auth/refresh", {}, { Cookie: `memos_refresh=${refreshToken}` });
  expect(refreshed.status).toBe(200);
  expect(refreshed.json).toMatchObject({ accessToken: expect.any(String), expiresAt: expect.any(String) });
  const rotated = cookieValue(refreshed.headers)!;
  expect(rotated).not.toBe(refreshToken);

  const me = await rest("GET", "/api/v1/auth/me", undefined, { Authorization: `Bearer ${refreshed.json!.accessToken as string}` });
  expect(me.status).toBe(200);
  expect(me.json).toMatchObject({ user: { username, email: "r@example.com" } });

  // The spent cookie is a reuse: 401, the family is revoked.
  const reuse = await rest("POST", "/api/v1/auth/refresh", {}, { Cookie: `memos_refresh=${refreshToken}` });
  expect(reuse.status).toBe(401);
  expect(reuse.json).toMatchObject({ code: 16 });
  expect((await rest("POST", "/api/v1/auth/refresh", {}, { Cookie: `memos_refresh=${rotated}` })).status).toBe(401);

  const signOut = await rest("POST", "/api/v1/auth/signout", undefined, { Authorization: `Bearer ${refreshed.json!.accessToken as string}` });
  expect(signOut.status).toBe(200);
  expect(signOut.headers.getSetCookie()[0]).toBe("memos_refresh=; Path=/; HttpOnly; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax");
});

test("protected routes answer 401 without (or with a bad) token", async () => {
  for (const [method, path] of [
    ["GET", "/api/v1/auth/me"],
    ["GET", "/api/v1/users"],
    ["POST", "/api/v1/auth/signout"],
  ] as const) {
    const res = await rest(method, path);
    expect([path, res.status, res.json?.code]).toEqual([path, 401, 16]);
    const bad = await rest(method, path, undefined, { Authorization: "Bearer memos_pat_notatokenatallnotatokenatall1234" });
    expect([path, bad.status]).toEqual([path, 401]);
  }
  const missing = await rest("POST", "/api/v1/auth/refresh", {});
  expect(missing.status).toBe(401);
});

test("throttled sign-in answers 429 with Retry-After", async () => {
  const username = uniqueName("locked");
  expect((await rest("POST", "/api/v1/users", { username, password: "pw" })).status).toBe(200);
  await t.app.database.db
    .insertInto("sign_in_throttle")
    .values({ key: `user:${username}`, failures: 5, window_start_ts: Math.floor(Date.now() / 1000), locked_until_ts: Math.floor(Date.now() / 1000) + 600 })
    .execute();
  const res = await rest("POST", "/api/v1/auth/signin", { passwordCredentials: { username, password: "pw" } });
  expect(res.status).toBe(429);
  expect(res.json).toMatchObject({ code: 8 });
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThan(590);
  expect(retryAfter).toBeLessThanOrEqual(600);
});

test("a duplicate username is 409", async () => {
  const username = uniqueName("twice");
  expect((await rest("POST", "/api/v1/users", { username, password: "pw" })).status).toBe(200);
  const again = await rest("POST", "/api/v1/users", { username, password: "pw" });
  expect(again.status).toBe(409);
  expect(again.json).toMatchObject({ code: 6 });
});

test("PAT over REST: create, use as Bearer, list, delete, then 401", async () => {
  const username = uniqueName("pat");
  await rest("POST", "/api/v1/users", { username, password: "pw" });
  const signIn = await rest("POST", "/api/v1/auth/signin", { passwordCredentials: { username, password: "pw" } });
  const bearer = { Authorization: `Bearer ${signIn.json!.accessToken as string}` };
  const created = await rest("POST", `/api/v1/users/${username}/personalAccessTokens`, { description: "script", expiresInDays: 30 }, bearer);
  expect(created.status).toBe(200);
  const token = created.json!.token as string;
  const patName = (created.json!.personalAccessToken as { name: string }).name;
  const me = await rest("GET", "/api/v1/auth/me", undefined, { Authorization: `Bearer ${token}` });
  expect(me.json).toMatchObject({ user: { username } });
  const listed = await rest("GET", `/api/v1/users/${username}/personalAccessTokens`, undefined, { Authorization: `Bearer ${token}` });
  expect(listed.json).toMatchObject({ personalAccessTokens: [{ name: patName, description: "script" }], nextPageToken: "" });
  expect((await rest("DELETE", `/api/v1/${patName}`, undefined, bearer)).status).toBe(200);
  expect((await rest("GET", "/api/v1/auth/me", undefined, { Authorization: `Bearer ${token}` })).status).toBe(401);
});
