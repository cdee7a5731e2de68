/**
 * The script of the page that test/reliability/browser.test.ts opens in Chromium. It is bundled
 * with esbuild when the test runs and served from an origin other than the server's, so every
 * call below is a cross-origin browser request: Connect and gRPC-Web through
 * @connectrpc/connect-web, REST and file requests through fetch and <img>.
 *
 * The page reads its settings from the URL fragment (JSON), runs the steps of its mode in order
 * and publishes each step's outcome on `window.memosBrowserTest` and in a <pre id="results">.
 * A step never stops the run: its failure is recorded and the next step runs.
 */
import { ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import type { DescService } from "@bufbuild/protobuf";
import { AttachmentService } from "../../../gen/memos/api/v1/attachment_service_pb.js";
import { AuthService } from "../../../gen/memos/api/v1/auth_service_pb.js";
import { InstanceService } from "../../../gen/memos/api/v1/instance_service_pb.js";
import { MemoService } from "../../../gen/memos/api/v1/memo_service_pb.js";
import { UserService } from "../../../gen/memos/api/v1/user_service_pb.js";

/** What the test passes in the fragment. */
export interface PageSettings {
  /**
   * `trusted`: the page origin is the server's instance URL. `untrusted`: any other site.
   * `signOut`: sign in and out again from the trusted origin.
   */
  readonly mode: "trusted" | "untrusted" | "signOut";
  /** The server's base URL, e.g. `http://127.0.0.1:8081`. */
  readonly api: string;
  readonly username: string;
  readonly password: string;
  /** Untrusted mode: thumbnail URLs of the attachments the trusted run created. */
  readonly privateImage?: string;
  readonly publicImage?: string;
}

/** One step's outcome: its value, or the error (with the Connect code when it was one). */
export type StepOutcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string; readonly code?: number };

/** What the page publishes when it has finished. */
export interface PageReport {
  readonly done: true;
  readonly steps: Record<string, StepOutcome>;
}

/** The few DOM APIs the page uses (the project's type-check runs without the DOM library). */
interface PageImage {
  src: string;
  alt: string;
  readonly naturalWidth: number;
  readonly naturalHeight: number;
  onload: (() => void) | null;
  onerror: (() => void) | null;
}
interface PageElement {
  id: string;
  textContent: string | null;
  appendChild(child: PageElement | PageImage): void;
}
interface PageWindow {
  readonly document: {
    readonly body: PageElement;
    readonly cookie: string;
    createElement(tag: "img"): PageImage;
    createElement(tag: "pre"): PageElement;
  };
  readonly location: { readonly origin: string; readonly hash: string };
  memosBrowserTest?: PageReport;
}
const page = globalThis as unknown as PageWindow;

const settings = JSON.parse(decodeURIComponent(page.location.hash.slice(1))) as PageSettings;
const steps: Record<string, StepOutcome> = {};

async function step<T>(name: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    const value = await run();
    steps[name] = { ok: true, value: value === undefined ? null : value };
    return value;
  } catch (err) {
    steps[name] = err instanceof ConnectError ? { ok: false, error: err.rawMessage, code: err.code } : { ok: false, error: String(err) };
    return undefined;
  }
}

/** Sends `Authorization: Bearer <token>` while a token is known. */
function bearer(token: () => string | undefined): Interceptor {
  return (next) => (req) => {
    const t = token();
    if (t !== undefined) req.header.set("Authorization", `Bearer ${t}`);
    return next(req);
  };
}

/** fetch with the browser's cookie jar: cookies are sent and `Set-Cookie` is stored cross-origin. */
const fetchWithCookies: typeof fetch = (input, init) => fetch(input, { ...init, credentials: "include" });

function clientOf<S extends DescService>(service: S, transport: Transport): Client<S> {
  return createClient(service, transport);
}

/** Loads `src` into an <img> on the page and answers its natural size, or fails when it does not load. */
function showImage(src: string, alt: string): Promise<{ width: number; height: number }> {
  return new Promise((resolve, reject) => {
    const img = page.document.createElement("img");
    img.alt = alt;
    img.onload = () => resolve({ width: img.naturalWidth, height: img.naturalHeight });
    img.onerror = () => reject(new Error(`image did not load: ${src}`));
    img.src = src;
    page.document.body.appendChild(img);
  });
}

/** A REST call with the access token; answers the JSON body, or throws with the status and body. */
async function rest(path: string, token: string | undefined, init: RequestInit): Promise<Record<string, unknown>> {
  const headers = new Headers(init.headers);
  if (token !== undefined) headers.set("Authorization", `Bearer ${token}`);
  const res = await fetch(`${settings.api}${path}`, { ...init, headers });
  const body = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

function uidOf(name: string): string {
  return name.slice(name.indexOf("/") + 1);
}

function thumbnailUrl(attachment: { name: string; filename: string }): string {
  return `${settings.api}/file/attachments/${uidOf(attachment.name)}/${encodeURIComponent(attachment.filename)}?thumbnail=true`;
}

/** The page origin is the instance URL, so credentialed requests (the refresh cookie) are allowed. */
async function trustedRun(): Promise<void> {
  let token: string | undefined;
  const connect = createConnectTransport({ baseUrl: settings.api, useBinaryFormat: true, fetch: fetchWithCookies, interceptors: [bearer(() => token)] });
  // Only the cookie: no Authorization header ever.
  const cookieOnly = createConnectTransport({ baseUrl: settings.api, useBinaryFormat: true, fetch: fetchWithCookies });
  const grpcWeb = createGrpcWebTransport({ baseUrl: settings.api, useBinaryFormat: true, fetch: fetchWithCookies, interceptors: [bearer(() => token)] });

  const auth = clientOf(AuthService, connect);
  const users = clientOf(UserService, connect);
  const cookieAuth = clientOf(AuthService, cookieOnly);

  await step("refreshBeforeSignIn", async () => (await cookieAuth.refreshToken({})).accessToken);
  await step("signUp", async () => (await users.createUser({ user: { username: settings.username, password: settings.password } })).name);
  await step("signIn", async () => {
    const res = await auth.signIn({ credentials: { case: "passwordCredentials", value: { username: settings.username, password: settings.password } } });
    token = res.accessToken;
    return { username: res.user?.username, hasToken: res.accessToken.length > 0 };
  });
  await step("currentUser", async () => (await auth.getCurrentUser({}))?.user?.username);
  await step("refresh", async () => {
    const res = await cookieAuth.refreshToken({});
    token = res.accessToken;
    return { hasToken: res.accessToken.length > 0, expiresInSeconds: Number(res.expiresAt?.seconds ?? 0n) - Math.floor(Date.now() / 1000) };
  });
  await step("currentUserAfterRefresh", async () => (await auth.getCurrentUser({}))?.user?.username);

  await step("instanceProfile", async () => {
    const profile = await clientOf(InstanceService, grpcWeb).getInstanceProfile({});
    return { instanceUrl: profile.instanceUrl, admin: profile.admin?.username, needsSetup: profile.needsSetup };
  });

  const privateMemo = await step("createPrivateMemo", async () => {
    const memo = await rest("/api/v1/memos", token, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ content: "private memo from the browser", visibility: "PRIVATE" }),
    });
    return { name: memo.name as string, visibility: memo.visibility };
  });
  const publicMemo = await step("createPublicMemo", async () => {
    const memo = await rest("/api/v1/memos", token, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ content: "public memo from the browser", visibility: "PUBLIC" }),
    });
    return { name: memo.name as string, visibility: memo.visibility };
  });

  const photo = new Uint8Array(await (await fetch("/photo.png")).arrayBuffer());
  const privateAttachment = await step("uploadPrivateAttachment", async () => {
    const form = new FormData();
    form.append("memo", privateMemo?.name ?? "");
    form.append("file", new Blob([photo], { type: "image/png" }), "private photo.png");
    const a = await rest("/api/v1/attachments:upload", token, { method: "POST", body: form });
    return { name: a.name as string, filename: a.filename as string, memo: a.memo, size: Number(a.size) };
  });
  const publicAttachment = await step("createPublicAttachment", async () => {
    const a = await clientOf(AttachmentService, connect).createAttachment({
      attachment: { filename: "public.png", type: "image/png", content: photo, memo: publicMemo?.name ?? "" },
    });
    return { name: a.name, filename: a.filename, memo: a.memo, size: Number(a.size) };
  });

  await step("listMemos", async () => (await clientOf(MemoService, grpcWeb).listMemos({ pageSize: 10 })).memos.map((m) => ({ name: m.name, attachments: m.attachments.length })));

  const privateUrl = privateAttachment === undefined ? "" : thumbnailUrl(privateAttachment);
  const publicUrl = publicAttachment === undefined ? "" : thumbnailUrl(publicAttachment);
  // Without the cookie (and without a token) the private thumbnail is refused.
  await step("privateFileWithoutCookie", async () => {
    const res = await fetch(privateUrl, { credentials: "omit" });
    await res.arrayBuffer();
    return res.status;
  });
  // An <img> sends no Authorization header: the refresh cookie authenticates it.
  await step("privateImage", async () => ({ url: privateUrl, ...(await showImage(privateUrl, "private thumbnail")) }));
  await step("publicImage", async () => ({ url: publicUrl, ...(await showImage(publicUrl, "public thumbnail")) }));
  // HttpOnly: page scripts never see the refresh token.
  await step("documentCookie", async () => page.document.cookie);
}

/** A page on another site, whose origin the server does not trust with credentials. */
async function untrustedRun(): Promise<void> {
  let token: string | undefined;
  const withCookies = createConnectTransport({ baseUrl: settings.api, useBinaryFormat: true, fetch: fetchWithCookies });
  // fetch's default credentials mode (same-origin): no cookies cross-origin, tokens only.
  const tokens = createConnectTransport({ baseUrl: settings.api, useBinaryFormat: true, interceptors: [bearer(() => token)] });
  const grpcWeb = createGrpcWebTransport({ baseUrl: settings.api, useBinaryFormat: true, interceptors: [bearer(() => token)] });
  const auth = clientOf(AuthService, tokens);

  // The browser refuses a credentialed response without Access-Control-Allow-Credentials.
  await step("credentialedCall", async () => (await clientOf(InstanceService, withCookies).getInstanceProfile({})).instanceUrl);
  await step("signIn", async () => {
    const res = await auth.signIn({ credentials: { case: "passwordCredentials", value: { username: settings.username, password: settings.password } } });
    token = res.accessToken;
    return { username: res.user?.username, hasToken: res.accessToken.length > 0 };
  });
  await step("currentUser", async () => (await auth.getCurrentUser({}))?.user?.username);
  await step("listMemos", async () => (await clientOf(MemoService, grpcWeb).listMemos({ pageSize: 10 })).memos.map((m) => m.name));
  await step("refresh", async () => (await auth.refreshToken({})).accessToken);
  await step("privateImage", async () => showImage(settings.privateImage ?? "", "private thumbnail"));
  await step("publicImage", async () => showImage(settings.publicImage ?? "", "public thumbnail"));
}

/** SignOut from the trusted origin: the server clears the cookie and the browser drops it. */
async function signOutRun(): Promise<void> {
  let token: string | undefined;
  const auth = clientOf(AuthService, createConnectTransport({ baseUrl: settings.api, useBinaryFormat: true, fetch: fetchWithCookies, interceptors: [bearer(() => token)] }));
  await step("signIn", async () => {
    token = (await auth.signIn({ credentials: { case: "passwordCredentials", value: { username: settings.username, password: settings.password } } })).accessToken;
    return token.length > 0;
  });
  await step("signOut", async () => {
    await auth.signOut({});
    token = undefined;
    return true;
  });
  await step("refreshAfterSignOut", async () => (await auth.refreshToken({})).accessToken);
}

const runs = { trusted: trustedRun, untrusted: untrustedRun, signOut: signOutRun };

async function main(): Promise<void> {
  try {
    await runs[settings.mode]();
  } finally {
    const pre = page.document.createElement("pre");
    pre.id = "results";
    pre.textContent = JSON.stringify(steps, null, 2);
    page.document.body.appendChild(pre);
    page.memosBrowserTest = { done: true, steps };
  }
}

void main();
