import { Code } from "@connectrpc/connect";
import { startTestApp, type TestApp } from "../support/app.js";
import { clients, codeOf, errorOf, signUpAndIn, uniqueAddress, uniqueName } from "./support.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
  await signUpAndIn(t.baseUrl, uniqueName("admin"));
}, 60_000);
afterAll(async () => {
  await t?.close();
});

const cred = (username: string, password: string) => ({ credentials: { case: "passwordCredentials" as const, value: { username, password } } });
const from = (address: string) => clients(t.baseUrl, { headers: { "X-Forwarded-For": `${address}, 127.0.0.1` } });

test("5 failures for one username lock it with resource_exhausted and Retry-After, even for the right password", async () => {
  const u = await signUpAndIn(t.baseUrl);
  const started = Date.now();
  for (let i = 0; i < 5; i++) {
    // Each attempt from another address: the per-username limit must hold across addresses.
    expect(await codeOf(from(uniqueAddress()).auth.signIn(cred(u.username, "wrong")))).toBe(Code.InvalidArgument);
  }
  // Failures 3-5 were slowed down (250 + 500 + 1000 ms).
  expect(Date.now() - started).toBeGreaterThanOrEqual(1700);
  const err = await errorOf(from(uniqueAddress()).auth.signIn(cred(u.username, u.password)));
  expect(err.code).toBe(Code.ResourceExhausted);
  const retryAfter = Number(err.metadata.get("retry-after"));
  expect(retryAfter).toBeGreaterThan(14 * 60);
  expect(retryAfter).toBeLessThanOrEqual(15 * 60);
  // The lock is stored in the database, where every replica sees it.
  const row = await t.app.database.db.selectFrom("sign_in_throttle").selectAll().where("key", "=", `user:${u.username}`).executeTakeFirstOrThrow();
  expect(row.failures).toBe(5);
  expect(row.locked_until_ts).toBeGreaterThan(Date.now() / 1000);
  // Other users are unaffected.
  const v = await signUpAndIn(t.baseUrl);
  await expect(from(uniqueAddress()).auth.signIn(cred(v.username, v.password))).resolves.toBeDefined();
});

test("a success resets the username's counter", async () => {
  const u = await signUpAndIn(t.baseUrl);
  const c = from(uniqueAddress());
  for (let i = 0; i < 4; i++) expect(await codeOf(c.auth.signIn(cred(u.username, "wrong")))).toBe(Code.InvalidArgument);
  await c.auth.signIn(cred(u.username, u.password));
  for (let i = 0; i < 4; i++) expect(await codeOf(c.auth.signIn(cred(u.username, "wrong")))).toBe(Code.InvalidArgument);
  await expect(c.auth.signIn(cred(u.username, u.password))).resolves.toBeDefined();
});

test("20 failures from one address lock that address, for every username", async () => {
  const address = uniqueAddress();
  const c = from(address);
  for (let i = 0; i < 20; i++) expect(await codeOf(c.auth.signIn(cred(uniqueName("guess"), "wrong")))).toBe(Code.InvalidArgument);
  const u = await signUpAndIn(t.baseUrl);
  const err = await errorOf(c.auth.signIn(cred(u.username, u.password)));
  expect(err.code).toBe(Code.ResourceExhausted);
  expect(Number(err.metadata.get("retry-after"))).toBeGreaterThan(0);
  // X-Real-Ip is the fallback when X-Forwarded-For is absent.
  const viaRealIp = clients(t.baseUrl, { headers: { "X-Real-Ip": address } });
  expect(await codeOf(viaRealIp.auth.signIn(cred(u.username, u.password)))).toBe(Code.ResourceExhausted);
  await expect(from(uniqueAddress()).auth.signIn(cred(u.username, u.password))).resolves.toBeDefined();
}, 60_000);

test("Retry-After reaches the client as a real response header on Connect", async () => {
  const u = await signUpAndIn(t.baseUrl);
  await t.app.database.db
    .insertInto("sign_in_throttle")
    .values({ key: `user:${u.username}`, failures: 5, window_start_ts: Math.floor(Date.now() / 1000), locked_until_ts: Math.floor(Date.now() / 1000) + 42 })
    .execute();
  const res = await fetch(`${t.baseUrl}/memos.api.v1.AuthService/SignIn`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Forwarded-For": uniqueAddress() },
    body: JSON.stringify({ passwordCredentials: { username: u.username, password: u.password } }),
  });
  expect(res.status).toBe(429);
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(40);
  expect(await res.json()).toMatchObject({ code: "resource_exhausted" });
});
