/**
 * The account, instance and settings operations of the authorization matrix: every RPC that acts
 * on a user's data (the owner's, as seen by the six callers) or on the instance, with the outcome
 * the spec gives. Where the spec is silent on a peripheral RPC (settings, views, notifications,
 * linked identities, webhooks), the rule below is the matrix's declared policy: personal data
 * belongs to its user (admins included in "others" unless the spec lets admins manage the
 * account), and RPCs the server does not implement answer `unimplemented` to signed-in callers.
 */
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { AuthService } from "../../../gen/memos/api/v1/auth_service_pb.js";
import { IdentityProviderService } from "../../../gen/memos/api/v1/idp_service_pb.js";
import { InstanceAccessMode, InstanceService, InstanceSetting_AccessSettingSchema } from "../../../gen/memos/api/v1/instance_service_pb.js";
import { MemoService } from "../../../gen/memos/api/v1/memo_service_pb.js";
import { MemoViewService } from "../../../gen/memos/api/v1/memo_view_service_pb.js";
import { UserNotification_Status, UserService, UserSetting_GeneralSettingSchema } from "../../../gen/memos/api/v1/user_service_pb.js";
import { clients, uniqueName } from "../../auth/support.js";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { rpc, type Outcome, type Rpc } from "./authz-transports.js";
import { marker, type AccessMode, type AuthzWorld, type CallerKey, type UserKey } from "./authz-world.js";

export interface AccountOpContext {
  readonly world: AuthzWorld;
  readonly mode: AccessMode;
  readonly callerKey: CallerKey;
  readonly viewer: UserKey | undefined;
}

export interface AccountOp {
  readonly rpc: Rpc;
  /** Tells variants of one RPC apart in test titles. */
  readonly label?: string;
  /** Reads rotate over every transport; so do writes, one per cell. */
  request(ctx: AccountOpContext): Promise<{ request: MessageInitShape<DescMessage>; token?: string | undefined; requestNames?: string[] }>;
  /** The service's answer once the gate let the call through (the runner applies the gate). */
  expect(viewer: UserKey | undefined, mode: AccessMode): Outcome;
}

const self = (v: UserKey | undefined) => v === "owner";
const selfOnly = (v: UserKey | undefined): Outcome => (self(v) ? "ok" : Code.PermissionDenied);
const selfOrAdmin = (v: UserKey | undefined): Outcome => (self(v) || v === "admin" ? "ok" : Code.PermissionDenied);
const adminOnly = (v: UserKey | undefined): Outcome => (v === "admin" ? "ok" : Code.PermissionDenied);
const always = (o: Outcome) => (): Outcome => o;
const then = (rule: (v: UserKey | undefined) => Outcome, o: Outcome) => (v: UserKey | undefined): Outcome => (rule(v) === "ok" ? o : rule(v));

const plain = (request: MessageInitShape<DescMessage>) => async () => ({ request });
const ownerName = (ctx: AccountOpContext) => ctx.world.users.owner.name;

function memoViews(ctx: AccountOpContext) {
  const t = createConnectTransport({
    baseUrl: ctx.world.t.baseUrl,
    httpVersion: "1.1",
    interceptors: [(next) => (req) => (req.header.set("Authorization", `Bearer ${ctx.world.users.owner.token}`), next(req))],
  });
  return createClient(MemoViewService, t);
}

/** A view of the owner's, made for the cell. */
async function ownersView(ctx: AccountOpContext): Promise<string> {
  const v = await memoViews(ctx).createMemoView({ parent: ownerName(ctx), memoView: { title: "matrix", filter: "pinned" } });
  return v.name;
}

/** A user made for the cell, with its credentials; the caller keys map onto it (owner = itself). */
async function freshUser(ctx: AccountOpContext): Promise<{ name: string; username: string; password: string; token: string | undefined }> {
  const username = uniqueName("fresh");
  const password = "fresh-password";
  await clients(ctx.world.t.baseUrl).users.createUser({ user: { username, password, email: `${marker("mail")}@example.com` } });
  const signedIn = await clients(ctx.world.t.baseUrl).auth.signIn({ credentials: { case: "passwordCredentials", value: { username, password } } });
  let token: string | undefined;
  switch (ctx.callerKey) {
    case "owner":
      token = signedIn.accessToken;
      break;
    case "pat":
      token = (await clients(ctx.world.t.baseUrl, { token: signedIn.accessToken }).users.createPersonalAccessToken({ parent: `users/${username}` })).token;
      break;
    default:
      token = ctx.world.token(ctx.callerKey);
  }
  return { name: `users/${username}`, username, password, token };
}

const accessSetting = (mode: AccessMode) => ({
  name: "instance/settings/ACCESS",
  value: {
    case: "accessSetting" as const,
    value: create(InstanceSetting_AccessSettingSchema, { accessMode: mode === "PUBLIC" ? InstanceAccessMode.PUBLIC : InstanceAccessMode.PRIVATE }),
  },
});

export const ACCOUNT_OPS: readonly AccountOp[] = [
  // AuthService (spec §3.5)
  { rpc: rpc(AuthService, "GetCurrentUser"), request: plain({}), expect: always("ok") },
  {
    rpc: rpc(AuthService, "SignIn"),
    async request(ctx) {
      const u = await freshUser({ ...ctx, callerKey: "anonymous" });
      return { request: { credentials: { case: "passwordCredentials", value: { username: u.username, password: u.password } } } };
    },
    expect: always("ok"),
  },
  { rpc: rpc(AuthService, "SignOut"), request: plain({}), expect: always("ok") },
  // No refresh cookie: unauthenticated whoever asks (spec §3.5).
  { rpc: rpc(AuthService, "RefreshToken"), request: plain({}), expect: always(Code.Unauthenticated) },

  // InstanceService (spec §1.3, §3.1)
  { rpc: rpc(InstanceService, "GetInstanceProfile"), request: plain({}), expect: always("ok") },
  { rpc: rpc(InstanceService, "GetInstanceSetting"), label: "GENERAL", request: plain({ name: "instance/settings/GENERAL" }), expect: always("ok") },
  // Settings that hold credentials (S3 keys, SMTP password): admins only.
  { rpc: rpc(InstanceService, "GetInstanceSetting"), label: "STORAGE", request: plain({ name: "instance/settings/STORAGE" }), expect: (v) => (v === undefined ? Code.Unauthenticated : adminOnly(v)) },
  { rpc: rpc(InstanceService, "BatchGetInstanceSettings"), request: plain({ names: ["instance/settings/GENERAL", "instance/settings/ACCESS"] }), expect: always("ok") },
  { rpc: rpc(InstanceService, "UpdateInstanceSetting"), request: async (ctx) => ({ request: { setting: accessSetting(ctx.mode) } }), expect: adminOnly },
  { rpc: rpc(InstanceService, "TestInstanceEmailSetting"), request: plain({}), expect: always(Code.Unimplemented) },
  { rpc: rpc(InstanceService, "GetInstanceStats"), request: plain({}), expect: always(Code.Unimplemented) },

  // IdentityProviderService: listing is a bootstrap method; managing providers is for admins.
  { rpc: rpc(IdentityProviderService, "ListIdentityProviders"), request: plain({}), expect: always("ok") },
  { rpc: rpc(IdentityProviderService, "GetIdentityProvider"), request: plain({ name: "identity-providers/none" }), expect: always(Code.NotFound) },
  { rpc: rpc(IdentityProviderService, "CreateIdentityProvider"), request: plain({}), expect: then(adminOnly, Code.InvalidArgument) },
  {
    rpc: rpc(IdentityProviderService, "UpdateIdentityProvider"),
    request: plain({ identityProvider: { name: "identity-providers/none", title: "x" }, updateMask: { paths: ["title"] } }),
    expect: then(adminOnly, Code.NotFound),
  },
  { rpc: rpc(IdentityProviderService, "DeleteIdentityProvider"), request: plain({ name: "identity-providers/none" }), expect: then(adminOnly, Code.NotFound) },

  // MemoService RPCs that do not act on an existing memo.
  { rpc: rpc(MemoService, "CreateMemo"), request: plain({ memo: { content: "a matrix memo" } }), expect: always("ok") },
  // Link previews are not implemented: past the gate they answer unimplemented.
  { rpc: rpc(MemoService, "GetLinkMetadata"), request: plain({ url: "http://127.0.0.1:9/" }), expect: always(Code.Unimplemented) },
  { rpc: rpc(MemoService, "BatchGetLinkMetadata"), request: plain({ urls: ["http://127.0.0.1:9/"] }), expect: always(Code.Unimplemented) },

  // MemoViewService: a user's saved views are personal.
  { rpc: rpc(MemoViewService, "ListMemoViews"), request: async (ctx) => ({ request: { parent: ownerName(ctx) } }), expect: selfOnly },
  {
    rpc: rpc(MemoViewService, "CreateMemoView"),
    request: async (ctx) => ({ request: { parent: ownerName(ctx), memoView: { title: "t", filter: "pinned" } } }),
    expect: selfOnly,
  },
  { rpc: rpc(MemoViewService, "GetMemoView"), request: async (ctx) => ({ request: { name: await ownersView(ctx) } }), expect: selfOnly },
  {
    rpc: rpc(MemoViewService, "UpdateMemoView"),
    request: async (ctx) => ({ request: { memoView: { name: await ownersView(ctx), title: "renamed", filter: "pinned" }, updateMask: { paths: ["title"] } } }),
    expect: selfOnly,
  },
  { rpc: rpc(MemoViewService, "DeleteMemoView"), request: async (ctx) => ({ request: { name: await ownersView(ctx) } }), expect: selfOnly },

  // UserService (spec §3.1-§3.3, §3.6)
  { rpc: rpc(UserService, "ListUsers"), request: plain({ pageSize: 1000 }), expect: adminOnly },
  {
    rpc: rpc(UserService, "BatchGetUsers"),
    request: async (ctx) => ({ request: { usernames: Object.values(ctx.world.users).map((u) => u.username) } }),
    expect: always("ok"),
  },
  { rpc: rpc(UserService, "GetUser"), request: async (ctx) => ({ request: { name: ownerName(ctx) } }), expect: always("ok") },
  { rpc: rpc(UserService, "CreateUser"), request: async () => ({ request: { user: { username: uniqueName("new"), password: "pw" }, validateOnly: true } }), expect: always("ok") },
  {
    rpc: rpc(UserService, "UpdateUser"),
    request: async (ctx) => ({ request: { user: { name: ownerName(ctx), description: "matrix" }, updateMask: { paths: ["description"] } } }),
    expect: selfOrAdmin,
  },
  {
    rpc: rpc(UserService, "DeleteUser"),
    label: "a fresh user (owner and PAT: itself)",
    async request(ctx) {
      const u = await freshUser(ctx);
      return { request: { name: u.name }, token: u.token };
    },
    expect: selfOrAdmin,
  },
  { rpc: rpc(UserService, "GetUserSetting"), request: async (ctx) => ({ request: { name: `${ownerName(ctx)}/settings/GENERAL` } }), expect: selfOnly },
  { rpc: rpc(UserService, "ListUserSettings"), request: async (ctx) => ({ request: { parent: ownerName(ctx) } }), expect: selfOnly },
  {
    rpc: rpc(UserService, "UpdateUserSetting"),
    request: async (ctx) => ({
      request: {
        setting: { name: `${ownerName(ctx)}/settings/GENERAL`, value: { case: "generalSetting", value: create(UserSetting_GeneralSettingSchema, { locale: "en" }) } },
        updateMask: { paths: ["locale"] },
      },
    }),
    expect: selfOnly,
  },
  // Linked identities: the user and admins (who manage accounts); linking is not implemented.
  { rpc: rpc(UserService, "ListLinkedIdentities"), request: async (ctx) => ({ request: { parent: ownerName(ctx) } }), expect: selfOrAdmin },
  { rpc: rpc(UserService, "GetLinkedIdentity"), request: async (ctx) => ({ request: { name: `${ownerName(ctx)}/linkedIdentities/none` } }), expect: then(selfOrAdmin, Code.NotFound) },
  { rpc: rpc(UserService, "DeleteLinkedIdentity"), request: async (ctx) => ({ request: { name: `${ownerName(ctx)}/linkedIdentities/none` } }), expect: then(selfOrAdmin, Code.NotFound) },
  { rpc: rpc(UserService, "CreateLinkedIdentity"), request: async (ctx) => ({ request: { parent: ownerName(ctx) } }), expect: always(Code.Unimplemented) },
  { rpc: rpc(UserService, "ListPersonalAccessTokens"), request: async (ctx) => ({ request: { parent: ownerName(ctx) } }), expect: selfOrAdmin },
  { rpc: rpc(UserService, "CreatePersonalAccessToken"), request: async (ctx) => ({ request: { parent: ownerName(ctx), description: "cell" } }), expect: selfOnly },
  {
    rpc: rpc(UserService, "DeletePersonalAccessToken"),
    async request(ctx) {
      const made = await clients(ctx.world.t.baseUrl, { token: ctx.world.users.owner.token }).users.createPersonalAccessToken({ parent: ownerName(ctx) });
      return { request: { name: made.personalAccessToken!.name } };
    },
    expect: selfOnly,
  },
  { rpc: rpc(UserService, "ListUserNotifications"), request: async (ctx) => ({ request: { parent: ownerName(ctx) } }), expect: selfOnly },
  {
    rpc: rpc(UserService, "UpdateUserNotification"),
    request: async (ctx) => ({
      request: { notification: { name: `${ownerName(ctx)}/notifications/999999`, status: UserNotification_Status.ARCHIVED }, updateMask: { paths: ["status"] } },
    }),
    expect: then(selfOnly, Code.NotFound),
  },
  { rpc: rpc(UserService, "DeleteUserNotification"), request: async (ctx) => ({ request: { name: `${ownerName(ctx)}/notifications/999999` } }), expect: then(selfOnly, Code.NotFound) },
  { rpc: rpc(UserService, "ListUserWebhooks"), request: async (ctx) => ({ request: { parent: ownerName(ctx) } }), expect: always(Code.Unimplemented) },
  { rpc: rpc(UserService, "CreateUserWebhook"), request: async (ctx) => ({ request: { parent: ownerName(ctx) } }), expect: always(Code.Unimplemented) },
  { rpc: rpc(UserService, "UpdateUserWebhook"), request: async (ctx) => ({ request: { webhook: { name: `${ownerName(ctx)}/webhooks/none` } } }), expect: always(Code.Unimplemented) },
  { rpc: rpc(UserService, "DeleteUserWebhook"), request: async (ctx) => ({ request: { name: `${ownerName(ctx)}/webhooks/none` } }), expect: always(Code.Unimplemented) },
  { rpc: rpc(UserService, "GetUserWebhookSigningSecret"), request: async (ctx) => ({ request: { name: `${ownerName(ctx)}/webhooks/none` } }), expect: always(Code.Unimplemented) },
];
