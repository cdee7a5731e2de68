import { randomBytes } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AuthService } from "../../gen/memos/api/v1/auth_service_pb.js";
import { InstanceService } from "../../gen/memos/api/v1/instance_service_pb.js";
import { UserService } from "../../gen/memos/api/v1/user_service_pb.js";
import type { Db } from "../../src/store/database.js";

/** Clients of the account services speaking binary Connect over HTTP/1.1, like the web app. */
export interface Clients {
  readonly auth: Client<typeof AuthService>;
  readonly users: Client<typeof UserService>;
  readonly instance: Client<typeof InstanceService>;
}

/** Options for {@link clients}: a bearer token and extra request headers on every call. */
export interface ClientOptions {
  readonly token?: string;
  readonly headers?: Record<string, string>;
}

export function clients(baseUrl: string, options: ClientOptions = {}): Clients {
  const headers: Interceptor = (next) => (req) => {
    if (options.token !== undefined) req.header.set("Authorization", `Bearer ${options.token}`);
    for (const [k, v] of Object.entries(options.headers ?? {})) req.header.set(k, v);
    return next(req);
  };
  const transport = createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, interceptors: [headers] });
  const make = <S extends DescService>(s: S) => createClient(s, transport);
  return { auth: make(AuthService), users: make(UserService), instance: make(InstanceService) };
}

/** A unique, valid username. */
export function uniqueName(prefix = "u"): string {
  return `${prefix}-${randomBytes(5).toString("hex")}`;
}

/** A unique client address, so throttle counters of different tests never meet. */
export function uniqueAddress(): string {
  const b = randomBytes(3);
  return `10.${b[0]}.${b[1]}.${b[2]}`;
}

/** The code of a rejected call (fails the test if the call succeeded). */
export async function codeOf(call: Promise<unknown>): Promise<Code> {
  try {
    await call;
  } catch (err) {
    return ConnectError.from(err).code;
  }
  throw new Error("expected the call to fail");
}

/** The error of a rejected call. */
export async function errorOf(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}

/** Response headers of a call, captured with `onHeader`. */
export function captureHeaders(): { onHeader: (h: Headers) => void; readonly headers: Headers } {
  let captured = new Headers();
  return {
    onHeader: (h) => {
      captured = h;
    },
    get headers() {
      return captured;
    },
  };
}

/** The `Set-Cookie` values of a response (split, since `Headers.get` joins them). */
export function setCookies(headers: Headers): string[] {
  return headers.getSetCookie();
}

/** The `memos_refresh` value in a response's `Set-Cookie`, or `undefined`. */
export function refreshTokenOf(headers: Headers): string | undefined {
  for (const c of setCookies(headers)) {
    const m = /^memos_refresh=([^;]*)/.exec(c);
    if (m !== null) return m[1];
  }
  return undefined;
}

/** Signs up `username` and signs in, answering the access token and the refresh cookie value. */
export async function signUpAndIn(
  baseUrl: string,
  username = uniqueName(),
  password = "secret-password",
): Promise<{ username: string; password: string; accessToken: string; refreshToken: string; userId: number }> {
  const c = clients(baseUrl, { headers: { "X-Forwarded-For": uniqueAddress() } });
  await c.users.createUser({ user: { username, password } });
  const cap = captureHeaders();
  const res = await c.auth.signIn({ credentials: { case: "passwordCredentials", value: { username, password } } }, { onHeader: cap.onHeader });
  const payload = JSON.parse(Buffer.from(res.accessToken.split(".")[1]!, "base64url").toString("utf8")) as { sub: string };
  return { username, password, accessToken: res.accessToken, refreshToken: refreshTokenOf(cap.headers)!, userId: Number(payload.sub) };
}

/** The instance secret as stored (to forge tokens the way an attacker who knew it could). */
export async function instanceSecret(db: Db): Promise<string> {
  const row = await db.selectFrom("system_setting").select("value").where("name", "=", "BASIC").executeTakeFirstOrThrow();
  return (JSON.parse(row.value) as { secretKey: string }).secretKey;
}

/** Makes an admin exists: the first sign-up of a fresh instance. */
export async function bootstrapAdmin(baseUrl: string) {
  return signUpAndIn(baseUrl, uniqueName("admin"));
}
