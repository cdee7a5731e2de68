/**
 * A real browser against the server: headless Chromium (Debian's `chromium`, driven by
 * playwright-core) opens a page served from another origin, whose script
 * (browser-page/app.ts, bundled with esbuild here) calls the server with
 * @connectrpc/connect-web over Connect and gRPC-Web, with fetch on REST, and shows thumbnails in
 * <img> tags.
 *
 * Origins. The server listens on http://127.0.0.1:A and the page on http://127.0.0.1:B: another
 * origin (CORS applies to every call) but the same site (scheme and host; ports do not count).
 * That is how a deployment with the web app and the API on different origins of one site works,
 * and it is the only way the refresh cookie can: it is `SameSite=Lax` (spec §3.4), and Chromium
 * neither stores a Lax cookie from a cross-site fetch response nor sends one with cross-site
 * fetches or images. The server trusts the page with credentials because its origin is the
 * instance URL (MEMOS_INSTANCE_URL, spec §1.8). No `Secure` attribute is set on plain http, so
 * the cookie is usable there.
 *
 * A second page on http://localhost:B is another site, and not the instance URL: its credentialed
 * calls are refused by CORS, token-only calls work, and the private thumbnail's <img> is refused
 * (the Lax cookie is withheld) while the public one loads. A last page on the trusted origin signs
 * out, and the browser drops the cookie the server cleared.
 */
import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { build, stop as stopEsbuild } from "esbuild";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { startTestApp, type TestApp } from "../support/app.js";
import { canvas } from "../media/images.js";
import { uniqueName } from "../auth/support.js";
import type { PageReport, PageSettings, StepOutcome } from "./browser-page/app.js";

const chromiumPath = findChromium();
if (chromiumPath === undefined) console.warn("chromium is not installed (apt-get install chromium): the browser test is skipped");
const describeIfChromium = chromiumPath === undefined ? describe.skip : describe;

function findChromium(): string | undefined {
  const found = spawnSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" });
  return found.status === 0 && found.stdout.trim() !== "" ? found.stdout.trim() : undefined;
}

const CODE_UNAUTHENTICATED = 16;
const PHOTO = { width: 1200, height: 800 };
const THUMBNAIL = { width: 600, height: 400 };

/**
 * A request as Chromium's network stack saw it (DevTools protocol), whether or not the page got
 * the response: CORS preflights and responses the browser refused to hand over are here too.
 */
interface Exchange {
  readonly method: string;
  readonly url: string;
  /** The DevTools resource type: `Fetch`, `Image`, `Document`, ... (`Other` for preflights). */
  readonly type: string;
  /** As sent, cookies included. */
  readonly requestHeaders: Record<string, string>;
  /** Cookies of the jar that the browser did not send, and why. */
  readonly withheldCookies: Array<{ name: string; reasons: string[] }>;
  readonly status?: number;
  /** As received (lower-case names). */
  readonly responseHeaders: Record<string, string>;
  readonly setCookies: string[];
  /** The network error, when the request did not complete. */
  readonly failure?: string;
}

/** Everything a page did that the assertions look at. */
interface Observed {
  readonly exchanges: Exchange[];
  readonly console: Array<{ type: string; text: string; url: string }>;
  readonly pageErrors: string[];
}

/** A static server for the page: its HTML, the bundled script and the photo it uploads. */
async function startPageServer(files: Record<string, { type: string; body: string | Buffer }>): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const file = files[(req.url ?? "/").split(/[?#]/, 1)[0]!];
    if (req.method !== "GET" || file === undefined) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, { "Content-Type": file.type, "Cache-Control": "no-store" }).end(file.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function bundlePage(): Promise<string> {
  try {
    const out = await build({
      entryPoints: [fileURLToPath(new URL("./browser-page/app.ts", import.meta.url))],
      bundle: true,
      write: false,
      format: "esm",
      platform: "browser",
      target: "chrome120",
      logLevel: "silent",
    });
    return out.outputFiles[0]!.text;
  } finally {
    await stopEsbuild();
  }
}

/** Records the page's requests (through the DevTools protocol), console and errors from now on. */
async function observe(context: BrowserContext, page: Page): Promise<{ observed: Observed; settled(): Promise<void> }> {
  const observed: Observed = { exchanges: [], console: [], pageErrors: [] };
  page.on("console", (m) => observed.console.push({ type: m.type(), text: m.text(), url: m.location().url }));
  page.on("pageerror", (e) => observed.pageErrors.push(String(e)));

  type Entry = { -readonly [K in keyof Exchange]: Exchange[K] };
  // A request's events come in any order: the "ExtraInfo" ones (raw headers, cookies) may come
  // before or after the request's own, and after the page has already used the response.
  const entries = new Map<string, { exchange: Entry; ended: boolean; awaitsRawResponse: boolean; rawResponse: boolean }>();
  const entryOf = (requestId: string) => {
    let entry = entries.get(requestId);
    if (entry === undefined) {
      const exchange: Entry = { method: "", url: "", type: "", requestHeaders: {}, withheldCookies: [], responseHeaders: {}, setCookies: [] };
      entry = { exchange, ended: false, awaitsRawResponse: false, rawResponse: false };
      entries.set(requestId, entry);
      observed.exchanges.push(exchange);
    }
    return entry;
  };
  const cdp = await context.newCDPSession(page);
  cdp.on("Network.requestWillBeSent", (e) => {
    const { exchange } = entryOf(e.requestId);
    Object.assign(exchange, { method: e.request.method, url: e.request.url, type: e.type ?? "Other" });
  });
  cdp.on("Network.requestWillBeSentExtraInfo", (e) => {
    const { exchange } = entryOf(e.requestId);
    exchange.requestHeaders = lowerCased(e.headers);
    exchange.withheldCookies = e.associatedCookies.filter((c) => c.blockedReasons.length > 0).map((c) => ({ name: c.cookie.name, reasons: c.blockedReasons }));
  });
  cdp.on("Network.responseReceived", (e) => {
    const entry = entryOf(e.requestId);
    entry.exchange.status = e.response.status;
    entry.awaitsRawResponse = e.response.url.startsWith("http");
  });
  cdp.on("Network.responseReceivedExtraInfo", (e) => {
    const entry = entryOf(e.requestId);
    entry.rawResponse = true;
    entry.exchange.status = e.statusCode;
    entry.exchange.responseHeaders = lowerCased(e.headers);
    entry.exchange.setCookies = Object.entries(e.headers).filter(([k]) => k.toLowerCase() === "set-cookie").flatMap(([, v]) => String(v).split("\n"));
  });
  cdp.on("Network.loadingFinished", (e) => {
    entryOf(e.requestId).ended = true;
  });
  cdp.on("Network.loadingFailed", (e) => {
    const entry = entryOf(e.requestId);
    entry.ended = true;
    entry.exchange.failure = e.errorText;
  });
  await cdp.send("Network.enable");
  return {
    observed,
    async settled() {
      const busy = () => [...entries.values()].some((e) => !e.ended || (e.awaitsRawResponse && !e.rawResponse));
      for (const deadline = Date.now() + 10_000; busy() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
      await cdp.detach().catch(() => {});
    },
  };
}

function lowerCased(headers: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
}

/** Opens the page with `settings`, waits until its script has published its report. */
async function runPage(context: BrowserContext, origin: string, settings: PageSettings): Promise<{ steps: Record<string, StepOutcome>; observed: Observed }> {
  const page = await context.newPage();
  try {
    const { observed, settled } = await observe(context, page);
    await page.goto(`${origin}/#${encodeURIComponent(JSON.stringify(settings))}`);
    await page.waitForFunction(() => (globalThis as { memosBrowserTest?: PageReport }).memosBrowserTest?.done === true, undefined, { timeout: 40_000 });
    const report = await page.evaluate(() => (globalThis as { memosBrowserTest?: PageReport }).memosBrowserTest!);
    // The results are also in the DOM, where a person looking at the page sees them.
    expect(JSON.parse((await page.locator("#results").textContent()) ?? "null")).toEqual(report.steps);
    await settled();
    return { steps: report.steps, observed };
  } finally {
    await page.close();
  }
}

function valueOf<T>(steps: Record<string, StepOutcome>, name: string): T {
  const outcome = steps[name];
  if (outcome === undefined) throw new Error(`step ${name} did not run`);
  if (!outcome.ok) throw new Error(`step ${name} failed: ${outcome.error}`);
  return outcome.value as T;
}

function failureOf(steps: Record<string, StepOutcome>, name: string): { error: string; code?: number } {
  const outcome = steps[name];
  if (outcome === undefined) throw new Error(`step ${name} did not run`);
  if (outcome.ok) throw new Error(`step ${name} was expected to fail but answered ${JSON.stringify(outcome.value)}`);
  return outcome.code === undefined ? { error: outcome.error } : { error: outcome.error, code: outcome.code };
}

/** The requests to `url` (preflights apart). */
function exchangesTo(observed: Observed, url: string): Exchange[] {
  return observed.exchanges.filter((e) => e.url === url && e.method !== "OPTIONS");
}

function preflightOf(observed: Observed, url: string): Exchange | undefined {
  return observed.exchanges.find((e) => e.url === url && e.method === "OPTIONS");
}

/**
 * Requests that did not complete, apart from finished calls: connect-web aborts a call's signal
 * once the call is done, which Chromium may report as ERR_ABORTED after the whole response arrived.
 */
function failedRequests(observed: Observed): Array<{ url: string; failure: string }> {
  return observed.exchanges
    .filter((e) => e.failure !== undefined && !(e.failure === "net::ERR_ABORTED" && e.status === 200))
    .map((e) => ({ url: e.url, failure: e.failure! }));
}

function refreshCookieValue(setCookies: string[]): string | undefined {
  for (const c of setCookies) {
    const m = /^memos_refresh=([^;]*)/.exec(c);
    if (m !== null) return m[1];
  }
  return undefined;
}

describeIfChromium("a real browser on another origin", () => {
  let app: TestApp | undefined;
  let pageServer: { port: number; close(): Promise<void> } | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  let photo: Buffer;

  beforeAll(async () => {
    const [script, png] = await Promise.all([bundlePage(), canvas(PHOTO.width, PHOTO.height).png().toBuffer()]);
    photo = png;
    pageServer = await startPageServer({
      "/": {
        type: "text/html; charset=utf-8",
        body: '<!doctype html><html><head><meta charset="utf-8"><title>memos browser test</title><link rel="icon" href="data:,"></head><body><script type="module" src="/app.js"></script></body></html>',
      },
      "/app.js": { type: "text/javascript; charset=utf-8", body: script },
      "/photo.png": { type: "image/png", body: photo },
    });
    // The server and the browser start side by side; whichever started is stopped in afterAll.
    const started = await Promise.allSettled([
      startTestApp({ MEMOS_INSTANCE_URL: `http://127.0.0.1:${pageServer.port}` }).then((a) => (app = a)),
      chromium
        .launch({
          executablePath: chromiumPath!,
          headless: true,
          // Root needs --no-sandbox; the rest keeps Chromium from calling out to the network.
          args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        })
        .then((b) => (browser = b)),
    ]);
    for (const outcome of started) if (outcome.status === "rejected") throw outcome.reason;
    context = await browser!.newContext();
  }, 120_000);

  afterAll(async () => {
    try {
      await context?.close();
    } finally {
      try {
        await browser?.close();
      } finally {
        try {
          await pageServer?.close();
        } finally {
          await app?.close();
        }
      }
    }
  }, 30_000);

  test("Connect, gRPC-Web, REST and <img> with CORS and the refresh cookie; another site gets no cookie; SignOut clears it", async () => {
    const api = app!.baseUrl;
    const trustedOrigin = `http://127.0.0.1:${pageServer!.port}`;
    const untrustedOrigin = `http://localhost:${pageServer!.port}`;
    const username = uniqueName("browser");
    const password = "browser-password";
    const rpc = (method: string) => `${api}/memos.api.v1.${method}`;

    // ---- The trusted page (same site, the instance URL) ----
    const trusted = await runPage(context!, trustedOrigin, { mode: "trusted", api, username, password });
    const { steps, observed } = trusted;

    // Each step's outcome.
    expect(failureOf(steps, "refreshBeforeSignIn")).toEqual({ code: CODE_UNAUTHENTICATED, error: "refresh token not found" });
    expect(valueOf(steps, "signUp")).toBe(`users/${username}`);
    expect(valueOf(steps, "signIn")).toEqual({ username, hasToken: true });
    expect(valueOf(steps, "currentUser")).toBe(username);
    const refreshed = valueOf<{ hasToken: boolean; expiresInSeconds: number }>(steps, "refresh");
    expect(refreshed.hasToken).toBe(true);
    expect(refreshed.expiresInSeconds).toBeGreaterThan(800);
    expect(refreshed.expiresInSeconds).toBeLessThanOrEqual(901);
    expect(valueOf(steps, "currentUserAfterRefresh")).toBe(username);
    expect(valueOf(steps, "instanceProfile")).toEqual({ instanceUrl: trustedOrigin, admin: username, needsSetup: false });
    const privateMemo = valueOf<{ name: string; visibility: string }>(steps, "createPrivateMemo");
    const publicMemo = valueOf<{ name: string; visibility: string }>(steps, "createPublicMemo");
    expect(privateMemo.visibility).toBe("PRIVATE");
    expect(publicMemo.visibility).toBe("PUBLIC");
    const privateAttachment = valueOf<{ name: string; filename: string; memo: string; size: number }>(steps, "uploadPrivateAttachment");
    expect(privateAttachment).toEqual({ name: expect.stringMatching(/^attachments\/\S+$/), filename: "private photo.png", memo: privateMemo.name, size: photo.length });
    const publicAttachment = valueOf<{ name: string; filename: string; memo: string; size: number }>(steps, "createPublicAttachment");
    expect(publicAttachment).toEqual({ name: expect.stringMatching(/^attachments\/\S+$/), filename: "public.png", memo: publicMemo.name, size: photo.length });
    expect(valueOf<Array<{ name: string; attachments: number }>>(steps, "listMemos")).toEqual(
      expect.arrayContaining([
        { name: privateMemo.name, attachments: 1 },
        { name: publicMemo.name, attachments: 1 },
      ]),
    );
    expect(valueOf(steps, "privateFileWithoutCookie")).toBe(401);
    const privateImage = valueOf<{ url: string; width: number; height: number }>(steps, "privateImage");
    const publicImage = valueOf<{ url: string; width: number; height: number }>(steps, "publicImage");
    for (const image of [privateImage, publicImage]) {
      expect(image.width).toBeGreaterThan(0);
      expect(image.width).toBeLessThanOrEqual(600);
      expect({ width: image.width, height: image.height }).toEqual(THUMBNAIL);
    }
    // The jar holds memos_refresh for 127.0.0.1 (any port), yet the page's script cannot read it: HttpOnly.
    expect(valueOf(steps, "documentCookie")).toBe("");

    // The server set the refresh cookie on SignIn, with the spec's attributes and no Secure on http.
    const [signIn] = exchangesTo(observed, rpc("AuthService/SignIn"));
    expect(signIn).toMatchObject({ method: "POST", status: 200 });
    expect(signIn!.requestHeaders["origin"]).toBe(trustedOrigin);
    expect(signIn!.responseHeaders["access-control-allow-origin"]).toBe(trustedOrigin);
    expect(signIn!.responseHeaders["access-control-allow-credentials"]).toBe("true");
    expect(signIn!.setCookies).toEqual([expect.stringMatching(/^memos_refresh=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; HttpOnly; Expires=[^;]+ GMT; SameSite=Lax$/)]);
    const signInCookie = refreshCookieValue(signIn!.setCookies)!;

    // RefreshToken ran on the cookie alone: none before sign-in, then the sign-in cookie, rotated.
    const refreshCalls = exchangesTo(observed, rpc("AuthService/RefreshToken"));
    expect(refreshCalls.map((e) => e.status)).toEqual([401, 200]);
    for (const call of refreshCalls) expect(call.requestHeaders["authorization"]).toBeUndefined();
    expect(refreshCalls[0]!.requestHeaders["cookie"]).toBeUndefined();
    expect(refreshCalls[1]!.requestHeaders["cookie"]).toBe(`memos_refresh=${signInCookie}`);
    const rotatedCookie = refreshCookieValue(refreshCalls[1]!.setCookies);
    expect(rotatedCookie).toBeDefined();
    expect(rotatedCookie).not.toBe(signInCookie);
    const jar = await context!.cookies(api);
    expect(jar).toEqual([expect.objectContaining({ name: "memos_refresh", value: rotatedCookie, domain: "127.0.0.1", path: "/", httpOnly: true, secure: false, sameSite: "Lax" })]);

    // GetCurrentUser carried the Bearer token; the gRPC-Web and REST calls reached the server.
    for (const call of exchangesTo(observed, rpc("AuthService/GetCurrentUser"))) {
      expect(call.requestHeaders["authorization"]).toMatch(/^Bearer /);
      expect(call.requestHeaders["content-type"]).toBe("application/proto");
      expect(call.status).toBe(200);
    }
    for (const method of ["InstanceService/GetInstanceProfile", "MemoService/ListMemos"]) {
      const [call] = exchangesTo(observed, rpc(method));
      expect(call?.requestHeaders["content-type"]).toBe("application/grpc-web+proto");
      expect(call?.status).toBe(200);
      expect(call?.responseHeaders["access-control-expose-headers"]).toContain("Grpc-Status");
    }
    expect(exchangesTo(observed, `${api}/api/v1/memos`).map((e) => [e.method, e.status])).toEqual([
      ["POST", 200],
      ["POST", 200],
    ]);

    // The <img> requests: no Authorization, the rotated cookie; the private one served privately.
    const privateImageCalls = exchangesTo(observed, privateImage.url).filter((e) => e.type === "Image");
    expect(privateImageCalls).toHaveLength(1);
    expect(privateImageCalls[0]!.requestHeaders["authorization"]).toBeUndefined();
    expect(privateImageCalls[0]!.requestHeaders["cookie"]).toBe(`memos_refresh=${rotatedCookie}`);
    expect(privateImageCalls[0]).toMatchObject({ status: 200, responseHeaders: expect.objectContaining({ "content-type": "image/jpeg", "cache-control": "private, no-store" }) });
    const [privateFetchWithoutCookie] = exchangesTo(observed, privateImage.url).filter((e) => e.type === "Fetch");
    expect(privateFetchWithoutCookie?.requestHeaders["cookie"]).toBeUndefined();
    expect(privateFetchWithoutCookie?.status).toBe(401);

    // CORS preflights: Chromium asked before the non-simple calls and the server said yes, with credentials.
    for (const url of [rpc("AuthService/SignIn"), rpc("AuthService/GetCurrentUser"), rpc("InstanceService/GetInstanceProfile"), `${api}/api/v1/memos`, `${api}/api/v1/attachments:upload`]) {
      const preflight = preflightOf(observed, url);
      expect(preflight).toBeDefined();
      expect(preflight!.status).toBe(204);
      expect(preflight!.responseHeaders["access-control-allow-origin"]).toBe(trustedOrigin);
      expect(preflight!.responseHeaders["access-control-allow-credentials"]).toBe("true");
    }
    expect(preflightOf(observed, rpc("AuthService/GetCurrentUser"))!.responseHeaders["access-control-allow-headers"]).toMatch(/authorization/i);

    // Nothing unexpected: no script error, no failed request, no CORS complaint. The only console
    // errors are the two deliberate 401s (RefreshToken before sign-in, the file without cookie).
    expect(observed.pageErrors).toEqual([]);
    expect(failedRequests(observed)).toEqual([]);
    expect(observed.console.filter((m) => /CORS|Access-Control/i.test(m.text))).toEqual([]);
    const byUrl = (a: [string, unknown], b: [string, unknown]) => a[0].localeCompare(b[0]);
    expect(observed.console.filter((m) => m.type === "error" || m.type === "warning").map((m): [string, unknown] => [m.url, m.text]).sort(byUrl)).toEqual(
      ([
        [privateImage.url, expect.stringContaining("status of 401")],
        [rpc("AuthService/RefreshToken"), expect.stringContaining("status of 401")],
      ] as Array<[string, unknown]>).sort(byUrl),
    );

    // ---- A page on another site (localhost vs 127.0.0.1), not the instance URL ----
    const other = await runPage(context!, untrustedOrigin, { mode: "untrusted", api, username, password, privateImage: privateImage.url, publicImage: publicImage.url });
    // Credentialed calls: the preflight answer has no Access-Control-Allow-Credentials, so the browser refuses.
    expect(failureOf(other.steps, "credentialedCall").error).toMatch(/fetch/i);
    const refused = preflightOf(other.observed, rpc("InstanceService/GetInstanceProfile"));
    expect(refused?.responseHeaders["access-control-allow-origin"]).toBe(untrustedOrigin);
    expect(refused?.responseHeaders["access-control-allow-credentials"]).toBeUndefined();
    expect(other.observed.console.filter((m) => /CORS policy/.test(m.text))).toEqual([
      expect.objectContaining({ type: "error", text: expect.stringContaining("Access-Control-Allow-Credentials") }),
    ]);
    // Token clients work from any origin.
    expect(valueOf(other.steps, "signIn")).toEqual({ username, hasToken: true });
    expect(valueOf(other.steps, "currentUser")).toBe(username);
    expect(valueOf(other.steps, "listMemos")).toEqual(expect.arrayContaining([privateMemo.name, publicMemo.name]));
    expect(failureOf(other.steps, "refresh")).toEqual({ code: CODE_UNAUTHENTICATED, error: "refresh token not found" });
    // The Lax cookie stays home: the private thumbnail is refused, the public one needs no cookie.
    expect(failureOf(other.steps, "privateImage").error).toContain("image did not load");
    // Chromium withheld the cookie for SameSite=Lax, the server answered 401, and the browser did
    // not hand the JSON error body to the <img> either (opaque response blocking).
    const crossSiteImage = exchangesTo(other.observed, privateImage.url);
    expect(crossSiteImage).toEqual([
      expect.objectContaining({
        type: "Image",
        requestHeaders: expect.not.objectContaining({ cookie: expect.anything() }),
        withheldCookies: [{ name: "memos_refresh", reasons: expect.arrayContaining([expect.stringMatching(/SameSiteLax$/)]) }],
        status: 401,
        failure: "net::ERR_BLOCKED_BY_ORB",
      }),
    ]);
    expect(crossSiteImage[0]!.requestHeaders["sec-fetch-site"]).toBe("cross-site");
    expect(failedRequests(other.observed)).toEqual([
      { url: rpc("InstanceService/GetInstanceProfile"), failure: "net::ERR_FAILED" },
      { url: privateImage.url, failure: "net::ERR_BLOCKED_BY_ORB" },
    ]);
    expect(valueOf(other.steps, "publicImage")).toEqual(THUMBNAIL);
    expect(exchangesTo(other.observed, publicImage.url)).toEqual([
      expect.objectContaining({ status: 200, responseHeaders: expect.objectContaining({ "cache-control": "public, no-cache" }) }),
    ]);
    expect(other.observed.pageErrors).toEqual([]);
    // The cookie is still in the jar, unchanged: it was withheld, not lost, and the other site's
    // sign-in did not replace it.
    expect((await context!.cookies(api)).map((c) => c.value)).toEqual([rotatedCookie]);

    // ---- Back on the trusted origin: SignOut clears the cookie, and the browser drops it ----
    const out = await runPage(context!, trustedOrigin, { mode: "signOut", api, username, password });
    expect(valueOf(out.steps, "signIn")).toBe(true);
    expect(valueOf(out.steps, "signOut")).toBe(true);
    expect(failureOf(out.steps, "refreshAfterSignOut")).toEqual({ code: CODE_UNAUTHENTICATED, error: "refresh token not found" });
    const [outSignIn] = exchangesTo(out.observed, rpc("AuthService/SignIn"));
    const [signOut] = exchangesTo(out.observed, rpc("AuthService/SignOut"));
    // SignOut carried the cookie SignIn had just set (so the server could revoke that token).
    expect(signOut!.requestHeaders["cookie"]).toBe(`memos_refresh=${refreshCookieValue(outSignIn!.setCookies)}`);
    expect(signOut!.setCookies).toEqual(["memos_refresh=; Path=/; HttpOnly; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax"]);
    expect(exchangesTo(out.observed, rpc("AuthService/RefreshToken"))[0]!.requestHeaders["cookie"]).toBeUndefined();
    expect(await context!.cookies(api)).toEqual([]);
    expect(out.observed.pageErrors).toEqual([]);
    expect(failedRequests(out.observed)).toEqual([]);
  }, 60_000);
});
