import { Code } from "@connectrpc/connect";
import { SignJWT, UnsecuredJWT } from "jose";
import { User_Role } from "../../gen/memos/api/v1/user_service_pb.js";
import { State } from "../../gen/memos/api/v1/common_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import {
  captureHeaders,
  clients,
  codeOf,
  errorOf,
  instanceSecret,
  refreshTokenOf,
  setCookies,
  signUpAndIn,
  uniqueAddress,
  uniqueName,
} from "./support.js";

let t: TestApp;
let admin: Awaited<ReturnType<typeof signUpAndIn>>;
beforeAll(async () => {
  t = await startTestApp();
  admin = await signUpAndIn(t.baseUrl, uniqueName("admin"));
}, 60_000);
afterAll(async () => {
  await t?.close();
});

const password = (username: string, pw: string) => ({ credentials: { case: "passwordCredentials" as const, value: { username, password: pw } } });
const anon = () => clients(t.baseUrl, { headers: { "X-Forwarded-For": uniqueAddress() } });
const decode = (jwt: string, part: 0 | 1) => JSON.parse(Buffer.from(jwt.split(".")[part]!, "base64url").toString("utf8")) as Record<string, unknown>;

describe("sign-in", () => {
  test("answers the user, an access token with the reference header and claims, and its expiry", async () => {
    const u = uniqueName();
    await anon().users.createUser({ user: { username: u, password: "pw-1", email: "me@example.com" } });
    const before = Math.floor(Date.now() / 1000);
    const res = await anon().auth.signIn(password(u, "pw-1"));
    expect(res.user).toMatchObject({ name: `users/${u}`, username: u, role: User_Role.USER, email: "me@example.com", password: "" });
    expect(decode(res.accessToken, 0)).toEqual({ alg: "HS256", kid: "v1", typ: "JWT" });
    const claims = decode(res.accessToken, 1);
    expect(claims).toMatchObject({ type: "access", role: "USER", status: "NORMAL", username: u, iss: "memos", aud: ["user.access-token"] });
    expect(claims.sub).toMatch(/^\d+$/);
    expect(claims.exp).toBe((claims.iat as number) + 900);
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(Number(res.accessTokenExpiresAt!.seconds)).toBe(claims.exp);
  });

  test("sets the refresh cookie with the reference attributes in order, 30 days ahead", async () => {
    const u = uniqueName();
    await anon().users.createUser({ user: { username: u, password: "pw" } });
    const cap = captureHeaders();
    await anon().auth.signIn(password(u, "pw"), { onHeader: cap.onHeader });
    const cookies = setCookies(cap.headers);
    expect(cookies).toHaveLength(1);
    const m = /^memos_refresh=([^;]+); Path=\/; HttpOnly; Expires=([^;]+); SameSite=Lax$/.exec(cookies[0]!);
    expect(m).not.toBeNull();
    expect(m![2]).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    const expires = Date.parse(m![2]!) / 1000;
    expect(Math.abs(expires - (Date.now() / 1000 + 30 * 86400))).toBeLessThan(10);
    const refresh = decode(m![1]!, 1);
    expect(decode(m![1]!, 0)).toEqual({ alg: "HS256", kid: "v1", typ: "JWT" });
    expect(refresh).toMatchObject({ type: "refresh", iss: "memos", aud: ["user.refresh-token"] });
    expect(refresh.tid).toMatch(/^[0-9a-f-]{36}$/);
    expect(refresh.exp).toBe((refresh.iat as number) + 30 * 86400);
  });

  test.each([
    ["X-Forwarded-Proto https", { "X-Forwarded-Proto": "https" }, true],
    ["X-Forwarded-Proto list", { "X-Forwarded-Proto": "http, HTTPS" }, true],
    ["Forwarded proto=https", { Forwarded: "for=1.2.3.4;proto=https;by=x" }, true],
    ["Origin https://", { Origin: "https://memos.example.com" }, true],
    ["X-Forwarded-Proto http", { "X-Forwarded-Proto": "http" }, false],
    ["Origin http://", { Origin: "http://memos.example.com" }, false],
  ])("adds Secure for %s: %p", async (_label, headers, secure) => {
    const u = uniqueName();
    await anon().users.createUser({ user: { username: u, password: "pw" } });
    const cap = captureHeaders();
    await clients(t.baseUrl, { headers: { ...headers, "X-Forwarded-For": uniqueAddress() } }).auth.signIn(password(u, "pw"), {
      onHeader: cap.onHeader,
    });
    const cookie = setCookies(cap.headers)[0]!;
    expect(cookie.endsWith("; SameSite=Lax; Secure")).toBe(secure);
    expect(cookie.endsWith("; SameSite=Lax")).toBe(!secure);
  });

  test("a wrong password and an unknown user get the same invalid_argument", async () => {
    const a = await errorOf(anon().auth.signIn(password(admin.username, "wrong")));
    const b = await errorOf(anon().auth.signIn(password(uniqueName("nobody"), "wrong")));
    expect([a.code, a.rawMessage]).toEqual([Code.InvalidArgument, "unmatched username and password"]);
    expect([b.code, b.rawMessage]).toEqual([Code.InvalidArgument, "unmatched username and password"]);
  });

  test("no credentials is invalid_argument", async () => {
    expect(await codeOf(anon().auth.signIn({}))).toBe(Code.InvalidArgument);
  });

  test("an archived user cannot sign in (after the password check)", async () => {
    const u = await signUpAndIn(t.baseUrl);
    await clients(t.baseUrl, { token: admin.accessToken }).users.updateUser({
      user: { name: `users/${u.username}`, state: State.ARCHIVED },
      updateMask: { paths: ["state"] },
    });
    const err = await errorOf(anon().auth.signIn(password(u.username, u.password)));
    expect([err.code, err.rawMessage]).toEqual([Code.PermissionDenied, `user has been archived with username ${u.username}`]);
    expect(await codeOf(anon().auth.signIn(password(u.username, "bad")))).toBe(Code.InvalidArgument);
  });
});

describe("access tokens", () => {
  test("GetCurrentUser answers the caller with e-mail; without a token it is unauthenticated", async () => {
    const u = await signUpAndIn(t.baseUrl);
    const res = await clients(t.baseUrl, { token: u.accessToken }).auth.getCurrentUser({});
    expect(res.user).toMatchObject({ username: u.username, name: `users/${u.username}` });
    expect(await codeOf(anon().auth.getCurrentUser({}))).toBe(Code.Unauthenticated);
  });

  /** Forged variants of a valid access token for `userId`: each must make the caller anonymous. */
  async function forgeries(userId: number, username: string): Promise<Array<[string, string]>> {
    const secret = new TextEncoder().encode(await instanceSecret(t.app.database.db));
    const now = Math.floor(Date.now() / 1000);
    const claims = { type: "access", role: "ADMIN", status: "NORMAL", username };
    const sign = (opts: { key?: Uint8Array; kid?: string; aud?: string; iss?: string; type?: string; exp?: number; iat?: number }) =>
      new SignJWT({ ...claims, type: opts.type ?? "access" })
        .setProtectedHeader({ alg: "HS256", kid: opts.kid ?? "v1", typ: "JWT" })
        .setIssuer(opts.iss ?? "memos")
        .setAudience([opts.aud ?? "user.access-token"])
        .setSubject(String(userId))
        .setIssuedAt(opts.iat ?? now)
        .setExpirationTime(opts.exp ?? now + 900)
        .sign(opts.key ?? secret);
    const valid = await sign({});
    const [h, , s] = valid.split(".");
    const tampered = Buffer.from(JSON.stringify({ ...decode(valid, 1), sub: String(userId + 1000) })).toString("base64url");
    return [
      ["alg none", new UnsecuredJWT({ ...claims, sub: String(userId) }).setIssuer("memos").setAudience("user.access-token").setExpirationTime("15m").encode()],
      ["wrong key", await sign({ key: new TextEncoder().encode("not-the-secret") })],
      ["tampered payload", `${h}.${tampered}.${s}`],
      ["wrong audience", await sign({ aud: "user.refresh-token" })],
      ["wrong type", await sign({ type: "refresh" })],
      ["wrong kid", await sign({ kid: "v2" })],
      ["wrong issuer", await sign({ iss: "not-memos" })],
      ["expired", await sign({ iat: now - 3600, exp: now - 60 })],
      ["garbage", "not.a.jwt"],
    ];
  }

  test("a correctly signed token (control) authenticates", async () => {
    const secret = new TextEncoder().encode(await instanceSecret(t.app.database.db));
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({ type: "access", role: "ADMIN", status: "NORMAL", username: admin.username })
      .setProtectedHeader({ alg: "HS256", kid: "v1", typ: "JWT" })
      .setIssuer("memos")
      .setAudience(["user.access-token"])
      .setSubject(String(admin.userId))
      .setIssuedAt(now)
      .setExpirationTime(now + 900)
      .sign(secret);
    expect((await clients(t.baseUrl, { token: jwt }).auth.getCurrentUser({})).user?.username).toBe(admin.username);
  });

  test("forged, expired or malformed tokens are anonymous: protected methods 401, bootstrap methods still work", async () => {
    for (const [label, token] of await forgeries(admin.userId, admin.username)) {
      const c = clients(t.baseUrl, { token });
      expect([label, await codeOf(c.auth.getCurrentUser({}))]).toEqual([label, Code.Unauthenticated]);
      // Anonymous, not an error: a bootstrap method answers normally.
      const profile = await c.instance.getInstanceProfile({});
      expect([label, profile.admin?.email]).toEqual([label, ""]);
    }
  });

  test("a deleted or archived user's token is anonymous", async () => {
    const a = await signUpAndIn(t.baseUrl);
    const b = await signUpAndIn(t.baseUrl);
    const adminClient = clients(t.baseUrl, { token: admin.accessToken });
    await adminClient.users.updateUser({ user: { name: `users/${a.username}`, state: State.ARCHIVED }, updateMask: { paths: ["state"] } });
    await adminClient.users.deleteUser({ name: `users/${b.username}` });
    expect(await codeOf(clients(t.baseUrl, { token: a.accessToken }).auth.getCurrentUser({}))).toBe(Code.Unauthenticated);
    expect(await codeOf(clients(t.baseUrl, { token: b.accessToken }).auth.getCurrentUser({}))).toBe(Code.Unauthenticated);
  });
});

describe("refresh tokens", () => {
  const refresh = (token: string, cap?: ReturnType<typeof captureHeaders>) =>
    anon().auth.refreshToken({}, { headers: { Cookie: `theme=dark; memos_refresh=${token}` }, onHeader: cap?.onHeader });

  test("refresh answers a new access token and rotates the cookie; the old cookie is then a reuse", async () => {
    const u = await signUpAndIn(t.baseUrl);
    const cap = captureHeaders();
    const res = await refresh(u.refreshToken, cap);
    expect(decode(res.accessToken, 1)).toMatchObject({ type: "access", username: u.username });
    expect(Number(res.expiresAt!.seconds)).toBe(decode(res.accessToken, 1).exp);
    const next = refreshTokenOf(cap.headers)!;
    expect(next).toBeDefined();
    expect(decode(next, 1).tid).not.toBe(decode(u.refreshToken, 1).tid);
    expect(setCookies(cap.headers)[0]).toMatch(/^memos_refresh=[^;]+; Path=\/; HttpOnly; Expires=[^;]+; SameSite=Lax$/);
    // The new token works once.
    const cap2 = captureHeaders();
    await refresh(next, cap2);
    const third = refreshTokenOf(cap2.headers)!;
    // Presenting a spent token revokes the whole family, including the newest token.
    const err = await errorOf(refresh(u.refreshToken));
    expect([err.code, err.rawMessage]).toEqual([Code.Unauthenticated, "invalid refresh token: reused"]);
    expect(await codeOf(refresh(third))).toBe(Code.Unauthenticated);
    // Another sign-in of the same user is another family and is untouched.
    const other = await anon().auth.signIn(password(u.username, u.password), { onHeader: cap.onHeader });
    expect(other.accessToken).not.toBe("");
    await expect(refresh(refreshTokenOf(cap.headers)!)).resolves.toBeDefined();
  });

  test("two concurrent refreshes with one token: one wins, the other is a reuse that revokes the family", async () => {
    const u = await signUpAndIn(t.baseUrl);
    const caps = [captureHeaders(), captureHeaders()];
    const results = await Promise.allSettled([refresh(u.refreshToken, caps[0]), refresh(u.refreshToken, caps[1])]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const winner = results.findIndex((r) => r.status === "fulfilled");
    const loser = results[1 - winner] as PromiseRejectedResult;
    expect((loser.reason as Error).message).toContain("invalid refresh token: reused");
    expect(await codeOf(refresh(refreshTokenOf(caps[winner]!.headers)!))).toBe(Code.Unauthenticated);
  });

  test("a missing cookie is 'refresh token not found'; junk is invalid; both unauthenticated", async () => {
    const missing = await errorOf(anon().auth.refreshToken({}));
    expect([missing.code, missing.rawMessage]).toEqual([Code.Unauthenticated, "refresh token not found"]);
    expect(await codeOf(refresh("junk"))).toBe(Code.Unauthenticated);
  });

  test("an access token is not a refresh token, and vice versa", async () => {
    const u = await signUpAndIn(t.baseUrl);
    expect(await codeOf(refresh(u.accessToken))).toBe(Code.Unauthenticated);
    expect(await codeOf(clients(t.baseUrl, { token: u.refreshToken }).auth.getCurrentUser({}))).toBe(Code.Unauthenticated);
  });

  test("sign-out revokes the session's refresh token and clears the cookie", async () => {
    const u = await signUpAndIn(t.baseUrl);
    const cap = captureHeaders();
    await clients(t.baseUrl, { token: u.accessToken }).auth.signOut({}, { headers: { Cookie: `memos_refresh=${u.refreshToken}` }, onHeader: cap.onHeader });
    expect(setCookies(cap.headers)).toEqual(["memos_refresh=; Path=/; HttpOnly; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax"]);
    const err = await errorOf(refresh(u.refreshToken));
    expect([err.code, err.rawMessage]).toEqual([Code.Unauthenticated, "invalid refresh token: revoked"]);
    expect(await codeOf(anon().auth.signOut({}))).toBe(Code.Unauthenticated);
  });

  test("a refresh token of a deleted user is refused", async () => {
    const u = await signUpAndIn(t.baseUrl);
    await clients(t.baseUrl, { token: u.accessToken }).users.deleteUser({ name: `users/${u.username}` });
    expect(await codeOf(refresh(u.refreshToken))).toBe(Code.Unauthenticated);
  });

  test("sign-in deletes the user's expired refresh-token rows", async () => {
    const u = await signUpAndIn(t.baseUrl);
    const db = t.app.database.db;
    await db.updateTable("refresh_token").set({ expires_ts: Math.floor(Date.now() / 1000) - 1 }).where("user_id", "=", u.userId).execute();
    await anon().auth.signIn(password(u.username, u.password));
    const rows = await db.selectFrom("refresh_token").select("expires_ts").where("user_id", "=", u.userId).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.expires_ts).toBeGreaterThan(Date.now() / 1000);
  });

  test("a refresh token signed with another key is refused", async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ type: "refresh", tid: "00000000-0000-4000-8000-000000000000" })
      .setProtectedHeader({ alg: "HS256", kid: "v1", typ: "JWT" })
      .setIssuer("memos")
      .setAudience(["user.refresh-token"])
      .setSubject(String(admin.userId))
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(new TextEncoder().encode("other"));
    expect(await codeOf(refresh(forged))).toBe(Code.Unauthenticated);
  });
});
