/**
 * A client that reaches the server the way the Memos web app does in a browser
 * (`spec/web-app-flows.md`): binary Connect over HTTP/1.1 keep-alive, the access token kept in
 * "localStorage" and sent as a Bearer token, the `memos_refresh` cookie kept in a cookie jar and
 * sent back like `credentials: "include"` would, RefreshToken when no valid token is stored or one
 * is about to expire, and one refresh-and-retry (`X-Retry: true`) after an `unauthenticated` reply.
 * Every call is recorded in order, with its duration, so tests can check the sequence the app sends
 * and benchmarks can time it.
 */
import type { DescService } from "@bufbuild/protobuf";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AttachmentService } from "../../gen/memos/api/v1/attachment_service_pb.js";
import { AuthService } from "../../gen/memos/api/v1/auth_service_pb.js";
import { State } from "../../gen/memos/api/v1/common_pb.js";
import { IdentityProviderService } from "../../gen/memos/api/v1/idp_service_pb.js";
import { InstanceService } from "../../gen/memos/api/v1/instance_service_pb.js";
import { MemoService } from "../../gen/memos/api/v1/memo_service_pb.js";
import { MemoViewService } from "../../gen/memos/api/v1/memo_view_service_pb.js";
import { UserService } from "../../gen/memos/api/v1/user_service_pb.js";
import { openSse, type SseStream } from "./sse-client.js";

/** One request the app sent: `Service/Method` for RPCs, `GET <path>` for plain HTTP. */
export interface CallRecord {
  readonly call: string;
  /** Wall time from sending the request to having the whole answer, in milliseconds. */
  readonly ms: number;
  /** The Connect error code, or the HTTP status for plain requests; `undefined` for a successful RPC. */
  readonly outcome: Code | number | undefined;
  /** Whether this was the app's retry after a refresh (`X-Retry: true`). */
  readonly retry: boolean;
  /** How much the client's `meter` moved during the request (0 without one). */
  readonly metered: number;
}

/** Options of {@link createWebAppClient}. */
export interface WebAppClientOptions {
  /**
   * Read before and after every request, the difference recorded as {@link CallRecord.metered}:
   * e.g. the server process's CPU time, to tell what each request costs it.
   */
  readonly meter?: () => number;
}

/** The web app's `localStorage` entries of `auth-state.ts`. */
export interface StoredAuth {
  /** `memos_access_token` */
  accessToken: string | undefined;
  /** `memos_token_expires_at`, in epoch milliseconds. */
  expiresAt: number | undefined;
}

/** The home filter and order of the web app (flow E). */
export function homeListRequest(username: string) {
  return { pageSize: 16, state: State.NORMAL, orderBy: "pinned desc, create_time desc", filter: `creator == "users/${username}"` };
}

/** The instance setting names the app reads on every first load. */
export const FIRST_LOAD_SETTINGS = ["instance/settings/GENERAL", "instance/settings/MEMO_RELATED"];

/** Refresh this close to the expiry (the app's 30 s margin). */
const REFRESH_MARGIN_MS = 30_000;

export interface WebAppClient {
  readonly baseUrl: string;
  readonly auth: Client<typeof AuthService>;
  readonly users: Client<typeof UserService>;
  readonly instance: Client<typeof InstanceService>;
  readonly memos: Client<typeof MemoService>;
  readonly memoViews: Client<typeof MemoViewService>;
  readonly idps: Client<typeof IdentityProviderService>;
  readonly attachments: Client<typeof AttachmentService>;
  /** localStorage. */
  readonly storage: StoredAuth;
  /** The cookie jar of the server's origin (name → value). */
  readonly cookies: Map<string, string>;
  /** Every request so far, in the order sent. */
  readonly calls: CallRecord[];
  /** `calls` from index `from` on, names only. */
  callsSince(from: number): string[];
  /** Whether a stored token is there and not within the refresh margin of its expiry. */
  hasValidToken(): boolean;
  /** RefreshToken as the app does it: stores the new token on success, answers the error code on failure. */
  refresh(): Promise<Code | undefined>;
  /** SignIn with a password; stores the token only when the answer carries its expiry (as the app does). */
  signIn(username: string, password: string): ReturnType<Client<typeof AuthService>["signIn"]>;
  /** SignOut, then forgets the stored token. */
  signOut(): Promise<void>;
  /** `GET path` as an `<img>` or link would send it: the cookie jar, no Authorization header. */
  get(path: string): Promise<{ status: number; headers: Headers; body: Buffer }>;
  /** `GET /api/v1/sse` with the stored Bearer token. */
  openSse(): Promise<SseStream>;
  /**
   * What every page sends on a cold load: RefreshToken when no valid token is stored, then
   * GetInstanceProfile, BatchGetInstanceSettings, GetCurrentUser (signed in), GetInstanceSetting
   * ACCESS and ListUserSettings (signed in). With `parallel`, the independent calls go out together
   * (ListUserSettings waits for the current user), as a browser sends them over its connections.
   */
  firstLoad(options?: { parallel?: boolean }): Promise<FirstLoad>;
  /** The home page's own calls after the first load (flow E), in order, or all at once with `parallel`. */
  homeLoad(username: string, options?: { parallel?: boolean }): Promise<HomeLoad>;
}

type Answer<S extends DescService, M extends keyof Client<S>> = Client<S>[M] extends (...args: never[]) => Promise<infer R> ? R : never;

/** The answers of {@link WebAppClient.firstLoad}. */
export interface FirstLoad {
  /** The RefreshToken outcome (`undefined` when it succeeded), or `"skipped"` with a valid stored token. */
  readonly refresh: Code | undefined | "skipped";
  readonly profile: Answer<typeof InstanceService, "getInstanceProfile">;
  readonly settings: Answer<typeof InstanceService, "batchGetInstanceSettings">;
  readonly access: Answer<typeof InstanceService, "getInstanceSetting">;
  readonly currentUser?: Answer<typeof AuthService, "getCurrentUser">;
  readonly userSettings?: Answer<typeof UserService, "listUserSettings">;
}

/** The answers of {@link WebAppClient.homeLoad}. */
export interface HomeLoad {
  readonly notifications: Answer<typeof UserService, "listUserNotifications">;
  readonly views: Answer<typeof MemoViewService, "listMemoViews">;
  readonly stats: Answer<typeof UserService, "getUserStats">;
  readonly ai: Answer<typeof InstanceService, "getInstanceSetting">;
  readonly memos: Answer<typeof MemoService, "listMemos">;
}

/** A fresh browser profile (empty localStorage and cookie jar) on the app served at `baseUrl`. */
export function createWebAppClient(baseUrl: string, options: WebAppClientOptions = {}): WebAppClient {
  const meter = options.meter ?? (() => 0);
  const storage: StoredAuth = { accessToken: undefined, expiresAt: undefined };
  const cookies = new Map<string, string>();
  const calls: CallRecord[] = [];

  const takeCookies = (headers: Headers | undefined) => {
    for (const line of headers?.getSetCookie() ?? []) {
      const [pair, ...attributes] = line.split(";");
      const eq = pair!.indexOf("=");
      if (eq <= 0) continue;
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expires = attributes.map((a) => /^\s*expires=(.*)$/i.exec(a)?.[1]).find((v) => v !== undefined);
      const maxAge = attributes.map((a) => /^\s*max-age=(.*)$/i.exec(a)?.[1]).find((v) => v !== undefined);
      const expired = (expires !== undefined && Date.parse(expires) <= Date.now()) || (maxAge !== undefined && Number(maxAge) <= 0);
      if (expired) cookies.delete(name);
      else cookies.set(name, value);
    }
  };
  const cookieHeader = () => [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");

  /** The browser's part: credentials, cookies and the record of each request. */
  const browser: Interceptor = (next) => async (req) => {
    if (storage.accessToken !== undefined) req.header.set("Authorization", `Bearer ${storage.accessToken}`);
    if (cookies.size > 0) req.header.set("Cookie", cookieHeader());
    const call = `${req.service.name}/${req.method.name}`;
    const retry = req.header.get("X-Retry") === "true";
    const metered = meter();
    const started = performance.now();
    try {
      const res = await next(req);
      const ms = performance.now() - started;
      takeCookies(res.header);
      calls.push({ call, ms, outcome: undefined, retry, metered: meter() - metered });
      return res;
    } catch (err) {
      const ms = performance.now() - started;
      const e = ConnectError.from(err);
      takeCookies(e.metadata);
      calls.push({ call, ms, outcome: e.code, retry, metered: meter() - metered });
      throw err;
    }
  };

  /** The app's part (`connect.ts`): refresh before an expiring token, and once after `unauthenticated`. */
  const app: Interceptor = (next) => async (req) => {
    if (req.method.name === "RefreshToken") return next(req);
    if (storage.accessToken !== undefined && !hasValidToken()) await refresh();
    try {
      return await next(req);
    } catch (err) {
      if (ConnectError.from(err).code !== Code.Unauthenticated || req.header.get("X-Retry") === "true") throw err;
      if ((await refresh()) !== undefined) throw err;
      req.header.set("X-Retry", "true");
      return next(req);
    }
  };

  const transport = createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, interceptors: [app, browser] });
  const make = <S extends DescService>(s: S) => createClient(s, transport);
  const auth = make(AuthService);
  const users = make(UserService);
  const instance = make(InstanceService);
  const memos = make(MemoService);
  const memoViews = make(MemoViewService);

  const store = (token: string, expiresAt: Timestamp | undefined) => {
    // auth-state.ts: without an expiry the token is not persisted and counts as expired.
    storage.accessToken = expiresAt === undefined ? undefined : token;
    storage.expiresAt = expiresAt === undefined ? undefined : timestampDate(expiresAt).getTime();
  };
  const forget = () => {
    storage.accessToken = undefined;
    storage.expiresAt = undefined;
  };
  function hasValidToken(): boolean {
    return storage.accessToken !== undefined && storage.expiresAt !== undefined && storage.expiresAt - Date.now() > REFRESH_MARGIN_MS;
  }
  async function refresh(): Promise<Code | undefined> {
    try {
      const res = await auth.refreshToken({});
      store(res.accessToken, res.expiresAt);
      return undefined;
    } catch (err) {
      forget();
      return ConnectError.from(err).code;
    }
  }

  return {
    baseUrl,
    auth,
    users,
    instance,
    memos,
    memoViews,
    idps: make(IdentityProviderService),
    attachments: make(AttachmentService),
    storage,
    cookies,
    calls,
    callsSince: (from) => calls.slice(from).map((c) => c.call),
    hasValidToken,
    refresh,
    async signIn(username, password) {
      const res = await auth.signIn({ credentials: { case: "passwordCredentials", value: { username, password } } });
      store(res.accessToken, res.accessTokenExpiresAt);
      return res;
    },
    async signOut() {
      await auth.signOut({});
      forget();
    },
    async get(path) {
      const metered = meter();
      const started = performance.now();
      const res = await fetch(baseUrl + path, { headers: cookies.size > 0 ? { Cookie: cookieHeader() } : {} });
      const body = Buffer.from(await res.arrayBuffer());
      const ms = performance.now() - started;
      takeCookies(res.headers);
      calls.push({ call: `GET ${path}`, ms, outcome: res.status, retry: false, metered: meter() - metered });
      return { status: res.status, headers: res.headers, body };
    },
    openSse: () => openSse(baseUrl, storage.accessToken),
    async firstLoad(options = {}) {
      const refreshed = hasValidToken() ? "skipped" : await refresh();
      const signedIn = storage.accessToken !== undefined;
      const profile = () => instance.getInstanceProfile({});
      const settings = () => instance.batchGetInstanceSettings({ names: FIRST_LOAD_SETTINGS });
      const currentUser = () => (signedIn ? auth.getCurrentUser({}) : Promise.resolve(undefined));
      const access = () => instance.getInstanceSetting({ name: "instance/settings/ACCESS" });
      const userSettings = (name: string | undefined) =>
        name === undefined ? Promise.resolve(undefined) : users.listUserSettings({ parent: name });
      if (options.parallel) {
        const [p, s, c, a] = await Promise.all([profile(), settings(), currentUser(), access()]);
        const us = await userSettings(c?.user?.name);
        return { refresh: refreshed, profile: p, settings: s, access: a, currentUser: c, userSettings: us };
      }
      const p = await profile();
      const s = await settings();
      const c = await currentUser();
      const a = await access();
      const us = await userSettings(c?.user?.name);
      return { refresh: refreshed, profile: p, settings: s, access: a, currentUser: c, userSettings: us };
    },
    async homeLoad(username, options = {}) {
      const parent = `users/${username}`;
      const steps = [
        () => users.listUserNotifications({ parent }),
        () => memoViews.listMemoViews({ parent }),
        () => users.getUserStats({ name: parent }),
        () => instance.getInstanceSetting({ name: "instance/settings/AI" }),
        () => memos.listMemos(homeListRequest(username)),
      ] as const;
      const answers: unknown[] = [];
      if (options.parallel) answers.push(...(await Promise.all(steps.map((f) => f()))));
      else for (const f of steps) answers.push(await f());
      const [notifications, views, stats, ai, list] = answers as [
        HomeLoad["notifications"],
        HomeLoad["views"],
        HomeLoad["stats"],
        HomeLoad["ai"],
        HomeLoad["memos"],
      ];
      return { notifications, views, stats, ai, memos: list };
    },
  };
}
