import { Code } from "@connectrpc/connect";
import { IdentityProvider_Type, type IdentityProvider } from "../../gen/memos/api/v1/idp_service_pb.js";
import { InstanceSetting_AIProviderType, InstanceSetting_GeneralSettingSchema } from "../../gen/memos/api/v1/instance_service_pb.js";
import { create } from "@bufbuild/protobuf";
import { startTestApp, type TestApp } from "../support/app.js";
import { codeOf, errorOf, newUser, serviceClients, type WebUser } from "./support.js";

let t: TestApp;
let admin: WebUser;
beforeAll(async () => {
  t = await startTestApp();
  admin = await newUser(t.baseUrl, "admin");
}, 60_000);
afterAll(async () => {
  await t?.close();
});

describe("MemoViewService", () => {
  test("create, list, get, update and delete a user's views; stored under user_setting MEMO_VIEWS", async () => {
    const u = await newUser(t.baseUrl);
    expect((await u.memoViews.listMemoViews({ parent: u.name })).memoViews).toEqual([]);
    const work = await u.memoViews.createMemoView({ parent: u.name, memoView: { title: "Work", filter: 'tag in ["work"]' } });
    expect(work.name).toMatch(new RegExp(`^${u.name}/views/[A-Za-z0-9]{22}$`));
    const todo = await u.memoViews.createMemoView({ parent: u.name, memoView: { title: "Open tasks", filter: "has_incomplete_tasks" } });
    expect((await u.memoViews.listMemoViews({ parent: u.name })).memoViews.map((v) => v.title)).toEqual(["Work", "Open tasks"]);
    expect(await u.memoViews.getMemoView({ name: todo.name })).toEqual(todo);
    const renamed = await u.memoViews.updateMemoView({ memoView: { name: work.name, title: "Job", filter: "ignored" }, updateMask: { paths: ["title"] } });
    expect(renamed).toMatchObject({ name: work.name, title: "Job", filter: 'tag in ["work"]' });
    await u.memoViews.deleteMemoView({ name: todo.name });
    expect((await u.memoViews.listMemoViews({ parent: u.name })).memoViews).toEqual([renamed]);
    expect(await codeOf(u.memoViews.getMemoView({ name: todo.name }))).toBe(Code.NotFound);
    expect(await codeOf(u.memoViews.deleteMemoView({ name: todo.name }))).toBe(Code.NotFound);
    const row = await t.app.database.db.selectFrom("user_setting").select("value").where("user_id", "=", u.userId).where("key", "=", "MEMO_VIEWS").executeTakeFirstOrThrow();
    expect(JSON.parse(row.value)).toEqual({ memoViews: [{ id: work.name.split("/").pop(), title: "Job", filter: 'tag in ["work"]' }] });
  });

  test("validate_only saves nothing; concurrent creates all land", async () => {
    const u = await newUser(t.baseUrl);
    await u.memoViews.createMemoView({ parent: u.name, memoView: { title: "Dry", filter: "pinned" }, validateOnly: true });
    expect((await u.memoViews.listMemoViews({ parent: u.name })).memoViews).toEqual([]);
    await Promise.all(Array.from({ length: 8 }, (_, i) => u.memoViews.createMemoView({ parent: u.name, memoView: { title: `v${i}`, filter: "pinned" } })));
    expect((await u.memoViews.listMemoViews({ parent: u.name })).memoViews).toHaveLength(8);
  });

  test.each([
    ["no title", { title: " ", filter: "pinned" }, "title is required"],
    ["no filter", { title: "x", filter: "" }, "invalid filter: filter cannot be empty"],
  ])("CreateMemoView rejects %s", async (_label, memoView, message) => {
    const u = await newUser(t.baseUrl);
    const err = await errorOf(u.memoViews.createMemoView({ parent: u.name, memoView }));
    expect([err.code, err.rawMessage]).toEqual([Code.InvalidArgument, message]);
  });

  test("filters must compile; updates need a mask of title/filter", async () => {
    const u = await newUser(t.baseUrl);
    const err = await errorOf(u.memoViews.createMemoView({ parent: u.name, memoView: { title: "x", filter: "unknown_field == 1" } }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/^invalid filter: /);
    const v = await u.memoViews.createMemoView({ parent: u.name, memoView: { title: "x", filter: "pinned" } });
    expect(await codeOf(u.memoViews.updateMemoView({ memoView: { name: v.name, title: "y" } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(u.memoViews.updateMemoView({ memoView: { name: v.name, title: "y" }, updateMask: { paths: ["name"] } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(u.memoViews.updateMemoView({ memoView: { name: v.name, filter: "(" }, updateMask: { paths: ["filter"] } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(u.memoViews.updateMemoView({ memoView: { name: `${u.name}/views/missing`, title: "y" }, updateMask: { paths: ["title"] } }))).toBe(Code.NotFound);
  });

  test("only the user themself; names are checked", async () => {
    const u = await newUser(t.baseUrl);
    const other = await newUser(t.baseUrl);
    const v = await u.memoViews.createMemoView({ parent: u.name, memoView: { title: "mine", filter: "pinned" } });
    expect(await codeOf(other.memoViews.listMemoViews({ parent: u.name }))).toBe(Code.PermissionDenied);
    expect(await codeOf(admin.memoViews.getMemoView({ name: v.name }))).toBe(Code.PermissionDenied);
    expect(await codeOf(other.memoViews.deleteMemoView({ name: v.name }))).toBe(Code.PermissionDenied);
    expect(await codeOf(serviceClients(t.baseUrl).memoViews.listMemoViews({ parent: u.name }))).toBe(Code.Unauthenticated);
    expect(await codeOf(u.memoViews.getMemoView({ name: `${u.name}/shortcuts/x` }))).toBe(Code.InvalidArgument);
    expect(await codeOf(u.memoViews.listMemoViews({ parent: "users/nobody-here-either" }))).toBe(Code.NotFound);
  });

  test("REST: GET and POST /api/v1/users/{u}/views", async () => {
    const u = await newUser(t.baseUrl);
    const headers = { Authorization: `Bearer ${u.token}`, "Content-Type": "application/json" };
    const created = await fetch(`${t.baseUrl}/api/v1/${u.name}/views`, { method: "POST", headers, body: JSON.stringify({ title: "Links", filter: "has_link" }) });
    expect(created.status).toBe(200);
    const listed = await fetch(`${t.baseUrl}/api/v1/${u.name}/views`, { headers });
    expect(((await listed.json()) as { memoViews: Array<{ title: string }> }).memoViews.map((v) => v.title)).toEqual(["Links"]);
  });
});

describe("IdentityProviderService", () => {
  const oauth2 = (secret: string) => ({
    case: "oauth2Config" as const,
    value: {
      clientId: "client",
      clientSecret: secret,
      authUrl: "https://idp.example.com/auth",
      tokenUrl: "https://idp.example.com/token",
      userInfoUrl: "https://idp.example.com/userinfo",
      scopes: ["openid", "email"],
      fieldMapping: { identifier: "sub", displayName: "name", email: "email", avatarUrl: "picture" },
    },
  });
  const secretOf = (idp: IdentityProvider) => (idp.config?.config.case === "oauth2Config" ? idp.config.config.value.clientSecret : undefined);
  const storedSecret = async (uid: string) => {
    const row = await t.app.database.db.selectFrom("idp").select("config").where("uid", "=", uid).executeTakeFirstOrThrow();
    return (row.config as { oauth2Config: { clientSecret: string } }).oauth2Config.clientSecret;
  };

  test("admins create, update and delete providers; anyone lists them without client secrets", async () => {
    const created = await admin.idps.createIdentityProvider({
      identityProviderId: "corp-sso",
      identityProvider: { type: IdentityProvider_Type.OAUTH2, title: "Corp SSO", identifierFilter: "@corp\\.com$", config: { config: oauth2("s3cret") } },
    });
    expect(created).toMatchObject({ name: "identity-providers/corp-sso", title: "Corp SSO", type: IdentityProvider_Type.OAUTH2, identifierFilter: "@corp\\.com$" });
    expect(secretOf(created)).toBe("");
    expect(await storedSecret("corp-sso")).toBe("s3cret");

    const anon = serviceClients(t.baseUrl);
    const listed = await anon.idps.listIdentityProviders({});
    expect(listed.identityProviders.map((p) => [p.name, secretOf(p)])).toEqual([["identity-providers/corp-sso", ""]]);
    expect(listed.identityProviders[0]!.config?.config.value).toMatchObject({ clientId: "client", scopes: ["openid", "email"], fieldMapping: { identifier: "sub" } });

    const user = await newUser(t.baseUrl);
    expect(await user.idps.getIdentityProvider({ name: "identity-providers/corp-sso" })).toEqual(listed.identityProviders[0]);
    expect(await codeOf(anon.idps.getIdentityProvider({ name: "identity-providers/corp-sso" }))).toBe(Code.Unauthenticated);

    // An empty secret in a config change keeps the stored one; a new one replaces it.
    const renamed = await admin.idps.updateIdentityProvider({
      identityProvider: { name: "identity-providers/corp-sso", title: "Corporate", config: { config: oauth2("") } },
      updateMask: { paths: ["title", "config"] },
    });
    expect(renamed.title).toBe("Corporate");
    expect(await storedSecret("corp-sso")).toBe("s3cret");
    await admin.idps.updateIdentityProvider({ identityProvider: { name: "identity-providers/corp-sso", config: { config: oauth2("new") } }, updateMask: { paths: ["config"] } });
    expect(await storedSecret("corp-sso")).toBe("new");

    await t.app.database.db.insertInto("user_identity").values({ user_id: user.userId, provider: "corp-sso", extern_uid: "u1" }).execute();
    await admin.idps.deleteIdentityProvider({ name: "identity-providers/corp-sso" });
    expect((await anon.idps.listIdentityProviders({})).identityProviders).toEqual([]);
    expect((await user.users.listLinkedIdentities({ parent: user.name })).linkedIdentities).toEqual([]);
    expect(await codeOf(admin.idps.deleteIdentityProvider({ name: "identity-providers/corp-sso" }))).toBe(Code.NotFound);
  });

  test("non-admins cannot change providers; bad input is invalid; a taken id already exists", async () => {
    const user = await newUser(t.baseUrl);
    const input = { type: IdentityProvider_Type.OAUTH2, title: "X", config: { config: oauth2("s") } };
    expect(await codeOf(user.idps.createIdentityProvider({ identityProvider: input }))).toBe(Code.PermissionDenied);
    expect(await codeOf(serviceClients(t.baseUrl).idps.createIdentityProvider({ identityProvider: input }))).toBe(Code.Unauthenticated);
    const bad = async (identityProvider: Record<string, unknown>, id = "") =>
      (await errorOf(admin.idps.createIdentityProvider({ identityProvider, identityProviderId: id }))).rawMessage;
    expect(await bad({ ...input, title: "" })).toBe("title is required");
    expect(await bad({ ...input, type: IdentityProvider_Type.TYPE_UNSPECIFIED })).toBe("identity provider type must be OAUTH2");
    expect(await bad({ ...input, config: {} })).toBe("oauth2 config is required");
    expect(await bad({ ...input, config: { config: { ...oauth2("s"), value: { ...oauth2("s").value, tokenUrl: "ftp://x" } } } })).toBe(
      "oauth2 config: token_url must be an http(s) URL",
    );
    expect(await bad({ ...input, identifierFilter: "(" })).toBe("invalid identifier filter: not a regular expression");
    expect(await bad(input, "-bad-")).toMatch(/^invalid UID/);
    const p = await admin.idps.createIdentityProvider({ identityProvider: input });
    expect(p.name).toMatch(/^identity-providers\/[A-Za-z0-9]{22}$/);
    expect(await codeOf(admin.idps.createIdentityProvider({ identityProvider: input, identityProviderId: p.name.split("/")[1]! }))).toBe(Code.AlreadyExists);
    expect(await codeOf(user.idps.updateIdentityProvider({ identityProvider: { name: p.name, title: "Y" }, updateMask: { paths: ["title"] } }))).toBe(Code.PermissionDenied);
    expect(await codeOf(admin.idps.updateIdentityProvider({ identityProvider: { name: p.name, title: "Y" } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(admin.idps.updateIdentityProvider({ identityProvider: { name: p.name }, updateMask: { paths: ["client_id"] } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(user.idps.deleteIdentityProvider({ name: p.name }))).toBe(Code.PermissionDenied);
    expect(await codeOf(admin.idps.getIdentityProvider({ name: "idps/x" }))).toBe(Code.InvalidArgument);
    await admin.idps.deleteIdentityProvider({ name: p.name });
  });

  test("the last provider cannot go while password sign-in is off; SSO sign-in is unimplemented", async () => {
    const p = await admin.idps.createIdentityProvider({ identityProvider: { type: IdentityProvider_Type.OAUTH2, title: "Only", config: { config: oauth2("s") } } });
    const general = create(InstanceSetting_GeneralSettingSchema, { disallowPasswordAuth: true });
    await admin.instance.updateInstanceSetting({ setting: { name: "instance/settings/GENERAL", value: { case: "generalSetting", value: general } } });
    try {
      expect(await codeOf(admin.idps.deleteIdentityProvider({ name: p.name }))).toBe(Code.FailedPrecondition);
    } finally {
      general.disallowPasswordAuth = false;
      await admin.instance.updateInstanceSetting({ setting: { name: "instance/settings/GENERAL", value: { case: "generalSetting", value: general } } });
    }
    await admin.idps.deleteIdentityProvider({ name: p.name });
    const anon = serviceClients(t.baseUrl);
    expect(await codeOf(anon.auth.signIn({ credentials: { case: "ssoCredentials", value: { idpName: p.name, code: "c", redirectUri: "https://x" } } }))).toBe(
      Code.Unimplemented,
    );
  });
});

describe("instance settings the web app reads", () => {
  test("BatchGetInstanceSettings answers GENERAL and MEMO_RELATED anonymously; AI reads as not configured", async () => {
    const anon = serviceClients(t.baseUrl);
    const res = await anon.instance.batchGetInstanceSettings({ names: ["instance/settings/GENERAL", "instance/settings/MEMO_RELATED"] });
    expect(res.settings.map((s) => s.value.case)).toEqual(["generalSetting", "memoRelatedSetting"]);
    expect((await anon.instance.getInstanceSetting({ name: "instance/settings/ACCESS" })).value.case).toBe("accessSetting");
    const user = await newUser(t.baseUrl);
    const ai = await user.instance.getInstanceSetting({ name: "instance/settings/AI" });
    expect(ai.value).toMatchObject({ case: "aiSetting", value: { providers: [] } });
  });

  test("admins update AI and NOTIFICATION; keys and passwords are write-only and kept when sent empty", async () => {
    const name = "instance/settings/AI";
    const provider = { id: "openai", title: "OpenAI", type: InstanceSetting_AIProviderType.OPENAI, endpoint: "https://api.openai.com/v1", apiKey: "sk-1234567890abcd" };
    const saved = await admin.instance.updateInstanceSetting({ setting: { name, value: { case: "aiSetting", value: { providers: [provider] } } } });
    expect(saved.value.value).toMatchObject({ providers: [{ id: "openai", apiKey: "", apiKeySet: true, apiKeyHint: "…abcd" }] });
    await admin.instance.updateInstanceSetting({ setting: { name, value: { case: "aiSetting", value: { providers: [{ ...provider, title: "Renamed", apiKey: "" }] } } } });
    const stored = await t.app.database.db.selectFrom("system_setting").select("value").where("name", "=", "AI").executeTakeFirstOrThrow();
    expect(JSON.parse(stored.value)).toMatchObject({ providers: [{ id: "openai", title: "Renamed", apiKey: "sk-1234567890abcd" }] });
    expect(
      await codeOf(admin.instance.updateInstanceSetting({ setting: { name, value: { case: "aiSetting", value: { providers: [{ ...provider, type: 0 }] } } } })),
    ).toBe(Code.InvalidArgument);

    const nname = "instance/settings/NOTIFICATION";
    const email = { enabled: true, smtpHost: "smtp.example.com", smtpPort: 587, smtpUsername: "u", smtpPassword: "pw", fromEmail: "memos@example.com", useTls: true };
    await admin.instance.updateInstanceSetting({ setting: { name: nname, value: { case: "notificationSetting", value: { email } } } });
    const read = await admin.instance.getInstanceSetting({ name: nname });
    expect(read.value.value).toMatchObject({ email: { smtpHost: "smtp.example.com", smtpPassword: "" } });
    await admin.instance.updateInstanceSetting({ setting: { name: nname, value: { case: "notificationSetting", value: { email: { ...email, smtpPassword: "" } } } } });
    const n = await t.app.database.db.selectFrom("system_setting").select("value").where("name", "=", "NOTIFICATION").executeTakeFirstOrThrow();
    expect(JSON.parse(n.value)).toMatchObject({ email: { smtpPassword: "pw" } });
    expect(
      await codeOf(admin.instance.updateInstanceSetting({ setting: { name: nname, value: { case: "notificationSetting", value: { email: { ...email, smtpHost: "" } } } } })),
    ).toBe(Code.InvalidArgument);
    const user = await newUser(t.baseUrl);
    expect(await codeOf(user.instance.updateInstanceSetting({ setting: { name, value: { case: "aiSetting", value: {} } } }))).toBe(Code.PermissionDenied);
  });
});
