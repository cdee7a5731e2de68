/**
 * Shared parts of the fuzz suites: settings (seed and run counts from the environment), a server
 * with signed-in users and real resources to aim at, the invariants every response must keep
 * (never 5xx, well-formed error bodies), and the health check run after every property.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { DescMethod } from "@bufbuild/protobuf";
import fc from "fast-check";
import { AttachmentService } from "../../../gen/memos/api/v1/attachment_service_pb.js";
import { Visibility } from "../../../gen/memos/api/v1/memo_service_pb.js";
import { startTestApp, type TestApp } from "../../support/app.js";
import { SAMPLE_FILTERS } from "./cel-arbitrary.js";
import type { Pools } from "./proto-arbitrary.js";
import { newMemo, newUser, type WebUser } from "../../webapp/support.js";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";

/** Seed of every property (FUZZ_SEED overrides), mixed with the property's name. */
export const BASE_SEED = envInt("FUZZ_SEED") ?? 20261122;

/** Runs per property: FUZZ_RUNS overrides every default. */
export function runs(defaultRuns: number): number {
  return envInt("FUZZ_RUNS") ?? defaultRuns;
}

/** Longest a single fuzz request may take before it counts as a hang. */
export const REQUEST_DEADLINE_MS = 15_000;

function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got "${raw}"`);
  return n;
}

/** A stable per-property seed, so one property's inputs do not shift when another one changes. */
export function seedFor(name: string): number {
  let h = BASE_SEED | 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h | 0;
}

/** Who sends a fuzz request. */
export type Caller = "anonymous" | "user" | "admin";
export const callerArb: fc.Arbitrary<Caller> = fc.constantFrom<Caller>("anonymous", "user", "admin");

/** A running server with users and resources the fuzzers aim at. */
export interface FuzzTarget {
  readonly t: TestApp;
  readonly baseUrl: string;
  readonly port: number;
  /** The first user (admin) and a regular user; both are fuzzed with. */
  readonly admin: WebUser;
  readonly user: WebUser;
  /** Bearer header value for a caller, or undefined for anonymous. */
  authorization(caller: Caller): string | undefined;
  /** Real resource names (memos/…, users/…, attachments/…, reactions, shares). */
  readonly names: readonly string[];
  /** Real page tokens (ListMemos, ListMemoComments, ListUsers, ListAttachments). */
  readonly pageTokens: readonly string[];
  /** UIDs of attachments with bytes on the file route. */
  readonly attachmentUids: readonly string[];
  /** How many inputs the suite sent so far (for the summary line). */
  inputs: number;
  /** Log lines already checked for errors. */
  logsChecked: number;
  /** A user never handed to the fuzzers: its calls prove the server still works. */
  readonly sentinel: WebUser;
  /** A private memo of the sentinel's. */
  readonly sentinelMemo: string;
}

/**
 * Starts a server (PGlite in memory, PUBLIC instance) and creates the callers (an admin and a
 * user), a sentinel user, a victim user, memos of every visibility (each with a comment, a
 * reaction and an attachment with bytes), an unlinked attachment, a share, and real page tokens.
 */
export async function startFuzzTarget(): Promise<FuzzTarget> {
  const t = await startTestApp({ MEMOS_INSTANCE_URL: "http://127.0.0.1" });
  try {
    const admin = await newUser(t.baseUrl, "fz-admin");
    const user = await newUser(t.baseUrl, "fz-user");
    const sentinel = await newUser(t.baseUrl, "fz-sentinel");
    const sentinelMemo = (await newMemo(sentinel, { content: "still alive", visibility: Visibility.PRIVATE })).name;
    // The callers' own names stay out of the pools: a fuzzed DeleteUser or UpdateUser must not
    // take away the identities the rest of the run signs in with. A victim user stands in.
    const victim = await newUser(t.baseUrl, "fz-victim");
    const names: string[] = [victim.name, "users/nobody", "memos/missing", "attachments/missing"];
    const attachmentUids: string[] = [];
    const attachments = attachmentClient(t.baseUrl, user.token);
    for (const [owner, visibility] of [
      [user, Visibility.PUBLIC],
      [user, Visibility.PROTECTED],
      [user, Visibility.PRIVATE],
      [admin, Visibility.PRIVATE],
    ] as const) {
      const att = await attachmentClient(t.baseUrl, owner.token).createAttachment({
        attachment: { filename: `f-${visibility}.txt`, type: "text/plain", content: new TextEncoder().encode("0123456789abcdef") },
      });
      attachmentUids.push(att.name.slice("attachments/".length));
      const memo = await newMemo(owner, { content: `#tag${visibility} fuzz target [x](https://example.com)`, visibility, attachments: [{ name: att.name }] });
      names.push(memo.name, att.name);
      const comment = await owner.memos.createMemoComment({ name: memo.name, comment: { content: "a comment", visibility } });
      names.push(comment.name);
      const reaction = await owner.memos.upsertMemoReaction({ name: memo.name, reaction: { reactionType: "👍" } });
      names.push(reaction.name);
    }
    // An unlinked attachment too.
    const loose = await attachments.createAttachment({ attachment: { filename: "loose.bin", type: "application/octet-stream", content: randomBytes(64) } });
    attachmentUids.push(loose.name.slice("attachments/".length));
    names.push(loose.name);
    const share = await user.memos.createMemoShare({ parent: names.find((n) => n.startsWith("memos/") && n !== "memos/missing")!, memoShare: {} });
    names.push(share.name);
    const pageTokens: string[] = [];
    for (const token of [
      (await user.memos.listMemos({ pageSize: 1 })).nextPageToken,
      (await user.memos.listMemoComments({ name: names.find((n) => /^memos\/[^/]+$/.test(n) && n !== "memos/missing")!, pageSize: 1 })).nextPageToken,
      (await admin.users.listUsers({ pageSize: 1 })).nextPageToken,
      (await attachments.listAttachments({ pageSize: 1 })).nextPageToken,
    ]) {
      if (token !== "") pageTokens.push(token);
    }
    return {
      t,
      baseUrl: t.baseUrl,
      port: t.app.port,
      admin,
      user,
      sentinel,
      sentinelMemo,
      names,
      pageTokens,
      attachmentUids,
      inputs: 0,
      logsChecked: 0,
      authorization: (caller) => (caller === "admin" ? `Bearer ${admin.token}` : caller === "user" ? `Bearer ${user.token}` : undefined),
    };
  } catch (err) {
    await t.close();
    throw err;
  }
}

/** An AttachmentService client for a bearer token (the web-app clients have no attachment client). */
function attachmentClient(baseUrl: string, token: string) {
  const auth: Interceptor = (next) => (req) => {
    req.header.set("Authorization", `Bearer ${token}`);
    return next(req);
  };
  return createClient(AttachmentService, createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [auth] }));
}

/**
 * Orders RPCs (or routes) so that deleting ones come last: the resources the fixtures made are
 * still there while the other methods are fuzzed.
 */
export function deletingLast<T>(items: readonly T[], nameOf: (item: T) => string): T[] {
  const deleting = (item: T) => /(^|[^a-z])delete/i.test(nameOf(item));
  return [...items.filter((i) => !deleting(i)), ...items.filter(deleting)];
}

/** Plain HTTP/1.1 keep-alive agent shared by a suite's raw requests. */
export const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

/** A response read in full. */
export interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** What {@link rawRequest} sends. */
export interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly headers?: Record<string, string | string[]>;
  readonly body?: Uint8Array | string;
}

/**
 * One request with the path sent byte for byte as given (no URL normalisation). A kept-alive
 * connection the server closed after its previous answer (after a 413 or a parser error) is
 * not the server failing: such a request is sent again once on a new connection.
 */
export async function rawRequest(target: FuzzTarget, init: RawRequest): Promise<RawResponse> {
  target.inputs++;
  try {
    return await sendOnce(target.port, init, agent);
  } catch (err) {
    if ((err as { reusedSocket?: boolean }).reusedSocket !== true) throw err;
    return sendOnce(target.port, init, false);
  }
}

function sendOnce(port: number, init: RawRequest, via: http.Agent | false): Promise<RawResponse> {
  // Node's client sends a GET or DELETE body without framing unless told its length.
  const headers = init.body === undefined ? init.headers : { "content-length": String(Buffer.byteLength(init.body)), ...init.headers };
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method: init.method, path: init.path, headers, agent: via, timeout: REQUEST_DEADLINE_MS },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${REQUEST_DEADLINE_MS} ms: ${init.method} ${init.path.slice(0, 200)}`)));
    req.on("error", (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
    req.end(init.body);
  });
}

/** Connect's error code names (protocol spelling). */
export const CONNECT_CODES = new Set([
  "canceled",
  "unknown",
  "invalid_argument",
  "deadline_exceeded",
  "not_found",
  "already_exists",
  "permission_denied",
  "resource_exhausted",
  "failed_precondition",
  "aborted",
  "out_of_range",
  "unimplemented",
  "internal",
  "unavailable",
  "data_loss",
  "unauthenticated",
]);

/**
 * Asserts the REST error contract: never 5xx (501 only for unimplemented methods), and an error
 * answer is `application/json` `{code:int, message:string, details:[]}`.
 */
export function expectRestAnswer(r: RawResponse, what: string, unimplementedOk: boolean): void {
  const text = r.body.toString("utf8");
  const context = `${what} -> ${r.status} ${text.slice(0, 300)}`;
  if (r.status >= 500 && !(r.status === 501 && unimplementedOk)) throw new Error(`server error: ${context}`);
  if (r.status < 400) return;
  if (!String(r.headers["content-type"] ?? "").startsWith("application/json")) throw new Error(`error answer is not JSON: ${context}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`error body does not parse: ${context}`);
  }
  const b = body as { code?: unknown; message?: unknown; details?: unknown };
  if (typeof b.code !== "number" || !Number.isInteger(b.code) || typeof b.message !== "string" || !Array.isArray(b.details)) {
    throw new Error(`error body is not {code,message,details}: ${context}`);
  }
  if (b.code === 13 || b.code === 2 || b.code === 15) throw new Error(`internal error code: ${context}`);
}

/** Methods that answer `unimplemented` by design: not served, or documented as unsupported. */
export function unimplementedMethods(target: FuzzTarget): Set<DescMethod> {
  const out = new Set<DescMethod>();
  for (const { service, impl } of target.t.app.services) {
    for (const m of service.methods) {
      if ((impl as Record<string, unknown>)[m.localName] === undefined) out.add(m);
    }
  }
  // Served, but with parts answered `unimplemented`: SSO sign-in, linking an identity provider
  // account, and updating instance settings other than the supported keys.
  for (const { service } of target.t.app.services) {
    for (const m of service.methods) {
      const id = `${service.typeName}.${m.name}`;
      if (id === "memos.api.v1.AuthService.SignIn" || id === "memos.api.v1.UserService.CreateLinkedIdentity" || id === "memos.api.v1.InstanceService.UpdateInstanceSetting") {
        out.add(m);
      }
    }
  }
  return out;
}

/**
 * After a property: `/healthz` answers 200, a fresh signed-in call works, and no log line since
 * the last check reports an error (an unhandled exception, an internal error, a failed listener).
 */
export async function expectHealthy(target: FuzzTarget): Promise<void> {
  const health = await fetch(`${target.baseUrl}/healthz`, { signal: AbortSignal.timeout(REQUEST_DEADLINE_MS) });
  expect(health.status).toBe(200);
  expect(await health.text()).toBe("Service ready.");
  // Reads only: a fuzzed UpdateInstanceSetting may have changed what writes are allowed.
  expect((await target.sentinel.auth.getCurrentUser({})).user?.name).toBe(target.sentinel.name);
  expect((await target.sentinel.memos.getMemo({ name: target.sentinelMemo })).content).toBe("still alive");
  const profile = await fetch(`${target.baseUrl}/memos.api.v1.InstanceService/GetInstanceProfile`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  expect(profile.status).toBe(200);
  const logs = target.t.logs;
  const errors = logs.slice(target.logsChecked).filter((l) => typeof l.level === "number" && l.level >= 50);
  target.logsChecked = logs.length;
  expect(errors).toEqual([]);
}

/** Runs an async property with the suite's seed and settings; counterexamples are reported unshrunk unless FUZZ_SHRINK=1. */
export async function check<Ts extends [unknown, ...unknown[]]>(
  name: string,
  defaultRuns: number,
  arbs: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
  predicate: (...args: Ts) => Promise<void>,
): Promise<void> {
  await fc.assert(fc.asyncProperty(...arbs, predicate), {
    seed: seedFor(name),
    numRuns: runs(defaultRuns),
    endOnFailure: process.env.FUZZ_SHRINK !== "1",
  });
}

/** Prints one summary line for a suite. */
export function summary(suite: string, target: FuzzTarget | undefined, started: number): void {
  if (target === undefined) return;
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(`fuzz summary: ${suite}: ${target.inputs} inputs in ${secs} s (FUZZ_SEED=${BASE_SEED}${process.env.FUZZ_RUNS ? ` FUZZ_RUNS=${process.env.FUZZ_RUNS}` : ""})\n`);
}

/** The value pools the message generators draw names, page tokens and filters from. */
export function poolsOf(target: FuzzTarget): Pools {
  return { names: target.names, pageTokens: target.pageTokens, filters: SAMPLE_FILTERS };
}
