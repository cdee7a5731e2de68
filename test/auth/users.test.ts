import { Code } from "@connectrpc/connect";
import { State } from "../../gen/memos/api/v1/common_pb.js";
import { InstanceSetting_GeneralSettingSchema } from "../../gen/memos/api/v1/instance_service_pb.js";
import { User_Role } from "../../gen/memos/api/v1/user_service_pb.js";
import { create } from "@bufbuild/protobuf";
import { startTestApp, type TestApp } from "../support/app.js";
import { captureHeaders, clients, codeOf, errorOf, setCookies, signUpAndIn, uniqueAddress, uniqueName } from "./support.js";

const anon = (baseUrl: string) => clients(baseUrl, { headers: { "X-Forwarded-For": uniqueAddress() } });

describe("first-run bootstrap", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  test("the first sign-up becomes ADMIN even when it asks for USER; the profile then shows the admin", async () => {
    const before = await anon(t.baseUrl).instance.getInstanceProfile({});
    expect(before.needsSetup).toBe(true);
    expect(before.admin).toBeUndefined();
    const first = await anon(t.baseUrl).users.createUser({
      user: { username: "owner", password: "pw", role: User_Role.USER, email: "owner@example.com" },
    });
    expect(first).toMatchObject({ name: "users/owner", role: User_Role.ADMIN, email: "owner@example.com", password: "" });
    const after = await anon(t.baseUrl).instance.getInstanceProfile({});
    expect(after.needsSetup).toBe(false);
    expect(after.admin).toMatchObject({ name: "users/owner", role: User_Role.ADMIN, email: "" });
    // Later sign-ups are USER, whatever they ask for.
    const second = await anon(t.baseUrl).users.createUser({ user: { username: "second", password: "pw", role: User_Role.ADMIN } });
    expect(second.role).toBe(User_Role.USER);
  });
});

describe("users", () => {
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

  describe("CreateUser", () => {
    test.each([
      ["user missing", {}, "user is required"],
      ["user_id mismatch", { userId: "other", user: { username: "abc", password: "x" } }, "user_id must match user.username"],
      ["bad username (@)", { user: { username: "alice@example.com", password: "x" } }, "invalid username: alice@example.com"],
      ["bad username (_)", { user: { username: "legacy_user", password: "x" } }, "invalid username: legacy_user"],
      ["bad username (-end)", { user: { username: "abc-", password: "x" } }, "invalid username: abc-"],
      ["bad username (37 chars)", { user: { username: "a".repeat(37), password: "x" } }, `invalid username: ${"a".repeat(37)}`],
      ["empty password", { user: { username: "abc", password: "" } }, "password must not be empty"],
    ])("%s -> invalid_argument", async (_label, req, message) => {
      const err = await errorOf(anon(t.baseUrl).users.createUser(req));
      expect([err.code, err.rawMessage]).toEqual([Code.InvalidArgument, message]);
    });

    test("valid usernames per the rule", async () => {
      for (const username of [uniqueName("Alice-2"), `${Date.now()}`, "a".repeat(20) + uniqueName("x").slice(2)]) {
        await expect(anon(t.baseUrl).users.createUser({ user: { username, password: "pw" } })).resolves.toMatchObject({ username });
      }
    });

    test("a duplicate username is already_exists; usernames are case-sensitive", async () => {
      const u = uniqueName("Dup");
      await anon(t.baseUrl).users.createUser({ user: { username: u, password: "pw" } });
      expect(await codeOf(anon(t.baseUrl).users.createUser({ user: { username: u, password: "pw" } }))).toBe(Code.AlreadyExists);
      await expect(anon(t.baseUrl).users.createUser({ user: { username: u.toLowerCase(), password: "pw" } })).resolves.toBeDefined();
    });

    test("validate_only creates nothing", async () => {
      const u = uniqueName();
      const res = await anon(t.baseUrl).users.createUser({ user: { username: u, password: "pw", email: "e@x" }, validateOnly: true });
      expect(res).toMatchObject({ username: u, email: "e@x", role: User_Role.USER });
      expect(await codeOf(anon(t.baseUrl).users.getUser({ name: `users/${u}` }))).toBe(Code.Unauthenticated); // PRIVATE instance
      expect(await codeOf(as(admin.accessToken).users.getUser({ name: `users/${u}` }))).toBe(Code.NotFound);
    });

    test("an admin may create admins; registration settings do not bind admins", async () => {
      const a = as(admin.accessToken);
      const u = uniqueName();
      expect((await a.users.createUser({ user: { username: u, password: "pw", role: User_Role.ADMIN } })).role).toBe(User_Role.ADMIN);
      const general = create(InstanceSetting_GeneralSettingSchema, { disallowUserRegistration: true });
      await a.instance.updateInstanceSetting({ setting: { name: "instance/settings/GENERAL", value: { case: "generalSetting", value: general } } });
      try {
        const err = await errorOf(anon(t.baseUrl).users.createUser({ user: { username: uniqueName(), password: "pw" } }));
        expect([err.code, err.rawMessage]).toEqual([Code.PermissionDenied, "user registration is not allowed"]);
        // A signed-in regular user is not an admin either.
        const regular = await a.users.createUser({ user: { username: uniqueName(), password: "pw" } });
        expect(regular.role).toBe(User_Role.USER);
      } finally {
        await a.instance.updateInstanceSetting({
          setting: { name: "instance/settings/GENERAL", value: { case: "generalSetting", value: create(InstanceSetting_GeneralSettingSchema) } },
        });
      }
    });

    test("disallow_password_auth blocks password sign-up and regular users' sign-in, not admins'", async () => {
      const regular = await signUpAndIn(t.baseUrl);
      // Written straight to the store: the API refuses this while no identity provider exists.
      const value = JSON.stringify({ disallowPasswordAuth: true });
      await t.app.database.db
        .insertInto("system_setting")
        .values({ name: "GENERAL", value })
        .onConflict((oc) => oc.column("name").doUpdateSet({ value }))
        .execute();
      try {
        const signUp = await errorOf(anon(t.baseUrl).users.createUser({ user: { username: uniqueName(), password: "pw" } }));
        expect([signUp.code, signUp.rawMessage]).toEqual([Code.PermissionDenied, "password signup is not allowed"]);
        const cred = (u: string, p: string) => ({ credentials: { case: "passwordCredentials" as const, value: { username: u, password: p } } });
        const signIn = await errorOf(anon(t.baseUrl).auth.signIn(cred(regular.username, regular.password)));
        expect([signIn.code, signIn.rawMessage]).toEqual([Code.PermissionDenied, "password signin is not allowed"]);
        await expect(anon(t.baseUrl).auth.signIn(cred(admin.username, admin.password))).resolves.toBeDefined();
      } finally {
        await t.app.database.db.deleteFrom("system_setting").where("name", "=", "GENERAL").execute();
      }
    });
  });

  describe("GetUser, BatchGetUsers and e-mail visibility", () => {
    test("e-mail is shown to the user and to admins only", async () => {
      const owner = uniqueName();
      await anon(t.baseUrl).users.createUser({ user: { username: owner, password: "pw", email: "owner@x.example" } });
      const other = await signUpAndIn(t.baseUrl);
      expect((await as(admin.accessToken).users.getUser({ name: `users/${owner}` })).email).toBe("owner@x.example");
      expect((await as(other.accessToken).users.getUser({ name: `users/${owner}` })).email).toBe("");
      const self = await anon(t.baseUrl).auth.signIn({ credentials: { case: "passwordCredentials", value: { username: owner, password: "pw" } } });
      expect((await as(self.accessToken).users.getUser({ name: `users/${owner}` })).email).toBe("owner@x.example");
    });

    test("unknown user is not_found; a malformed name is invalid_argument", async () => {
      const c = as(admin.accessToken);
      expect(await codeOf(c.users.getUser({ name: `users/${uniqueName("ghost")}` }))).toBe(Code.NotFound);
      expect(await codeOf(c.users.getUser({ name: "users/" }))).toBe(Code.InvalidArgument);
      expect(await codeOf(c.users.getUser({ name: "memos/abc" }))).toBe(Code.InvalidArgument);
      expect(await codeOf(c.users.getUser({ name: "users/a/b" }))).toBe(Code.InvalidArgument);
    });

    test("BatchGetUsers: request order, duplicates and empties ignored, NORMAL only, exact match, at most 100", async () => {
      const c = as(admin.accessToken);
      const a = (await signUpAndIn(t.baseUrl)).username;
      const b = (await signUpAndIn(t.baseUrl)).username;
      const archived = (await signUpAndIn(t.baseUrl)).username;
      await c.users.updateUser({ user: { name: `users/${archived}`, state: State.ARCHIVED }, updateMask: { paths: ["state"] } });
      const res = await c.users.batchGetUsers({ usernames: [b, "", a, b, archived, ` ${a}`, a.toUpperCase(), uniqueName("ghost")] });
      expect(res.users.map((u) => u.username)).toEqual([b, a]);
      const tooMany = Array.from({ length: 101 }, (_, i) => `n${i}`);
      expect(await codeOf(c.users.batchGetUsers({ usernames: tooMany }))).toBe(Code.InvalidArgument);
      await expect(c.users.batchGetUsers({ usernames: [...tooMany.slice(0, 100), "n0", ""] })).resolves.toBeDefined();
    });
  });

  describe("ListUsers", () => {
    test("admin only", async () => {
      const regular = await signUpAndIn(t.baseUrl);
      expect(await codeOf(as(regular.accessToken).users.listUsers({}))).toBe(Code.PermissionDenied);
      expect(await codeOf(anon(t.baseUrl).users.listUsers({}))).toBe(Code.Unauthenticated);
    });

    test("pages with base64 PageToken offsets and no dangling token on the last page", async () => {
      const c = as(admin.accessToken);
      const total = (await c.users.listUsers({ pageSize: 1000 })).users.length;
      expect(total).toBeGreaterThan(3);
      const seen: string[] = [];
      let token = "";
      let pages = 0;
      do {
        const res = await c.users.listUsers({ pageSize: 2, pageToken: token });
        seen.push(...res.users.map((u) => u.username));
        if (pages === 0) expect(res.nextPageToken).toBe("CAIQAg==");
        token = res.nextPageToken;
        pages++;
      } while (token !== "");
      expect(seen).toHaveLength(total);
      expect(new Set(seen).size).toBe(total);
      expect(pages).toBe(Math.ceil(total / 2));
      // The token's limit wins over page_size.
      expect((await c.users.listUsers({ pageSize: 50, pageToken: "CAIQAg==" })).users).toHaveLength(2);
      expect(await codeOf(c.users.listUsers({ pageToken: "!!" }))).toBe(Code.InvalidArgument);
    });

    test("filter username == \"x\"; other filters are invalid", async () => {
      const c = as(admin.accessToken);
      const u = (await signUpAndIn(t.baseUrl)).username;
      const res = await c.users.listUsers({ filter: `username == "${u}"` });
      expect(res.users.map((x) => x.username)).toEqual([u]);
      expect((await c.users.listUsers({ filter: `username == "nobody-${u}"` })).users).toEqual([]);
      expect(await codeOf(c.users.listUsers({ filter: `role == "ADMIN"` }))).toBe(Code.InvalidArgument);
    });
  });

  describe("UpdateUser", () => {
    test("self may change profile fields and password; the new password signs in", async () => {
      const u = await signUpAndIn(t.baseUrl);
      const c = as(u.accessToken);
      const res = await c.users.updateUser({
        user: { name: `users/${u.username}`, displayName: "Me", email: "me@x", description: "hi", password: "new-pw" },
        updateMask: { paths: ["display_name", "email", "description", "password"] },
      });
      expect(res).toMatchObject({ displayName: "Me", email: "me@x", description: "hi", password: "" });
      const cred = (p: string) => ({ credentials: { case: "passwordCredentials" as const, value: { username: u.username, password: p } } });
      await expect(anon(t.baseUrl).auth.signIn(cred("new-pw"))).resolves.toBeDefined();
      expect(await codeOf(anon(t.baseUrl).auth.signIn(cred(u.password)))).toBe(Code.InvalidArgument);
    });

    test("rules: mask required, unknown path, role/state admin-only, other users forbidden, username rule and conflicts", async () => {
      const u = await signUpAndIn(t.baseUrl);
      const v = await signUpAndIn(t.baseUrl);
      const c = as(u.accessToken);
      const name = `users/${u.username}`;
      expect(await codeOf(c.users.updateUser({ user: { name } }))).toBe(Code.InvalidArgument);
      expect(await codeOf(c.users.updateUser({ user: { name }, updateMask: { paths: ["nope"] } }))).toBe(Code.InvalidArgument);
      expect(await codeOf(c.users.updateUser({ user: { name, role: User_Role.ADMIN }, updateMask: { paths: ["role"] } }))).toBe(Code.PermissionDenied);
      expect(await codeOf(c.users.updateUser({ user: { name, state: State.ARCHIVED }, updateMask: { paths: ["state"] } }))).toBe(Code.PermissionDenied);
      expect(await codeOf(c.users.updateUser({ user: { name: `users/${v.username}`, description: "x" }, updateMask: { paths: ["description"] } }))).toBe(
        Code.PermissionDenied,
      );
      expect(await codeOf(c.users.updateUser({ user: { name, username: "bad_name" }, updateMask: { paths: ["username"] } }))).toBe(Code.InvalidArgument);
      expect(await codeOf(c.users.updateUser({ user: { name, username: v.username }, updateMask: { paths: ["username"] } }))).toBe(Code.AlreadyExists);
      expect(await codeOf(c.users.updateUser({ user: { name, password: "" }, updateMask: { paths: ["password"] } }))).toBe(Code.InvalidArgument);
      expect(await codeOf(c.users.updateUser({ user: { name, avatarUrl: "https://x/y.png" }, updateMask: { paths: ["avatar_url"] } }))).toBe(
        Code.InvalidArgument,
      );
      expect(await codeOf(c.users.updateUser({ user: { name, avatarUrl: "data:image/svg+xml;base64,AAAA" }, updateMask: { paths: ["avatar_url"] } }))).toBe(
        Code.InvalidArgument,
      );
      const avatar = await c.users.updateUser({ user: { name, avatarUrl: "data:image/png;base64,iVBORw0KGgo=" }, updateMask: { paths: ["avatar_url"] } });
      expect(avatar.avatarUrl).toBe(`/file/users/${u.username}/avatar`);
      const renamed = uniqueName("renamed");
      expect((await c.users.updateUser({ user: { name, username: renamed }, updateMask: { paths: ["username"] } })).name).toBe(`users/${renamed}`);
    });

    test("an admin may change role and state of others", async () => {
      const u = await signUpAndIn(t.baseUrl);
      const c = as(admin.accessToken);
      const res = await c.users.updateUser({ user: { name: `users/${u.username}`, role: User_Role.ADMIN }, updateMask: { paths: ["role"] } });
      expect(res.role).toBe(User_Role.ADMIN);
      expect((await as(u.accessToken).users.listUsers({})).users.length).toBeGreaterThan(0);
    });
  });

  describe("DeleteUser", () => {
    test("self-delete clears the refresh cookie and removes the user; others may not delete; admins may", async () => {
      const u = await signUpAndIn(t.baseUrl);
      const v = await signUpAndIn(t.baseUrl);
      expect(await codeOf(as(v.accessToken).users.deleteUser({ name: `users/${u.username}` }))).toBe(Code.PermissionDenied);
      const cap = captureHeaders();
      await as(u.accessToken).users.deleteUser({ name: `users/${u.username}` }, { onHeader: cap.onHeader });
      expect(setCookies(cap.headers)).toEqual(["memos_refresh=; Path=/; HttpOnly; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax"]);
      expect(await codeOf(as(admin.accessToken).users.getUser({ name: `users/${u.username}` }))).toBe(Code.NotFound);
      await as(admin.accessToken).users.deleteUser({ name: `users/${v.username}` });
      expect(await codeOf(as(admin.accessToken).users.deleteUser({ name: `users/${v.username}` }))).toBe(Code.NotFound);
    });

    test("cascades to the user's rows", async () => {
      const u = await signUpAndIn(t.baseUrl);
      const db = t.app.database.db;
      const memo = await db.insertInto("memo").values({ uid: uniqueName("m"), creator_id: u.userId, content: "x" }).returning("id").executeTakeFirstOrThrow();
      await db.insertInto("user_setting").values({ user_id: u.userId, key: "GENERAL", value: "{}" }).execute();
      await as(u.accessToken).users.createPersonalAccessToken({ parent: `users/${u.username}` });
      await as(admin.accessToken).users.deleteUser({ name: `users/${u.username}` });
      expect(await db.selectFrom("memo").select("id").where("id", "=", memo.id).execute()).toEqual([]);
      for (const table of ["user_setting", "personal_access_token", "refresh_token"] as const) {
        expect([table, await db.selectFrom(table).select("user_id").where("user_id", "=", u.userId).execute()]).toEqual([table, []]);
      }
    });
  });
});
