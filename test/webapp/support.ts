/** Helpers for the web-app surface tests: signed-in users with clients of every service. */
import { randomBytes } from "node:crypto";
import type { DescService, MessageInitShape } from "@bufbuild/protobuf";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AuthService } from "../../gen/memos/api/v1/auth_service_pb.js";
import { IdentityProviderService } from "../../gen/memos/api/v1/idp_service_pb.js";
import { InstanceService } from "../../gen/memos/api/v1/instance_service_pb.js";
import { MemoService, Visibility, type Memo, type MemoSchema } from "../../gen/memos/api/v1/memo_service_pb.js";
import { MemoViewService } from "../../gen/memos/api/v1/memo_view_service_pb.js";
import { UserService } from "../../gen/memos/api/v1/user_service_pb.js";
import { ACCESS_SETTING, formatAccessMode } from "../../src/auth/access-mode-store.js";
import type { Db } from "../../src/store/database.js";
import { createSystemSettingRepository } from "../../src/store/system-setting-repository.js";
import { signUpAndIn, uniqueName } from "../auth/support.js";

export { codeOf, errorOf, uniqueName } from "../auth/support.js";

/** Clients of every service the web app calls, speaking binary Connect over HTTP/1.1 like it does. */
export interface ServiceClients {
  readonly auth: Client<typeof AuthService>;
  readonly users: Client<typeof UserService>;
  readonly instance: Client<typeof InstanceService>;
  readonly memos: Client<typeof MemoService>;
  readonly memoViews: Client<typeof MemoViewService>;
  readonly idps: Client<typeof IdentityProviderService>;
}

export function serviceClients(baseUrl: string, token?: string): ServiceClients {
  const auth: Interceptor = (next) => (req) => {
    if (token !== undefined) req.header.set("Authorization", `Bearer ${token}`);
    return next(req);
  };
  const transport = createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, interceptors: [auth] });
  const make = <S extends DescService>(s: S) => createClient(s, transport);
  return {
    auth: make(AuthService),
    users: make(UserService),
    instance: make(InstanceService),
    memos: make(MemoService),
    memoViews: make(MemoViewService),
    idps: make(IdentityProviderService),
  };
}

/** A signed-up, signed-in user. */
export interface WebUser extends ServiceClients {
  readonly username: string;
  /** `users/{username}` */
  readonly name: string;
  readonly userId: number;
  readonly token: string;
}

/** Signs up a unique user through the real RPCs (the first one of an app is its admin). */
export async function newUser(baseUrl: string, prefix = "w"): Promise<WebUser> {
  const u = await signUpAndIn(baseUrl, uniqueName(prefix));
  return { ...serviceClients(baseUrl, u.accessToken), username: u.username, name: `users/${u.username}`, userId: u.userId, token: u.accessToken };
}

/** Creates a memo with unique content (override anything). */
export async function newMemo(user: WebUser, memo: Omit<MessageInitShape<typeof MemoSchema>, "$typeName"> = {}): Promise<Memo> {
  return user.memos.createMemo({ memo: { content: `memo ${randomBytes(4).toString("hex")}`, visibility: Visibility.PRIVATE, ...memo } });
}

/** Sets the instance access mode directly in the database. */
export async function setAccessMode(db: Db, mode: "PUBLIC" | "PRIVATE"): Promise<void> {
  await createSystemSettingRepository(db).upsert(ACCESS_SETTING, formatAccessMode(mode));
}

/** Polls `check` until it answers a value other than `undefined` (or throws after `timeoutMs`). */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}
