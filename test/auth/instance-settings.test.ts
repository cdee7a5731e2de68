import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import {
  InstanceSetting_GeneralSettingSchema,
  InstanceSetting_MemoRelatedSettingSchema,
  InstanceSetting_Storage_S3ConfigSchema,
  InstanceSetting_StorageSetting_S3ConfigSchema,
  InstanceSetting_StorageSetting_StorageType,
  InstanceSetting_StorageSettingSchema,
  InstanceSetting_StorageSchema,
  InstanceSetting_StorageType,
  type InstanceSetting,
} from "../../gen/memos/api/v1/instance_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { clients, codeOf, errorOf, signUpAndIn, uniqueName } from "./support.js";

let t: TestApp;
let admin: Awaited<ReturnType<typeof signUpAndIn>>;
let regular: Awaited<ReturnType<typeof signUpAndIn>>;
beforeAll(async () => {
  t = await startTestApp();
  admin = await signUpAndIn(t.baseUrl, uniqueName("admin"));
  regular = await signUpAndIn(t.baseUrl);
}, 60_000);
afterAll(async () => {
  await t?.close();
});
const anon = () => clients(t.baseUrl);
const asAdmin = () => clients(t.baseUrl, { token: admin.accessToken });
const asRegular = () => clients(t.baseUrl, { token: regular.accessToken });
type ValueByCase = { [V in Exclude<InstanceSetting["value"], { case: undefined }> as V["case"]]: V["value"] };
function valueOf<C extends keyof ValueByCase>(s: InstanceSetting, c: C): ValueByCase[C] {
  expect(s.value.case).toBe(c);
  return s.value.value as ValueByCase[C];
}

test("defaults when nothing is stored (as the web app's first load asks for them)", async () => {
  const res = await anon().instance.batchGetInstanceSettings({ names: ["instance/settings/GENERAL", "instance/settings/MEMO_RELATED"] });
  expect(res.settings.map((s) => s.name)).toEqual(["instance/settings/GENERAL", "instance/settings/MEMO_RELATED"]);
  expect(valueOf(res.settings[0]!, "generalSetting")).toMatchObject({ disallowUserRegistration: false, disallowPasswordAuth: false });
  const memo = valueOf(res.settings[1]!, "memoRelatedSetting");
  expect(memo.contentLengthLimit).toBe(8192);
  expect(memo.reactions).toEqual(["👍", "👎", "❤️", "🎉", "😄", "😕", "😢", "😡"]);
  const storage = valueOf(await asAdmin().instance.getInstanceSetting({ name: "instance/settings/STORAGE" }), "storageSetting");
  expect(storage).toMatchObject({
    storageType: InstanceSetting_StorageSetting_StorageType.LOCAL,
    uploadSizeLimitMb: 30n,
    filepathTemplate: "assets/{timestamp}_{uuid}_{filename}",
  });
  const access = valueOf(await anon().instance.getInstanceSetting({ name: "instance/settings/ACCESS" }), "accessSetting");
  expect(access.accessMode).toBeDefined();
});

test("bad names are invalid_argument; batch is capped at 100", async () => {
  for (const name of ["instance/settings/NOPE", "instance/settings/KEY_UNSPECIFIED", "settings/GENERAL", "instance/settings/general", ""]) {
    expect([name, await codeOf(anon().instance.getInstanceSetting({ name }))]).toEqual([name, Code.InvalidArgument]);
  }
  const names = Array.from({ length: 101 }, () => "instance/settings/GENERAL");
  expect(await codeOf(anon().instance.batchGetInstanceSettings({ names }))).toBe(Code.InvalidArgument);
});

test("STORAGE and NOTIFICATION are admin-only reads; AI needs a signed-in user", async () => {
  for (const name of ["instance/settings/STORAGE", "instance/settings/NOTIFICATION"]) {
    expect(await codeOf(anon().instance.getInstanceSetting({ name }))).toBe(Code.Unauthenticated);
    expect(await codeOf(asRegular().instance.getInstanceSetting({ name }))).toBe(Code.PermissionDenied);
    await expect(asAdmin().instance.getInstanceSetting({ name })).resolves.toBeDefined();
  }
  expect(await codeOf(anon().instance.getInstanceSetting({ name: "instance/settings/AI" }))).toBe(Code.Unauthenticated);
  await expect(asRegular().instance.getInstanceSetting({ name: "instance/settings/AI" })).resolves.toBeDefined();
});

test("writes are admin-only and replace the whole setting, stored as protobuf-JSON", async () => {
  const general = create(InstanceSetting_GeneralSettingSchema, { additionalStyle: "body{}", weekStartDayOffset: 1 });
  const req = { setting: { name: "instance/settings/GENERAL", value: { case: "generalSetting" as const, value: general } } };
  expect(await codeOf(asRegular().instance.updateInstanceSetting(req))).toBe(Code.PermissionDenied);
  expect(await codeOf(anon().instance.updateInstanceSetting(req))).toBe(Code.Unauthenticated);
  const res = await asAdmin().instance.updateInstanceSetting(req);
  expect(valueOf(res, "generalSetting")).toMatchObject({ additionalStyle: "body{}", weekStartDayOffset: 1 });
  const row = await t.app.database.db.selectFrom("system_setting").select("value").where("name", "=", "GENERAL").executeTakeFirstOrThrow();
  expect(JSON.parse(row.value)).toEqual({ additionalStyle: "body{}", weekStartDayOffset: 1 });
  // The value must match the key.
  expect(await codeOf(asAdmin().instance.updateInstanceSetting({ setting: { name: "instance/settings/MEMO_RELATED", value: req.setting.value } }))).toBe(
    Code.InvalidArgument,
  );
  expect(await codeOf(asAdmin().instance.updateInstanceSetting({}))).toBe(Code.InvalidArgument);
});

test("MEMO_RELATED: a limit below 8192 reads as 8192; a higher one is kept", async () => {
  const put = (limit: number) =>
    asAdmin().instance.updateInstanceSetting({
      setting: {
        name: "instance/settings/MEMO_RELATED",
        value: { case: "memoRelatedSetting", value: create(InstanceSetting_MemoRelatedSettingSchema, { contentLengthLimit: limit, reactions: ["🔥"] }) },
      },
    });
  expect(valueOf(await put(100), "memoRelatedSetting")).toMatchObject({ contentLengthLimit: 8192, reactions: ["🔥"] });
  expect(valueOf(await put(20000), "memoRelatedSetting").contentLengthLimit).toBe(20000);
});

test("STORAGE: S3 secrets are never returned and an empty secret keeps the stored one", async () => {
  const s3 = create(InstanceSetting_StorageSetting_S3ConfigSchema, { accessKeyId: "AK", accessKeySecret: "SECRET", bucket: "b" });
  const storage = create(InstanceSetting_StorageSchema, {
    id: "s3",
    name: "S3",
    type: InstanceSetting_StorageType.S3,
    config: { case: "s3Config", value: create(InstanceSetting_Storage_S3ConfigSchema, { accessKeyId: "AK2", accessKeySecret: "SECRET2" }) },
  });
  const put = (value: ReturnType<typeof create<typeof InstanceSetting_StorageSettingSchema>>) =>
    asAdmin().instance.updateInstanceSetting({ setting: { name: "instance/settings/STORAGE", value: { case: "storageSetting", value } } });
  const res = valueOf(
    await put(create(InstanceSetting_StorageSettingSchema, { uploadSizeLimitMb: 10n, s3Config: s3, storages: [storage], defaultStorageId: "s3" })),
    "storageSetting",
  );
  expect(res.uploadSizeLimitMb).toBe(10n);
  expect(res.s3Config?.accessKeySecret).toBe("");
  expect(res.storages[0]?.config.value?.accessKeySecret).toBe("");
  // Send it back as read (secrets empty): the stored secrets stay.
  await put(res);
  const row = await t.app.database.db.selectFrom("system_setting").select("value").where("name", "=", "STORAGE").executeTakeFirstOrThrow();
  expect(row.value).toContain("SECRET");
  expect(row.value).toContain("SECRET2");
});

test("disallow_password_auth cannot be switched on while no identity provider exists", async () => {
  const err = await errorOf(
    asAdmin().instance.updateInstanceSetting({
      setting: {
        name: "instance/settings/GENERAL",
        value: { case: "generalSetting", value: create(InstanceSetting_GeneralSettingSchema, { disallowPasswordAuth: true }) },
      },
    }),
  );
  expect(err.code).toBe(Code.FailedPrecondition);
  await t.app.database.db.insertInto("idp").values({ uid: uniqueName("idp"), name: "SSO", type: "OAUTH2" }).execute();
  try {
    const res = await asAdmin().instance.updateInstanceSetting({
      setting: {
        name: "instance/settings/GENERAL",
        value: { case: "generalSetting", value: create(InstanceSetting_GeneralSettingSchema, { disallowPasswordAuth: true }) },
      },
    });
    expect(valueOf(res, "generalSetting").disallowPasswordAuth).toBe(true);
  } finally {
    await t.app.database.db.deleteFrom("system_setting").where("name", "=", "GENERAL").execute();
    await t.app.database.db.deleteFrom("idp").execute();
  }
});

test("the profile shows the admin's e-mail only to admins", async () => {
  await asAdmin().users.updateUser({ user: { name: `users/${admin.username}`, email: "boss@example.com" }, updateMask: { paths: ["email"] } });
  expect((await asAdmin().instance.getInstanceProfile({})).admin?.email).toBe("boss@example.com");
  expect((await asRegular().instance.getInstanceProfile({})).admin?.email).toBe("");
  expect((await anon().instance.getInstanceProfile({})).admin?.email).toBe("");
});
