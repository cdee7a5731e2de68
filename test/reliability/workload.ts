/**
 * A mixed Memos API workload for load tests and benchmarks. Virtual clients, each signed in as one
 * of a few users, send a weighted mix of requests over Connect JSON and REST on keep-alive
 * HTTP/1.1 connections: sign-ins, memo creation (with tags), filtered and paged memo lists, memo
 * reads, image uploads (streamed multipart and base64), downloads and thumbnails. Every answer is
 * checked (status and the parts of the body the request determines), and each request's latency
 * is recorded under its operation.
 */
import { randomBytes } from "node:crypto";
import { Agent, request, type IncomingHttpHeaders } from "node:http";
import sharp from "sharp";
import { formatTable } from "../../bench/lib/report.js";

/** One HTTP answer, body read in full. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** What to send. */
export interface HttpRequest {
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | string;
}

/** Keep-alive HTTP/1.1 to one server: at most `maxSockets` connections, reused between requests. */
export interface HttpClient {
  send(req: HttpRequest): Promise<HttpAnswer>;
  close(): void;
}

export function createHttpClient(baseUrl: string, options: { maxSockets: number; timeoutMs?: number }): HttpClient {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets });
  const timeoutMs = options.timeoutMs ?? 60_000;
  return {
    send(req) {
      return new Promise((resolve, reject) => {
        const body = typeof req.body === "string" ? Buffer.from(req.body) : req.body;
        const r = request(
          {
            agent,
            host: url.hostname,
            port: url.port,
            method: req.method,
            path: req.path,
            headers: { ...req.headers, ...(body === undefined ? {} : { "content-length": String(body.length) }) },
            timeout: timeoutMs,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
            res.on("error", reject);
          },
        );
        r.on("timeout", () => r.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        r.on("error", reject);
        r.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

/** A test image: its bytes, type and a file name. */
export interface ImageFixture {
  readonly filename: string;
  readonly type: "image/png" | "image/jpeg";
  readonly bytes: Buffer;
}

/**
 * Small noisy photos made with sharp, PNG and JPEG, from 96x64 to 900x600 (the larger ones are
 * really scaled down for their thumbnails), 5 to about 120 KiB each.
 */
export async function makeImages(): Promise<ImageFixture[]> {
  const sizes: Array<[number, number, "png" | "jpeg"]> = [
    [96, 64, "png"],
    [320, 240, "jpeg"],
    [480, 360, "png"],
    [640, 480, "jpeg"],
    [900, 600, "jpeg"],
    [700, 700, "png"],
  ];
  return Promise.all(
    sizes.map(async ([width, height, format], i) => {
      const base = sharp({
        create: { width, height, channels: 3, background: { r: (i * 50) % 256, g: 120, b: 200 }, noise: { type: "gaussian", mean: 128, sigma: 20 } },
      });
      const bytes = format === "png" ? await base.png({ compressionLevel: 6 }).toBuffer() : await base.jpeg({ quality: 80 }).toBuffer();
      return { filename: `photo-${width}x${height}.${format === "png" ? "png" : "jpg"}`, type: format === "png" ? "image/png" : "image/jpeg", bytes } as const;
    }),
  );
}

/** Relative weights of the operations a virtual client picks from. */
export interface WorkloadMix {
  readonly signIn: number;
  readonly createMemo: number;
  readonly listMemos: number;
  readonly getMemo: number;
  readonly upload: number;
  readonly download: number;
  readonly thumbnail: number;
}

/**
 * The default mix: reads dominate as in a notes app; sign-ins are rare (bcrypt at cost 10 keeps a
 * core busy for ~50 ms each, so a larger share would measure bcrypt alone).
 */
export const DEFAULT_MIX: WorkloadMix = { signIn: 1, createMemo: 14, listMemos: 25, getMemo: 20, upload: 6, download: 17, thumbnail: 17 };

export interface WorkloadOptions {
  readonly baseUrl: string;
  /** Concurrent virtual clients (each waits for its answer before sending the next request). */
  readonly clients: number;
  /** Length of the measured phase. */
  readonly seconds: number;
  /**
   * A warm-up phase of the same load before the measured one: it ends once `settled()` answers
   * true (asked once a second, once `minSeconds` have passed and `minRequests` were answered) or
   * after `maxSeconds`. Its answers are checked like the measured ones; its latencies are not in
   * the measured figures. Default: none.
   */
  readonly warmup?: { readonly minSeconds: number; readonly minRequests: number; readonly maxSeconds: number; readonly settled: () => boolean };
  /** Distinct users the clients share. @default 10 */
  readonly users?: number;
  readonly mix?: WorkloadMix;
  /** Called once a second while the load runs, warm-up included (e.g. to sample the server's RSS). */
  readonly onSecond?: (elapsedSeconds: number, phase: "warmup" | "measured") => void;
}

/** Latency and outcome figures of one operation. */
export interface OpFigures {
  readonly op: string;
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** 2xx answers whose body was wrong, and 4xx answers (no request of the mix should get one). */
  readonly wrong: number;
  readonly serverErrors: number;
  readonly networkErrors: number;
}

/** A failed request, for the report. */
export interface Failure {
  readonly op: string;
  readonly status?: number;
  readonly detail: string;
}

/** The figures of one phase of a run. */
export interface PhaseFigures {
  readonly seconds: number;
  readonly requests: number;
  readonly rps: number;
  readonly ops: readonly OpFigures[];
  /** Totals over every operation. */
  readonly wrong: number;
  readonly serverErrors: number;
  readonly networkErrors: number;
  /** The first failures (at most 20). */
  readonly failures: readonly Failure[];
}

export interface WorkloadResult extends PhaseFigures {
  /** The warm-up phase (zero seconds when there was none). */
  readonly warmup: PhaseFigures;
}

const PASSWORD = "load-test-password";
const TAGS = Array.from({ length: 10 }, (_, i) => `lt${i}`);
const VISIBILITIES = ["PUBLIC", "PROTECTED", "PRIVATE"] as const;
/** How many recent memos and attachments each user keeps as targets for reads. */
const RECENT = 200;

interface StoredAttachment {
  readonly uid: string;
  readonly filename: string;
  readonly type: string;
  readonly size: number;
}

interface UserState {
  readonly username: string;
  token: string;
  readonly memos: string[];
  readonly attachments: StoredAttachment[];
}

interface MemoJson {
  name?: string;
  creator?: string;
  visibility?: string;
  tags?: string[];
}

type Outcome = { kind: "ok" } | { kind: "wrong" | "server" | "network"; status?: number; detail: string };

class Recorder {
  private readonly latencies = new Map<string, number[]>();
  private readonly counts = new Map<string, { wrong: number; server: number; network: number }>();
  readonly failures: Failure[] = [];
  /** Requests recorded so far. */
  count = 0;

  record(op: string, ms: number, outcome: Outcome): void {
    this.count++;
    let l = this.latencies.get(op);
    if (l === undefined) this.latencies.set(op, (l = []));
    l.push(ms);
    let c = this.counts.get(op);
    if (c === undefined) this.counts.set(op, (c = { wrong: 0, server: 0, network: 0 }));
    if (outcome.kind === "ok") return;
    c[outcome.kind === "wrong" ? "wrong" : outcome.kind === "server" ? "server" : "network"]++;
    if (this.failures.length < 20) this.failures.push({ op, ...(outcome.status === undefined ? {} : { status: outcome.status }), detail: outcome.detail });
  }

  figures(): OpFigures[] {
    return [...this.latencies.entries()]
      .map(([op, l]) => {
        const sorted = [...l].sort((a, b) => a - b);
        const c = this.counts.get(op)!;
        return {
          op,
          count: l.length,
          p50: percentile(sorted, 50),
          p99: percentile(sorted, 99),
          max: sorted[sorted.length - 1]!,
          wrong: c.wrong,
          serverErrors: c.server,
          networkErrors: c.network,
        };
      })
      .sort((a, b) => a.op.localeCompare(b.op));
  }
}

/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const remember = <T>(list: T[], item: T) => {
  list.push(item);
  if (list.length > RECENT) list.shift();
};

/** The state the virtual clients share: users, their recent memos and attachments, public memos. */
interface World {
  readonly http: HttpClient;
  /** Where requests are recorded; replaced when the measured phase starts. */
  recorder: Recorder;
  readonly users: readonly UserState[];
  readonly publicMemos: string[];
  readonly images: readonly ImageFixture[];
}

/** What is wrong with a 2xx answer. */
class Wrong {
  constructor(readonly detail: string) {}
}
const wrong = (detail: string) => new Wrong(detail);

/**
 * Sends `req` and records it as `op`: a network error, a 5xx, or any status other than 2xx is a
 * failure; otherwise `check` (given the answer) returns the parsed value, or a {@link Wrong} saying
 * what is wrong with it.
 */
async function exchange<T>(world: World, op: string, req: HttpRequest, check: (a: HttpAnswer) => T | Wrong): Promise<T | undefined> {
  const started = performance.now();
  const recorder = world.recorder;
  let answer: HttpAnswer;
  try {
    answer = await world.http.send(req);
  } catch (err) {
    recorder.record(op, performance.now() - started, { kind: "network", detail: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
  const ms = performance.now() - started;
  const excerpt = () => answer.body.subarray(0, 300).toString("utf8");
  if (answer.status >= 500) {
    recorder.record(op, ms, { kind: "server", status: answer.status, detail: excerpt() });
    return undefined;
  }
  if (answer.status < 200 || answer.status > 299) {
    recorder.record(op, ms, { kind: "wrong", status: answer.status, detail: excerpt() });
    return undefined;
  }
  let value: T | Wrong;
  try {
    value = check(answer);
  } catch (err) {
    value = new Wrong(`unreadable answer: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (value instanceof Wrong) {
    recorder.record(op, ms, { kind: "wrong", status: answer.status, detail: value.detail });
    return undefined;
  }
  recorder.record(op, ms, { kind: "ok" });
  return value;
}

const json = (a: HttpAnswer) => JSON.parse(a.body.toString("utf8")) as Record<string, unknown>;
const jsonHeaders = (token?: string): Record<string, string> => ({
  "content-type": "application/json",
  ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
});
const connect = (service: string, method: string, body: unknown, token?: string): HttpRequest => ({
  method: "POST",
  path: `/memos.api.v1.${service}/${method}`,
  headers: jsonHeaders(token),
  body: JSON.stringify(body),
});

function multipart(image: ImageFixture): { body: Buffer; contentType: string } {
  const boundary = `----load-${randomBytes(8).toString("hex")}`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${image.filename}"\r\nContent-Type: ${image.type}\r\n\r\n`),
    image.bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

/** The operations of the mix; each sends one or two requests. */
const OPERATIONS: { readonly [K in keyof WorkloadMix]: (world: World, user: UserState) => Promise<void> } = {
  async signIn(world, user) {
    const viaRest = Math.random() < 0.5;
    const body = { passwordCredentials: { username: user.username, password: PASSWORD } };
    const token = await exchange(
      world,
      viaRest ? "SignIn rest" : "SignIn connect",
      viaRest ? { method: "POST", path: "/api/v1/auth/signin", headers: jsonHeaders(), body: JSON.stringify(body) } : connect("AuthService", "SignIn", body),
      (a) => {
        const j = json(a) as { accessToken?: string; user?: { username?: string } };
        if (typeof j.accessToken !== "string" || j.user?.username !== user.username) return wrong("no access token for the user");
        if (!String(a.headers["set-cookie"] ?? "").includes("memos_refresh=")) return wrong("no refresh cookie");
        return j.accessToken;
      },
    );
    if (token !== undefined) user.token = token;
  },

  async createMemo(world, user) {
    const viaRest = Math.random() < 0.5;
    const tags = [pick(TAGS), pick(TAGS)];
    const visibility = pick(VISIBILITIES);
    const memo = {
      content: `Load note ${randomBytes(4).toString("hex")} #${tags[0]} #${tags[1]}\n\nA few words with **bold**, \`code\` and a [link](https://example.com/${randomBytes(2).toString("hex")}).\n\n- [ ] a task`,
      visibility,
    };
    const name = await exchange(
      world,
      viaRest ? "CreateMemo rest" : "CreateMemo connect",
      viaRest
        ? { method: "POST", path: "/api/v1/memos", headers: jsonHeaders(user.token), body: JSON.stringify(memo) }
        : connect("MemoService", "CreateMemo", { memo }, user.token),
      (a) => {
        const m = json(a) as MemoJson;
        if (typeof m.name !== "string" || !m.name.startsWith("memos/")) return wrong("no memo name");
        if (m.creator !== `users/${user.username}`) return wrong(`creator ${m.creator}`);
        if (m.visibility !== visibility) return wrong(`visibility ${m.visibility}`);
        if (!tags.every((t) => m.tags?.includes(t))) return wrong(`tags ${JSON.stringify(m.tags)}, expected ${tags.join(", ")}`);
        return m.name;
      },
    );
    if (name === undefined) return;
    remember(user.memos, name);
    if (visibility === "PUBLIC") remember(world.publicMemos, name);
  },

  async listMemos(world, user) {
    const viaRest = Math.random() < 0.5;
    const other = pick(world.users).username;
    const tag = pick(TAGS);
    const filters: Array<[string, (m: MemoJson) => boolean]> = [
      [`creator == "users/${user.username}"`, (m) => m.creator === `users/${user.username}`],
      [`tag in ["${tag}"]`, (m) => m.tags?.includes(tag) === true],
      [`visibility in ["PUBLIC"]`, (m) => m.visibility === "PUBLIC"],
      [`creator == "users/${other}" && visibility in ["PUBLIC", "PROTECTED"]`, (m) => m.creator === `users/${other}` && m.visibility !== "PRIVATE"],
    ];
    const [filter, matches] = pick(filters);
    const page = (op: string, pageToken: string, before: ReadonlySet<string>) =>
      exchange(
        world,
        op,
        viaRest
          ? {
              method: "GET",
              path: `/api/v1/memos?${new URLSearchParams({ pageSize: "20", filter, ...(pageToken === "" ? {} : { pageToken }) }).toString()}`,
              headers: { authorization: `Bearer ${user.token}` },
            }
          : connect("MemoService", "ListMemos", { pageSize: 20, filter, ...(pageToken === "" ? {} : { pageToken }) }, user.token),
        (a) => {
          const j = json(a) as { memos?: MemoJson[]; nextPageToken?: string };
          const memos = j.memos ?? [];
          if (memos.length > 20) return wrong(`${memos.length} memos on a page of 20`);
          const stray = memos.find((m) => !matches(m));
          if (stray !== undefined) return wrong(`${stray.name} does not match ${filter}`);
          const repeated = memos.find((m) => before.has(m.name!));
          if (repeated !== undefined) return wrong(`${repeated.name} was already on the previous page`);
          return { names: memos.map((m) => m.name!), next: j.nextPageToken ?? "" };
        },
      );
    const first = await page(viaRest ? "ListMemos rest" : "ListMemos connect", "", new Set());
    // Half the time the client scrolls on: the next page continues after the first, never repeating it.
    if (first === undefined || first.next === "" || Math.random() < 0.5) return;
    await page(viaRest ? "ListMemos rest next page" : "ListMemos connect next page", first.next, new Set(first.names));
  },

  async getMemo(world, user) {
    const viaRest = Math.random() < 0.5;
    const name = Math.random() < 0.7 || world.publicMemos.length === 0 ? pick(user.memos) : pick(world.publicMemos);
    await exchange(
      world,
      viaRest ? "GetMemo rest" : "GetMemo connect",
      viaRest ? { method: "GET", path: `/api/v1/${name}`, headers: { authorization: `Bearer ${user.token}` } } : connect("MemoService", "GetMemo", { name }, user.token),
      (a) => ((json(a) as MemoJson).name === name ? true : wrong(`got ${(json(a) as MemoJson).name}`)),
    );
  },

  async upload(world, user) {
    const image = pick(world.images);
    const how = pick(["multipart", "multipart", "connect", "rest"] as const);
    const attachment = { filename: image.filename, type: image.type, content: image.bytes.toString("base64") };
    let req: HttpRequest;
    if (how === "multipart") {
      const { body, contentType } = multipart(image);
      req = { method: "POST", path: "/api/v1/attachments:upload", headers: { "content-type": contentType, authorization: `Bearer ${user.token}` }, body };
    } else if (how === "rest") {
      req = { method: "POST", path: "/api/v1/attachments", headers: jsonHeaders(user.token), body: JSON.stringify(attachment) };
    } else {
      req = connect("AttachmentService", "CreateAttachment", { attachment }, user.token);
    }
    const stored = await exchange(world, how === "multipart" ? "Upload multipart" : `CreateAttachment ${how}`, req, (a) => {
      const j = json(a) as { name?: string; filename?: string; type?: string; size?: string };
      if (typeof j.name !== "string" || !j.name.startsWith("attachments/")) return wrong("no attachment name");
      if (j.filename !== image.filename || j.type !== image.type) return wrong(`stored as ${j.filename} ${j.type}`);
      const size = Number(j.size);
      if (!(size > 0)) return wrong(`size ${j.size}`);
      return { uid: j.name.slice("attachments/".length), filename: image.filename, type: image.type, size };
    });
    if (stored !== undefined) remember(user.attachments, stored);
  },

  async download(world, user) {
    const a = pick(user.attachments);
    await exchange(
      world,
      "Download",
      { method: "GET", path: `/file/attachments/${a.uid}/${encodeURIComponent(a.filename)}`, headers: { authorization: `Bearer ${user.token}` } },
      (res) => {
        if (res.headers["content-type"] !== a.type) return wrong(`content-type ${res.headers["content-type"]}`);
        if (res.body.length !== a.size) return wrong(`${res.body.length} bytes, expected ${a.size}`);
        return true;
      },
    );
  },

  async thumbnail(world, user) {
    const a = pick(user.attachments);
    await exchange(
      world,
      "Thumbnail",
      { method: "GET", path: `/file/attachments/${a.uid}?thumbnail=true`, headers: { authorization: `Bearer ${user.token}` } },
      (res) => {
        if (res.headers["content-type"] !== "image/jpeg") return wrong(`content-type ${res.headers["content-type"]}`);
        if (res.body[0] !== 0xff || res.body[1] !== 0xd8) return wrong("not a JPEG");
        return true;
      },
    );
  },
};

/** Picks an operation with probability proportional to its weight. */
function chooser(mix: WorkloadMix): () => keyof WorkloadMix {
  const entries = Object.entries(mix) as Array<[keyof WorkloadMix, number]>;
  const total = entries.reduce((n, [, w]) => n + w, 0);
  return () => {
    let r = Math.random() * total;
    for (const [op, w] of entries) if ((r -= w) < 0) return op;
    return entries[entries.length - 1]![0];
  };
}

/**
 * Signs up `options.users` users (unique names; on a fresh instance the first becomes its admin),
 * gives each a few memos (one public) and an uploaded image, then runs the mix from
 * `options.clients` virtual clients for `options.seconds`. Clients share users round-robin, and
 * a client that signs in again goes on with the new token. Setup failures throw; failures during
 * the run are counted in the result.
 */
export async function runWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const http = createHttpClient(options.baseUrl, { maxSockets: options.clients });
  try {
    const images = await makeImages();
    const prefix = `load-${randomBytes(3).toString("hex")}`;
    const users: UserState[] = [];
    const setup: World = { http, recorder: new Recorder(), users, publicMemos: [], images };
    for (let i = 0; i < (options.users ?? 10); i++) {
      const username = `${prefix}-${i}`;
      const created = await http.send({ method: "POST", path: "/api/v1/users", headers: jsonHeaders(), body: JSON.stringify({ username, password: PASSWORD }) });
      if (created.status !== 200) throw new Error(`sign-up of ${username}: ${created.status} ${created.body.toString("utf8")}`);
      users.push({ username, token: "", memos: [], attachments: [] });
    }
    await Promise.all(
      users.map(async (user) => {
        await OPERATIONS.signIn(setup, user);
        for (let i = 0; i < 3; i++) await OPERATIONS.createMemo(setup, user);
        await OPERATIONS.upload(setup, user);
      }),
    );
    for (const user of users) {
      if (user.memos.length === 0 || user.attachments.length === 0) {
        throw new Error(`workload setup failed: ${JSON.stringify(setup.recorder.failures.slice(0, 3))}`);
      }
    }
    const world: World = { http, recorder: new Recorder(), users, publicMemos: setup.publicMemos, images };

    const next = chooser(options.mix ?? DEFAULT_MIX);
    const started = performance.now();
    let measuredFrom = started;
    let deadline = options.warmup === undefined ? started + options.seconds * 1000 : Infinity;
    let warmup: PhaseFigures = phaseFigures(world.recorder, 0);
    let second = 0;
    const ticker = setInterval(() => {
      second++;
      const warming = deadline === Infinity;
      options.onSecond?.(second, warming ? "warmup" : "measured");
      const w = options.warmup;
      const due = w !== undefined && (second >= w.maxSeconds || (second >= w.minSeconds && world.recorder.count >= w.minRequests && w.settled()));
      if (warming && due) {
        measuredFrom = performance.now();
        warmup = phaseFigures(world.recorder, (measuredFrom - started) / 1000);
        world.recorder = new Recorder();
        deadline = measuredFrom + options.seconds * 1000;
      }
    }, 1000);
    try {
      await Promise.all(
        Array.from({ length: options.clients }, async (_, i) => {
          const user = users[i % users.length]!;
          while (performance.now() < deadline) await OPERATIONS[next()](world, user);
        }),
      );
    } finally {
      clearInterval(ticker);
    }
    return { ...phaseFigures(world.recorder, (performance.now() - measuredFrom) / 1000), warmup };
  } finally {
    http.close();
  }
}

function phaseFigures(recorder: Recorder, seconds: number): PhaseFigures {
  const ops = recorder.figures();
  const requests = ops.reduce((n, o) => n + o.count, 0);
  return {
    seconds,
    requests,
    rps: seconds > 0 ? requests / seconds : 0,
    ops,
    wrong: ops.reduce((n, o) => n + o.wrong, 0),
    serverErrors: ops.reduce((n, o) => n + o.serverErrors, 0),
    networkErrors: ops.reduce((n, o) => n + o.networkErrors, 0),
    failures: recorder.failures,
  };
}

/** How a process's resident set moved during the measured phase of a load, from one sample a second. */
export interface RssTrend {
  readonly startMiB: number;
  readonly endMiB: number;
  readonly maxMiB: number;
  readonly medianMiB: number;
  /** Theil–Sen slope of the samples, in MiB per minute. */
  readonly slopeMiBPerMinute: number;
  /** The slope times the length of the window: the growth the trend accounts for. */
  readonly trendGrowthMiB: number;
}

const medianOf = (values: readonly number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? 0 : s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/**
 * The trend of `samples` (MiB, one a second). The slope is Theil–Sen's (the median of the slopes
 * between every pair of samples): a garbage collection's saw-tooth or a few spikes do not tilt it
 * the way they tilt a least-squares fit, while a steady leak does.
 */
export function rssTrend(samples: readonly number[]): RssTrend {
  const slopes: number[] = [];
  for (let i = 0; i < samples.length; i++) {
    for (let j = i + 1; j < samples.length; j++) slopes.push((samples[j]! - samples[i]!) / (j - i));
  }
  const perSecond = medianOf(slopes);
  return {
    startMiB: samples[0] ?? 0,
    endMiB: samples[samples.length - 1] ?? 0,
    maxMiB: Math.max(0, ...samples),
    medianMiB: medianOf(samples),
    slopeMiBPerMinute: perSecond * 60,
    trendGrowthMiB: perSecond * Math.max(0, samples.length - 1),
  };
}

/**
 * Whether a process's resident set has stopped climbing: the median of the last 5 samples (one a
 * second) is within `fraction` of the median of the 5 taken `windowSeconds` earlier. A server
 * under a new load grows its heap, the allocator's arenas and the image library's caches before
 * it levels off; how long that takes depends on the machine's speed.
 */
export function rssSettled(samples: readonly number[], windowSeconds = 15, fraction = 0.05): boolean {
  if (samples.length < windowSeconds + 5) return false;
  const now = medianOf(samples.slice(-5));
  const before = medianOf(samples.slice(-5 - windowSeconds, -windowSeconds));
  return now - before <= fraction * before;
}

/** The figures of a run as text: one row per operation, a total row, the warm-up, and the RSS trend when given. */
export function formatWorkloadReport(title: string, result: WorkloadResult, rss?: RssTrend): string {
  const rows = result.ops.map((o) => [o.op, o.count, o.count / result.seconds, o.p50, o.p99, o.max, o.wrong, o.serverErrors, o.networkErrors]);
  rows.push(["all", result.requests, result.rps, "", "", "", result.wrong, result.serverErrors, result.networkErrors]);
  const w = result.warmup;
  const lines = [
    `${title}: ${result.requests} requests in ${result.seconds.toFixed(1)} s = ${result.rps.toFixed(0)} req/s` +
      (w.seconds > 0 ? ` (after a warm-up of ${w.seconds.toFixed(0)} s, ${w.requests} requests, ${w.wrong + w.serverErrors + w.networkErrors} failed)` : ""),
    formatTable(["operation", "count", "req/s", "p50 ms", "p99 ms", "max ms", "wrong/4xx", "5xx", "net err"], rows),
  ];
  if (rss !== undefined) {
    lines.push(
      `server RSS while measured: start ${rss.startMiB.toFixed(0)} MiB, end ${rss.endMiB.toFixed(0)} MiB, median ${rss.medianMiB.toFixed(0)} MiB, ` +
        `max ${rss.maxMiB.toFixed(0)} MiB; Theil-Sen slope ${rss.slopeMiBPerMinute.toFixed(1)} MiB/min (${rss.trendGrowthMiB.toFixed(1)} MiB over the window)`,
    );
  }
  const failures = [...w.failures.map((f) => ({ ...f, op: `warm-up ${f.op}` })), ...result.failures];
  if (failures.length > 0) lines.push("first failures:", ...failures.slice(0, 20).map((f) => `  ${f.op} ${f.status ?? "-"}: ${f.detail}`));
  return lines.join("\n");
}
