import { Code } from "@connectrpc/connect";
import { startTestApp, type TestApp } from "../support/app.js";
import { clients, codeOf, errorOf, signUpAndIn, uniqueName } from "./support.js";

let t: TestApp;
let admin: Awaited<ReturnType<typeof signUpAndIn>>;
beforeAll(async () => {
  t = await startTestApp();
  admin = await signUpAndIn(t.baseUrl, uniqueName("admin"));
}, 60_000);
afterAll(async () => {
  await t?.close();
});
const as = (token: string) => clients(t.baseUrl, { token });

test("create returns the token once; it is stored only as its SHA-256 and authenticates every protected method", async () => {
  const u = await signUpAndIn(t.baseUrl);
  const before = Math.floor(Date.now() / 1000);
  const res = await as(u.accessToken).users.createPersonalAccessToken({ parent: `users/${u.username}`, description: "cli" });
  expect(res.token).toMatch(/^memos_pat_[0-9a-zA-Z]{32}$/);
  const pat = res.personalAccessToken!;
  expect(pat.name).toMatch(new RegExp(`^users/${u.username}/personalAccessTokens/[0-9a-f-]{36}$`));
  expect(pat.description).toBe("cli");
  expect(Number(pat.createdAt!.seconds)).toBeGreaterThanOrEqual(before);
  expect(pat.expiresAt).toBeUndefined();
  const rows = await t.app.database.db.selectFrom("personal_access_token").selectAll().where("user_id", "=", u.userId).execute();
  const { createHash } = await import("node:crypto");
  expect(rows.map((r) => r.token_hash)).toEqual([createHash("sha256").update(res.token).digest("hex")]);
  expect(JSON.stringify(rows)).not.toContain(res.token.slice(10));

  const viaPat = as(res.token);
  expect((await viaPat.auth.getCurrentUser({})).user?.username).toBe(u.username);
  expect((await viaPat.users.listPersonalAccessTokens({ parent: `users/${u.username}` })).personalAccessTokens).toHaveLength(1);
});

test("expires_in_days sets an expiry N days ahead; an expired token is anonymous at once", async () => {
  const u = await signUpAndIn(t.baseUrl);
  const res = await as(u.accessToken).users.createPersonalAccessToken({ parent: `users/${u.username}`, expiresInDays: 7 });
  const expires = Number(res.personalAccessToken!.expiresAt!.seconds);
  expect(Math.abs(expires - (Date.now() / 1000 + 7 * 86400))).toBeLessThan(10);
  expect((await as(res.token).auth.getCurrentUser({})).user?.username).toBe(u.username);
  const id = res.personalAccessToken!.name.split("/").pop()!;
  await t.app.database.db.updateTable("personal_access_token").set({ expires_ts: Math.floor(Date.now() / 1000) - 1 }).where("id", "=", id).execute();
  expect(await codeOf(as(res.token).auth.getCurrentUser({}))).toBe(Code.Unauthenticated);
});

test("deletion takes effect on the next request; deleting again or an unknown id succeeds", async () => {
  const u = await signUpAndIn(t.baseUrl);
  const c = as(u.accessToken);
  const res = await c.users.createPersonalAccessToken({ parent: `users/${u.username}` });
  const viaPat = as(res.token);
  expect((await viaPat.auth.getCurrentUser({})).user?.username).toBe(u.username);
  await c.users.deletePersonalAccessToken({ name: res.personalAccessToken!.name });
  expect(await codeOf(viaPat.auth.getCurrentUser({}))).toBe(Code.Unauthenticated);
  await c.users.deletePersonalAccessToken({ name: res.personalAccessToken!.name });
  await c.users.deletePersonalAccessToken({ name: `users/${u.username}/personalAccessTokens/not-a-uuid` });
  expect((await c.users.listPersonalAccessTokens({ parent: `users/${u.username}` })).personalAccessTokens).toEqual([]);
});

test("lastUsedAt is written at most once a minute, from the row read to verify, and never moves back", async () => {
  const u = await signUpAndIn(t.baseUrl);
  const res = await as(u.accessToken).users.createPersonalAccessToken({ parent: `users/${u.username}` });
  const id = res.personalAccessToken!.name.split("/").pop()!;
  const db = t.app.database.db;
  const lastUsed = async () =>
    (await db.selectFrom("personal_access_token").select("last_used_ts").where("id", "=", id).executeTakeFirstOrThrow()).last_used_ts;
  expect(await lastUsed()).toBeNull();
  const viaPat = as(res.token);
  await viaPat.auth.getCurrentUser({});
  const first = await lastUsed();
  expect(first).not.toBeNull();
  // Within 60 s nothing is written: mark the row and check the mark survives more requests.
  const marker = first! - 30;
  await db.updateTable("personal_access_token").set({ last_used_ts: marker }).where("id", "=", id).execute();
  await viaPat.auth.getCurrentUser({});
  await viaPat.auth.getCurrentUser({});
  expect(await lastUsed()).toBe(marker);
  // Older than 60 s: the next request brings it up to now.
  await db.updateTable("personal_access_token").set({ last_used_ts: marker - 60 }).where("id", "=", id).execute();
  await viaPat.auth.getCurrentUser({});
  expect(await lastUsed()).toBeGreaterThanOrEqual(first!);
  const listed = await as(u.accessToken).users.listPersonalAccessTokens({ parent: `users/${u.username}` });
  expect(Number(listed.personalAccessTokens[0]!.lastUsedAt!.seconds)).toBeGreaterThanOrEqual(first!);
});

test("an archived owner's token is anonymous", async () => {
  const u = await signUpAndIn(t.baseUrl);
  const res = await as(u.accessToken).users.createPersonalAccessToken({ parent: `users/${u.username}` });
  await t.app.database.db.updateTable("user").set({ row_status: "ARCHIVED" }).where("id", "=", u.userId).execute();
  expect(await codeOf(as(res.token).auth.getCurrentUser({}))).toBe(Code.Unauthenticated);
});

test("only the owner creates and deletes; admins may list; unknown parent is invalid_argument", async () => {
  const u = await signUpAndIn(t.baseUrl);
  const v = await signUpAndIn(t.baseUrl);
  const parent = `users/${u.username}`;
  const res = await as(u.accessToken).users.createPersonalAccessToken({ parent, description: "mine" });
  expect(await codeOf(as(admin.accessToken).users.createPersonalAccessToken({ parent }))).toBe(Code.PermissionDenied);
  expect(await codeOf(as(v.accessToken).users.createPersonalAccessToken({ parent }))).toBe(Code.PermissionDenied);
  expect(await codeOf(as(v.accessToken).users.listPersonalAccessTokens({ parent }))).toBe(Code.PermissionDenied);
  expect(await codeOf(as(admin.accessToken).users.deletePersonalAccessToken({ name: res.personalAccessToken!.name }))).toBe(Code.PermissionDenied);
  const listed = await as(admin.accessToken).users.listPersonalAccessTokens({ parent });
  expect(listed.personalAccessTokens.map((p) => p.description)).toEqual(["mine"]);
  expect(JSON.stringify(listed, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))).not.toContain("memos_pat_");
  const err = await errorOf(as(u.accessToken).users.createPersonalAccessToken({ parent: `users/${uniqueName("ghost")}` }));
  expect(err.code).toBe(Code.InvalidArgument);
  expect(err.rawMessage).toMatch(/^invalid user name: /);
  expect(await codeOf(as(u.accessToken).users.deletePersonalAccessToken({ name: `${parent}/tokens/x` }))).toBe(Code.InvalidArgument);
  expect(await codeOf(clients(t.baseUrl).users.createPersonalAccessToken({ parent }))).toBe(Code.Unauthenticated);
});

test("malformed and unknown PATs are anonymous", async () => {
  for (const token of ["memos_pat_", "memos_pat_short", `memos_pat_${"a".repeat(32)}`, `memos_pat_${"a".repeat(33)}`]) {
    expect([token, await codeOf(as(token).auth.getCurrentUser({}))]).toEqual([token, Code.Unauthenticated]);
  }
});
