import { Code } from "@connectrpc/connect";
import { startTestApp, type TestApp } from "../support/app.js";
import { codeOf, errorOf, newUser, serviceClients, type WebUser } from "./support.js";

describe("user settings and linked identities", () => {
  let t: TestApp;
  let admin: WebUser;
  beforeAll(async () => {
    t = await startTestApp();
    admin = await newUser(t.baseUrl, "admin");
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  const storedValue = async (userId: number, key: string) =>
    (await t.app.database.db.selectFrom("user_setting").select("value").where("user_id", "=", userId).where("key", "=", key).executeTakeFirst())?.value;

  test("ListUserSettings of a new user: GENERAL, TAGS and WEBHOOKS with defaults, nothing stored", async () => {
    const u = await newUser(t.baseUrl);
    const res = await u.users.listUserSettings({ parent: u.name });
    expect(res.settings.map((s) => s.name)).toEqual([`${u.name}/settings/GENERAL`, `${u.name}/settings/TAGS`, `${u.name}/settings/WEBHOOKS`]);
    expect(res.settings[0]!.value).toMatchObject({ case: "generalSetting", value: { locale: "en", memoVisibility: "PRIVATE", theme: "", saveMediaMetadata: false } });
    expect(res.settings[1]!.value).toMatchObject({ case: "tagsSetting", value: { tags: {} } });
    expect(res.settings[2]!.value).toMatchObject({ case: "webhooksSetting", value: { webhooks: [] } });
    expect(res.nextPageToken).toBe("");
    expect(await storedValue(u.userId, "GENERAL")).toBeUndefined();
  });

  test("UpdateUserSetting GENERAL changes only the masked fields and stores protobuf-JSON", async () => {
    const u = await newUser(t.baseUrl);
    const name = `${u.name}/settings/GENERAL`;
    const first = await u.users.updateUserSetting({
      setting: { name, value: { case: "generalSetting", value: { locale: "de", theme: "paper", memoVisibility: "PUBLIC" } } },
      updateMask: { paths: ["locale"] },
    });
    expect(first.value.value).toMatchObject({ locale: "de", theme: "", memoVisibility: "PRIVATE" });
    const second = await u.users.updateUserSetting({
      setting: { name, value: { case: "generalSetting", value: { theme: "paper", memoVisibility: "PROTECTED" } } },
      updateMask: { paths: ["theme", "memo_visibility", "appearance"] },
    });
    expect(second.value.value).toMatchObject({ locale: "de", theme: "paper", memoVisibility: "PROTECTED" });
    expect(await u.users.getUserSetting({ name })).toEqual(second);
    expect(JSON.parse((await storedValue(u.userId, "GENERAL"))!)).toEqual({ locale: "de", memoVisibility: "PROTECTED", theme: "paper" });
    const listed = await u.users.listUserSettings({ parent: u.name });
    expect(listed.settings[0]).toEqual(second);
  });

  test("concurrent updates of different fields all land (row-locked read-modify-write)", async () => {
    const u = await newUser(t.baseUrl);
    const name = `${u.name}/settings/GENERAL`;
    await Promise.all([
      u.users.updateUserSetting({ setting: { name, value: { case: "generalSetting", value: { locale: "fr" } } }, updateMask: { paths: ["locale"] } }),
      u.users.updateUserSetting({ setting: { name, value: { case: "generalSetting", value: { theme: "dark" } } }, updateMask: { paths: ["theme"] } }),
      u.users.updateUserSetting({ setting: { name, value: { case: "generalSetting", value: { memoVisibility: "PUBLIC" } } }, updateMask: { paths: ["memo_visibility"] } }),
      u.users.updateUserSetting({ setting: { name, value: { case: "generalSetting", value: { saveMediaMetadata: true } } }, updateMask: { paths: ["save_media_metadata"] } }),
    ]);
    expect((await u.users.getUserSetting({ name })).value.value).toMatchObject({ locale: "fr", theme: "dark", memoVisibility: "PUBLIC", saveMediaMetadata: true });
  });

  test("TAGS: replaced with mask [tags]; colours are checked", async () => {
    const u = await newUser(t.baseUrl);
    const name = `${u.name}/settings/TAGS`;
    const res = await u.users.updateUserSetting({
      setting: { name, value: { case: "tagsSetting", value: { tags: { work: { backgroundColor: { red: 1, green: 0.5, blue: 0 }, blurContent: true } } } } },
      updateMask: { paths: ["tags"] },
    });
    expect(res.value).toMatchObject({ case: "tagsSetting", value: { tags: { work: { blurContent: true, backgroundColor: { red: 1, green: 0.5, blue: 0 } } } } });
    expect((await u.users.getUserSetting({ name })).value.value).toEqual(res.value.value);
    const bad = await errorOf(
      u.users.updateUserSetting({
        setting: { name, value: { case: "tagsSetting", value: { tags: { work: { backgroundColor: { red: 2, green: 0, blue: 0 } } } } } },
        updateMask: { paths: ["tags"] },
      }),
    );
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(await codeOf(u.users.updateUserSetting({ setting: { name, value: { case: "tagsSetting", value: {} } }, updateMask: { paths: ["colors"] } }))).toBe(
      Code.InvalidArgument,
    );
  });

  test.each([
    ["no mask", { paths: [] as string[] }, { case: "generalSetting" as const, value: { locale: "x" } }, "GENERAL", "update mask is required"],
    ["bad visibility", { paths: ["memo_visibility"] }, { case: "generalSetting" as const, value: { memoVisibility: "SECRET" } }, "GENERAL", "invalid memo_visibility: expected PRIVATE, PROTECTED or PUBLIC"],
    ["value of another key", { paths: ["locale"] }, { case: "tagsSetting" as const, value: {} }, "GENERAL", "general setting is required"],
    ["WEBHOOKS", { paths: ["webhooks"] }, { case: "webhooksSetting" as const, value: {} }, "WEBHOOKS", "setting WEBHOOKS cannot be updated with UpdateUserSetting"],
  ])("UpdateUserSetting rejects %s", async (_label, updateMask, value, key, message) => {
    const u = await newUser(t.baseUrl);
    const err = await errorOf(u.users.updateUserSetting({ setting: { name: `${u.name}/settings/${key}`, value }, updateMask }));
    expect([err.code, err.rawMessage]).toEqual([Code.InvalidArgument, message]);
  });

  test("only the user themself: others and admins are denied, anonymous is unauthenticated, names are checked", async () => {
    const u = await newUser(t.baseUrl);
    const other = await newUser(t.baseUrl);
    const anon = serviceClients(t.baseUrl);
    const name = `${u.name}/settings/GENERAL`;
    expect(await codeOf(other.users.listUserSettings({ parent: u.name }))).toBe(Code.PermissionDenied);
    expect(await codeOf(admin.users.getUserSetting({ name }))).toBe(Code.PermissionDenied);
    expect(
      await codeOf(other.users.updateUserSetting({ setting: { name, value: { case: "generalSetting", value: { locale: "x" } } }, updateMask: { paths: ["locale"] } })),
    ).toBe(Code.PermissionDenied);
    expect(await codeOf(anon.users.listUserSettings({ parent: u.name }))).toBe(Code.Unauthenticated);
    expect(await codeOf(u.users.listUserSettings({ parent: "users/nobody-here" }))).toBe(Code.NotFound);
    expect(await codeOf(u.users.listUserSettings({ parent: "people/x" }))).toBe(Code.InvalidArgument);
    expect(await codeOf(u.users.getUserSetting({ name: `${u.name}/settings/REFRESH_TOKENS` }))).toBe(Code.InvalidArgument);
    expect(await codeOf(u.users.getUserSetting({ name: `${u.name}/settings/general` }))).toBe(Code.InvalidArgument);
  });

  test("REST: GET .../settings and PATCH .../settings/GENERAL with an explicit mask", async () => {
    const u = await newUser(t.baseUrl);
    const headers = { Authorization: `Bearer ${u.token}`, "Content-Type": "application/json" };
    const patched = await fetch(`${t.baseUrl}/api/v1/${u.name}/settings/GENERAL?updateMask=locale`, {
      method: "PATCH",
      headers,
      body: JSON.stringify({ generalSetting: { locale: "ja" } }),
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toEqual({
      name: `${u.name}/settings/GENERAL`,
      generalSetting: { locale: "ja", memoVisibility: "PRIVATE", theme: "", saveMediaMetadata: false },
    });
    const listed = await fetch(`${t.baseUrl}/api/v1/${u.name}/settings`, { headers });
    const body = (await listed.json()) as { settings: Array<{ name: string }> };
    expect(body.settings.map((s) => s.name.split("/").pop())).toEqual(["GENERAL", "TAGS", "WEBHOOKS"]);
  });

  describe("linked identities", () => {
    const link = async (userId: number, provider: string, externUid: string) => {
      await t.app.database.db.insertInto("user_identity").values({ user_id: userId, provider, extern_uid: externUid }).execute();
    };

    test("a password user has none; links are listed, read and removed by the user or an admin", async () => {
      const u = await newUser(t.baseUrl);
      expect((await u.users.listLinkedIdentities({ parent: u.name })).linkedIdentities).toEqual([]);
      await link(u.userId, "github", "12345");
      await link(u.userId, "google", "g-1");
      const listed = await u.users.listLinkedIdentities({ parent: u.name });
      expect(listed.linkedIdentities.map((l) => [l.name, l.idpName, l.externUid])).toEqual([
        [`${u.name}/linkedIdentities/github`, "identity-providers/github", "12345"],
        [`${u.name}/linkedIdentities/google`, "identity-providers/google", "g-1"],
      ]);
      expect(await u.users.getLinkedIdentity({ name: `${u.name}/linkedIdentities/google` })).toMatchObject({ externUid: "g-1" });
      expect((await admin.users.listLinkedIdentities({ parent: u.name })).linkedIdentities).toHaveLength(2);
      await u.users.deleteLinkedIdentity({ name: `${u.name}/linkedIdentities/github` });
      await admin.users.deleteLinkedIdentity({ name: `${u.name}/linkedIdentities/google` });
      expect((await u.users.listLinkedIdentities({ parent: u.name })).linkedIdentities).toEqual([]);
      expect(await codeOf(u.users.getLinkedIdentity({ name: `${u.name}/linkedIdentities/github` }))).toBe(Code.NotFound);
      expect(await codeOf(u.users.deleteLinkedIdentity({ name: `${u.name}/linkedIdentities/github` }))).toBe(Code.NotFound);
    });

    test("other users are denied; bad names are invalid; linking is unimplemented", async () => {
      const u = await newUser(t.baseUrl);
      const other = await newUser(t.baseUrl);
      expect(await codeOf(other.users.listLinkedIdentities({ parent: u.name }))).toBe(Code.PermissionDenied);
      expect(await codeOf(other.users.deleteLinkedIdentity({ name: `${u.name}/linkedIdentities/github` }))).toBe(Code.PermissionDenied);
      expect(await codeOf(u.users.getLinkedIdentity({ name: `${u.name}/identities/github` }))).toBe(Code.InvalidArgument);
      expect(await codeOf(serviceClients(t.baseUrl).users.listLinkedIdentities({ parent: u.name }))).toBe(Code.Unauthenticated);
      expect(await codeOf(u.users.createLinkedIdentity({ parent: u.name, idpName: "identity-providers/x", code: "c", redirectUri: "https://x" }))).toBe(
        Code.Unimplemented,
      );
    });
  });
});
