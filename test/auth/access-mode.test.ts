import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AttachmentService } from "../../gen/memos/api/v1/attachment_service_pb.js";
import { AuthService } from "../../gen/memos/api/v1/auth_service_pb.js";
import { IdentityProviderService } from "../../gen/memos/api/v1/idp_service_pb.js";
import { InstanceAccessMode, InstanceService, InstanceSetting_AccessSettingSchema } from "../../gen/memos/api/v1/instance_service_pb.js";
import { MemoService } from "../../gen/memos/api/v1/memo_service_pb.js";
import { UserService } from "../../gen/memos/api/v1/user_service_pb.js";
import { methodAccess } from "../../src/auth/access-policy.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { clients, codeOf, signUpAndIn, uniqueName } from "./support.js";

/** Every method of the services with a public method, with its anonymous access class. */
const SERVICES = [AuthService, InstanceService, IdentityProviderService, UserService, MemoService, AttachmentService];
const METHODS = SERVICES.flatMap((s) => s.methods.map((m) => ({ service: s, method: m, access: methodAccess(`/${s.typeName}/${m.name}`) })));

/** Calls `procedure` anonymously with an empty message; answers the Connect code (undefined on success). */
async function anonymousCode(baseUrl: string, entry: (typeof METHODS)[number]): Promise<Code | undefined> {
  const transport = createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true });
  try {
    await transport.unary(entry.method as never, undefined, undefined, undefined, create(entry.method.input) as never);
    return undefined;
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

let t: TestApp;
let admin: Awaited<ReturnType<typeof signUpAndIn>>;
beforeAll(async () => {
  t = await startTestApp();
  admin = await signUpAndIn(t.baseUrl, uniqueName("admin"));
}, 60_000);
afterAll(async () => {
  await t?.close();
});

const setMode = (mode: InstanceAccessMode) =>
  clients(t.baseUrl, { token: admin.accessToken }).instance.updateInstanceSetting({
    setting: { name: "instance/settings/ACCESS", value: { case: "accessSetting", value: create(InstanceSetting_AccessSettingSchema, { accessMode: mode }) } },
  });

test("the public-method table covers the spec's methods (GetUserAvatar is not in our protos)", () => {
  expect(METHODS.filter((m) => m.access === "bootstrap")).toHaveLength(8);
  expect(METHODS.filter((m) => m.access === "public")).toHaveLength(11);
});

test("PRIVATE: anonymous callers reach only bootstrap methods", async () => {
  await setMode(InstanceAccessMode.PRIVATE);
  for (const entry of METHODS) {
    const code = await anonymousCode(t.baseUrl, entry);
    const gated = code === Code.Unauthenticated;
    // A bootstrap method may still refuse for its own reasons (e.g. RefreshToken without a cookie
    // answers unauthenticated "refresh token not found"), so only the gate's verdict is compared.
    if (entry.method.name === "RefreshToken") continue;
    expect([entry.method.name, gated]).toEqual([entry.method.name, entry.access !== "bootstrap"]);
  }
});

test("PUBLIC: anonymous callers also reach the public methods, never the protected ones", async () => {
  await setMode(InstanceAccessMode.PUBLIC);
  try {
    for (const entry of METHODS) {
      if (entry.method.name === "RefreshToken") continue;
      const code = await anonymousCode(t.baseUrl, entry);
      expect([entry.method.name, code === Code.Unauthenticated]).toEqual([entry.method.name, entry.access === "protected"]);
    }
  } finally {
    await setMode(InstanceAccessMode.PRIVATE);
  }
});

test("the ACCESS setting is read fresh: a change applies to the next request and shows in profile and setting", async () => {
  const anon = clients(t.baseUrl);
  const user = `users/${admin.username}`;
  expect(await codeOf(anon.users.getUser({ name: user }))).toBe(Code.Unauthenticated);
  const updated = await setMode(InstanceAccessMode.PUBLIC);
  try {
    expect(updated.value).toEqual({ case: "accessSetting", value: expect.objectContaining({ accessMode: InstanceAccessMode.PUBLIC }) });
    expect((await anon.users.getUser({ name: user })).username).toBe(admin.username);
    expect((await anon.instance.getInstanceProfile({})).accessMode).toBe(InstanceAccessMode.PUBLIC);
    const setting = await anon.instance.getInstanceSetting({ name: "instance/settings/ACCESS" });
    expect(setting.value.case === "accessSetting" && setting.value.value.accessMode).toBe(InstanceAccessMode.PUBLIC);
    const row = await t.app.database.db.selectFrom("system_setting").select("value").where("name", "=", "ACCESS").executeTakeFirstOrThrow();
    expect(row.value).toBe('{"accessMode":"INSTANCE_ACCESS_MODE_PUBLIC"}');
  } finally {
    await setMode(InstanceAccessMode.PRIVATE);
  }
  expect(await codeOf(anon.users.getUser({ name: user }))).toBe(Code.Unauthenticated);
  expect((await anon.instance.getInstanceProfile({})).accessMode).toBe(InstanceAccessMode.PRIVATE);
});

test("only admins change the access mode", async () => {
  const u = await signUpAndIn(t.baseUrl);
  const req = {
    setting: {
      name: "instance/settings/ACCESS",
      value: { case: "accessSetting" as const, value: create(InstanceSetting_AccessSettingSchema, { accessMode: InstanceAccessMode.PUBLIC }) },
    },
  };
  expect(await codeOf(clients(t.baseUrl, { token: u.accessToken }).instance.updateInstanceSetting(req))).toBe(Code.PermissionDenied);
  expect(await codeOf(clients(t.baseUrl).instance.updateInstanceSetting(req))).toBe(Code.Unauthenticated);
  expect((await clients(t.baseUrl).instance.getInstanceProfile({})).accessMode).toBe(InstanceAccessMode.PRIVATE);
});

test("a PAT works on a PRIVATE instance", async () => {
  const u = await signUpAndIn(t.baseUrl);
  const { token } = await clients(t.baseUrl, { token: u.accessToken }).users.createPersonalAccessToken({ parent: `users/${u.username}` });
  expect((await clients(t.baseUrl, { token }).users.getUser({ name: `users/${admin.username}` })).username).toBe(admin.username);
});
