/**
 * Fuzzes the inputs that carry their own little languages and formats: CEL filters, page
 * tokens, resource names, multipart upload bodies and HTTP Range headers, plus a gRPC (HTTP/2)
 * sample of every method. Each answer is either a valid result or the caller's error, never a
 * 5xx and never a hang; the server is healthy after each property.
 */
import http2 from "node:http2";
import { fromJson, toBinary, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import fc from "fast-check";
import { filterArb } from "./support/cel-arbitrary.js";
import {
  callerArb,
  check,
  expectHealthy,
  expectRestAnswer,
  poolsOf,
  rawRequest,
  REQUEST_DEADLINE_MS,
  startFuzzTarget,
  summary,
  unimplementedMethods,
  type Caller,
  type FuzzTarget,
  type RawResponse,
} from "./support/fuzz.js";
import { generatedServices, messageArb, mutatedBinaryArb, nastyStringArb, type Pools } from "./support/proto-arbitrary.js";

const TEST_TIMEOUT_MS = 150_000;

const services = await generatedServices();
const serviceOf = (name: string) => services.find((s) => s.name === name)!;
const methodOf = (service: string, method: string): [DescService, DescMethod] => {
  const s = serviceOf(service);
  return [s, s.methods.find((m) => m.name === method)!];
};

let target: FuzzTarget | undefined;
let pools: Pools;
const started = Date.now();

beforeAll(async () => {
  target = await startFuzzTarget();
  pools = poolsOf(target);
}, TEST_TIMEOUT_MS);
afterAll(async () => {
  summary("inputs", target, started);
  await target?.t.close();
});
afterEach(async () => {
  if (target !== undefined) await expectHealthy(target);
}, TEST_TIMEOUT_MS);

/** Calls a method over Connect JSON and returns the answer's status and parsed body. */
async function callJson(caller: Caller, service: DescService, method: DescMethod, body: Record<string, unknown>): Promise<{ status: number; json: Record<string, unknown>; raw: string }> {
  const t = target!;
  const headers: Record<string, string> = { "content-type": "application/json" };
  const auth = t.authorization(caller);
  if (auth !== undefined) headers.authorization = auth;
  const r = await rawRequest(t, { method: "POST", path: `/${service.typeName}/${method.name}`, headers, body: JSON.stringify(body) });
  const raw = r.body.toString("utf8");
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    throw new Error(`${method.name} answered ${r.status} with a body that is not JSON: ${raw.slice(0, 200)}`);
  }
  return { status: r.status, json, raw };
}

/** A successful answer parses as the method's output; an error has one of `codes`. */
function expectResultOr(method: DescMethod, r: { status: number; json: Record<string, unknown>; raw: string }, codes: readonly string[], what: string): void {
  if (r.status === 200) {
    fromJson(method.output, r.json as never, { ignoreUnknownFields: false });
    return;
  }
  const code = r.json.code;
  if (typeof code !== "string" || !codes.includes(code)) throw new Error(`${what} -> ${r.status} ${r.raw.slice(0, 300)}`);
}

describe("CEL filters", () => {
  const filtered: Array<[string, string, (filter: string) => Record<string, unknown>]> = [
    ["MemoService", "ListMemos", (filter) => ({ filter, pageSize: 5 })],
    ["AttachmentService", "ListAttachments", (filter) => ({ filter, pageSize: 5 })],
    ["UserService", "ListAllUserStats", (filter) => ({ filter })],
    ["UserService", "ListUsers", (filter) => ({ filter, pageSize: 5 })],
    ["UserService", "ListUserNotifications", (filter) => ({ parent: target!.user.name, filter })],
  ];
  test.each(filtered)("%s.%s: a valid list or invalid_argument, within the deadline", async (serviceName, methodName, request) => {
    const [service, method] = methodOf(serviceName, methodName);
    await check(`filter ${methodName}`, 60, [fc.constantFrom<Caller>("user", "admin"), filterArb], async (caller, filter) => {
      const r = await callJson(caller, service, method, request(filter));
      expectResultOr(method, r, ["invalid_argument", "permission_denied"], `${caller} ${methodName} filter=${JSON.stringify(filter.slice(0, 300))}`);
    });
  }, TEST_TIMEOUT_MS);

  test("ListMemos over REST: filter in the query string", async () => {
    const t = target!;
    await check("filter rest ListMemos", 40, [callerArb, filterArb.filter((f) => f.length < 3000)], async (caller, filter) => {
      const headers: Record<string, string> = {};
      const auth = t.authorization(caller);
      if (auth !== undefined) headers.authorization = auth;
      const path = `/api/v1/memos?filter=${encodeURIComponent(filter.replace(/[\ud800-\udfff]/g, "?"))}`;
      const r = await rawRequest(t, { method: "GET", path, headers });
      expectRestAnswer(r, `${caller} GET ${path.slice(0, 300)}`, false);
      if (r.status !== 200 && ![3, 16].includes((JSON.parse(r.body.toString("utf8")) as { code: number }).code)) {
        throw new Error(`unexpected error for filter ${JSON.stringify(filter)}: ${r.body.toString("utf8")}`);
      }
    });
  }, TEST_TIMEOUT_MS);
});

/** Page tokens: real ones mutated, base64 of random bytes, and garbage. */
function pageTokenArb(): fc.Arbitrary<string> {
  const real = target!.pageTokens;
  const mutated = fc
    .tuple(fc.constantFrom(...real), fc.array(fc.tuple(fc.nat(), fc.constantFrom("A", "/", "+", "=", "-", "_", ".", "", "%", "\u0000", "é")), { minLength: 1, maxLength: 3 }))
    .map(([tok, edits]) =>
      edits.reduce((s, [at, c]) => {
        const i = at % (s.length + 1);
        return c === "" ? s.slice(0, i) + s.slice(i + 1) : s.slice(0, i) + c + s.slice(i + 1);
      }, tok),
    );
  return fc.oneof(
    { weight: 4, arbitrary: mutated },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString("base64")) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString("base64url")) },
    { weight: 1, arbitrary: fc.constantFrom("CAIQAg==", "CP////8PEP////8P", "EP////////////8B", "-1", "1e9", "99999999999999999999", "k1.", "k1..", "k1.e30.", "k2.AAAA.BBBB") },
    { weight: 2, arbitrary: nastyStringArb },
  );
}

describe("page tokens", () => {
  const paged: Array<[string, string, () => Record<string, unknown>]> = [
    ["MemoService", "ListMemos", () => ({ pageSize: 2 })],
    ["MemoService", "ListMemoComments", () => ({ name: target!.names.find((n) => /^memos\/[^/]+$/.test(n) && n !== "memos/missing"), pageSize: 1 })],
    ["UserService", "ListUsers", () => ({ pageSize: 1 })],
    ["AttachmentService", "ListAttachments", () => ({ pageSize: 1 })],
    ["UserService", "ListUserSettings", () => ({ parent: target!.user.name })],
    ["UserService", "ListPersonalAccessTokens", () => ({ parent: target!.user.name })],
    ["UserService", "ListUserNotifications", () => ({ parent: target!.user.name })],
  ];
  test.each(paged)("%s.%s: a page or invalid_argument", async (serviceName, methodName, base) => {
    const [service, method] = methodOf(serviceName, methodName);
    await check(`page token ${methodName}`, 30, [fc.constantFrom<Caller>("user", "admin"), pageTokenArb()], async (caller, pageToken) => {
      const r = await callJson(caller, service, method, { ...base(), pageToken });
      expectResultOr(method, r, ["invalid_argument", "permission_denied"], `${caller} ${methodName} pageToken=${JSON.stringify(pageToken)}`);
    });
  }, TEST_TIMEOUT_MS);
});

/** Resource names: real prefixes with random ids and suffixes, and mutated real names. */
function resourceNameArb(): fc.Arbitrary<string> {
  const real = target!.names;
  const prefix = fc.constantFrom("memos/", "users/", "attachments/", "identity-providers/", "instance/settings/", "shares/", "", "/", "memos", "users/x/", "memos/x/reactions/");
  const suffix = fc.constantFrom("", "/", "/reactions/1", "/reactions/x", "/settings/GENERAL", "/personalAccessTokens/x", "/memoViews/x", "/notifications/1", "/shares/x", "/linkedIdentities/x", "/webhooks/x", ":getStats", "/..", "/../../x");
  return fc.oneof(
    fc.tuple(prefix, nastyStringArb, suffix).map(([p, id, s]) => p + id + s),
    fc.tuple(fc.constantFrom(...real), suffix).map(([n, s]) => n + s),
    fc.tuple(fc.constantFrom(...real), fc.nat(), fc.constantFrom("", "/", "%", "\u0000", "A", "é")).map(([n, at, c]) => {
      const i = at % (n.length + 1);
      return n.slice(0, i) + c + n.slice(i + 1);
    }),
  );
}

describe("resource names", () => {
  test("every method with a name-like string field: never a 5xx", async () => {
    const t = target!;
    const unimplemented = unimplementedMethods(t);
    const targets = services.flatMap((s) =>
      s.methods
        .filter((m) => m.methodKind === "unary")
        .flatMap((m) => m.input.fields.filter((f) => f.fieldKind === "scalar" && /name|parent/.test(f.name)).map((f): [DescService, DescMethod, string] => [s, m, f.jsonName])),
    );
    const allowed = ["invalid_argument", "not_found", "permission_denied", "unauthenticated", "failed_precondition", "already_exists", "resource_exhausted", "unimplemented"];
    await check("resource names", 200, [callerArb, fc.constantFrom(...targets), resourceNameArb()], async (caller, [service, method, field], name) => {
      const r = await callJson(caller, service, method, { [field]: name });
      expectResultOr(method, r, allowed.filter((c) => c !== "unimplemented" || unimplemented.has(method) || method.name === "SignIn"), `${caller} ${method.name} ${field}=${JSON.stringify(name)}`);
    });
  }, TEST_TIMEOUT_MS);
});

/** A multipart body: well-formed, or broken in one of the ways a client or attacker breaks it. */
interface Multipart {
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

function multipartArb(): fc.Arbitrary<Multipart> {
  const boundary = fc.oneof(fc.constantFrom("b", "----WebKitFormBoundary7MA4YWxkTrZu0gW", "x".repeat(70), "a b", "\"quoted\""), fc.string({ minLength: 1, maxLength: 20 }).map((s) => s.replace(/[^\x21-\x7e]/g, "z")));
  const header = fc.oneof(
    fc.constantFrom(
      'Content-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain',
      'Content-Disposition: form-data; name="file"',
      'Content-Disposition: form-data; name="filename"',
      'Content-Disposition: form-data; name="type"',
      'Content-Disposition: form-data; name="memo"',
      'Content-Disposition: form-data; name="attachmentId"',
      'Content-Disposition: form-data; name="file"; filename="../../etc/passwd"; filename*=UTF-8\'\'%E2%82%AC.txt',
      "Content-Disposition: form-data",
      "Content-Disposition: attachment; name=file",
      'Content-Disposition: form-data; name="file"; filename="\u0000.png"\r\nContent-Type: image/png',
      "X: y",
      "",
    ),
    fc.constantFrom(1_000, 20_000).map((n) => `Content-Disposition: form-data; name="file"; filename="${"a".repeat(n)}"`),
    fc.string({ maxLength: 60 }).map((s) => `Content-Disposition: ${s}`),
  );
  const content = fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    fc.constantFrom(Buffer.from(""), Buffer.from("--b\r\n"), Buffer.from("\r\n--"), Buffer.from("memos/missing"), Buffer.from(target!.names.find((n) => n.startsWith("memos/") && n !== "memos/missing")!)),
  );
  const part = fc.tuple(header, content);
  return fc
    .tuple(
      boundary,
      fc.array(part, { maxLength: 4 }),
      fc.constantFrom("ok", "no-close", "truncate", "wrong-boundary", "no-crlf", "preamble", "garbage-after"),
      fc.nat(),
      fc.constantFrom("type", "no-boundary", "empty-boundary", "long-boundary", "not-multipart", "none", "two-boundaries"),
    )
    .map(([b, parts, shape, cut, typeShape]) => {
      const crlf = shape === "no-crlf" ? "\n" : "\r\n";
      const delim = shape === "wrong-boundary" ? `--${b}x` : `--${b}`;
      const chunks: Buffer[] = [];
      if (shape === "preamble") chunks.push(Buffer.from(`preamble text${crlf}`));
      for (const [h, c] of parts) chunks.push(Buffer.from(`${delim}${crlf}${h}${crlf}${crlf}`), c, Buffer.from(crlf));
      if (shape !== "no-close") chunks.push(Buffer.from(`${delim}--${crlf}`));
      if (shape === "garbage-after") chunks.push(Buffer.from(`--${b}${crlf}more`));
      let body = Buffer.concat(chunks);
      if (shape === "truncate") body = body.subarray(0, cut % (body.length + 1));
      const contentType =
        typeShape === "none"
          ? undefined
          : typeShape === "no-boundary"
            ? "multipart/form-data"
            : typeShape === "empty-boundary"
              ? "multipart/form-data; boundary="
              : typeShape === "long-boundary"
                ? `multipart/form-data; boundary=${"y".repeat(200)}`
                : typeShape === "not-multipart"
                  ? "application/json"
                  : typeShape === "two-boundaries"
                    ? `multipart/form-data; boundary=${b}; boundary=other`
                    : `multipart/form-data; boundary="${b.replace(/"/g, "")}"`;
      return { contentType, body };
    });
}

test("multipart bodies to POST /api/v1/attachments:upload: an attachment or a JSON 4xx", async () => {
  const t = target!;
  await check("multipart upload", 150, [callerArb, multipartArb()], async (caller, mp) => {
    const headers: Record<string, string> = {};
    if (mp.contentType !== undefined) headers["content-type"] = mp.contentType;
    const auth = t.authorization(caller);
    if (auth !== undefined) headers.authorization = auth;
    const r = await rawRequest(t, { method: "POST", path: "/api/v1/attachments:upload", headers, body: mp.body });
    expectRestAnswer(r, `${caller} upload content-type=${JSON.stringify(mp.contentType)} body=${JSON.stringify(mp.body.toString("latin1").slice(0, 400))}`, false);
    if (r.status === 200) expect(JSON.parse(r.body.toString("utf8"))).toHaveProperty("name");
  });
}, TEST_TIMEOUT_MS);

/** Range and conditional headers: single, multiple, negative, overflowing and garbage. */
const rangeArb: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.option(fc.integer({ min: -5, max: 40 }), { nil: undefined }), fc.option(fc.integer({ min: -5, max: 40 }), { nil: undefined })).map(([a, b]) => `bytes=${a ?? ""}-${b ?? ""}`),
  fc.array(fc.tuple(fc.nat(30), fc.nat(30)), { minLength: 2, maxLength: 5 }).map((rs) => `bytes=${rs.map(([a, b]) => `${a}-${b}`).join(",")}`),
  fc.constantFrom(
    "bytes=0-0",
    "bytes=-0",
    "bytes=-1",
    "bytes=0-",
    "bytes=99999999999999999999-",
    "bytes=0-99999999999999999999",
    "bytes=-99999999999999999999",
    "bytes=18446744073709551616-18446744073709551617",
    "bytes=9007199254740993-",
    "bytes=1e3-2e3",
    "bytes=0x10-0x20",
    "bytes= 1 - 2 ",
    "bytes=--1",
    "bytes=1--2",
    "bytes=,,,",
    "bytes=",
    "bytes",
    "BYTES=0-1",
    "items=0-1",
    "bytes=0-1;q=1",
    "bytes=5-2",
    `bytes=${"0-1,".repeat(2000)}0-1`,
  ),
  fc.string({ maxLength: 30 }).map((s) => s.replace(/[^\x20-\x7e]/g, "")),
);

/** A file answer's invariants; `size` is the full body's length when the request asked for the plain bytes (GET). */
function expectFileAnswer(r: RawResponse, size: number | undefined, what: string): void {
  if (r.status >= 500) throw new Error(`server error: ${what} -> ${r.status} ${r.body.toString("utf8").slice(0, 200)}`);
  // 400: `motion=true` on an attachment without a motion clip.
  if (![200, 206, 304, 400, 401, 403, 404, 412, 416].includes(r.status)) throw new Error(`unexpected status: ${what} -> ${r.status}`);
  if (r.status === 206 && size !== undefined) {
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(r.headers["content-range"] ?? ""));
    if (m === null) throw new Error(`206 without a valid Content-Range: ${what} -> ${String(r.headers["content-range"])}`);
    const [start, end, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (!(start <= end && end < total) || r.body.length !== end - start + 1) throw new Error(`206 body does not match ${String(r.headers["content-range"])}: ${what} (${r.body.length} bytes)`);
  }
  if (r.status === 200 && size !== undefined && r.body.length !== size) throw new Error(`200 with ${r.body.length} bytes, expected ${size}: ${what}`);
}

test("Range headers on /file/attachments/...: 200, 206, 304 or 416 with consistent bodies, never 5xx", async () => {
  const t = target!;
  const sizes = new Map<string, number>();
  for (const uid of t.attachmentUids) {
    const full = await rawRequest(t, { method: "GET", path: `/file/attachments/${uid}`, headers: { authorization: t.authorization("user")! } });
    if (full.status === 200) sizes.set(uid, full.body.length);
  }
  const conditional = fc.record(
    {
      "if-range": fc.constantFrom('"x"', "W/\"x\"", "Mon, 01 Jan 2001 00:00:00 GMT", "garbage", ""),
      "if-none-match": fc.constantFrom("*", '"x"', "garbage, ,", ""),
      "if-modified-since": fc.constantFrom("Mon, 01 Jan 2001 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "garbage"),
      "if-match": fc.constantFrom("*", '"nope"'),
      "if-unmodified-since": fc.constantFrom("Mon, 01 Jan 2001 00:00:00 GMT", "garbage"),
    },
    { requiredKeys: [] },
  );
  const query = fc.constantFrom("", "?thumbnail=true", "?motion=true", "?share_token=x", "?thumbnail=1&thumbnail=true", "?%ZZ");
  const uid = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...t.attachmentUids) }, { weight: 1, arbitrary: fc.constantFrom("missing", "%ZZ", "..", "%2e%2e%2fetc", "a".repeat(300)) });
  await check("file ranges", 150, [callerArb, uid, fc.constantFrom("", "/name.txt", "/", "/%ZZ"), query, rangeArb, conditional, fc.constantFrom("GET", "HEAD")], async (caller, id, tail, q, range, cond, method) => {
    const headers: Record<string, string> = { range, ...cond };
    const auth = t.authorization(caller);
    if (auth !== undefined) headers.authorization = auth;
    const path = `/file/attachments/${id}${tail}${q}`;
    const r = await rawRequest(t, { method, path, headers });
    const plain = method === "GET" && (q === "" || q === "?share_token=x" || q === "?%ZZ");
    expectFileAnswer(r, plain ? sizes.get(id) : undefined, `${caller} ${method} ${path.slice(0, 200)} ${JSON.stringify(headers).slice(0, 300)}`);
  });
}, TEST_TIMEOUT_MS);

describe("gRPC over HTTP/2", () => {
  test("a sample of every method with random messages, through createGrpcTransport: never internal/unknown", async () => {
    const t = target!;
    const unimplemented = unimplementedMethods(t);
    const transports = new Map<Caller, ReturnType<typeof createGrpcTransport>>();
    for (const caller of ["anonymous", "user", "admin"] as const) {
      const auth = t.authorization(caller);
      transports.set(caller, createGrpcTransport({
        baseUrl: t.baseUrl,
        interceptors: [(next) => (req) => {
          if (auth !== undefined) req.header.set("authorization", auth);
          return next(req);
        }],
      }));
    }
    const calls = services.flatMap((s) => s.methods.filter((m) => m.methodKind === "unary").map((m): [DescService, DescMethod] => [s, m]));
    const callArb = fc.constantFrom(...calls).chain(([s, m]) => messageArb(m.input, pools).map((msg) => ({ s, m, msg })));
    await check("grpc typed", 150, [callerArb, callArb], async (caller, { s, m, msg }) => {
      t.inputs++;
      const client = createClient(s, transports.get(caller)!) as unknown as Record<string, (req: unknown, opts: unknown) => Promise<unknown>>;
      try {
        await client[m.localName]!(msg, { timeoutMs: REQUEST_DEADLINE_MS });
      } catch (err) {
        const e = ConnectError.from(err);
        const bad = [Code.Internal, Code.Unknown, Code.DataLoss, Code.Unavailable, Code.DeadlineExceeded];
        if (bad.includes(e.code) || (e.code === Code.Unimplemented && !unimplemented.has(m))) {
          throw new Error(`${caller} ${s.typeName}/${m.name} ${JSON.stringify(toBinary(m.input, msg as never).length)} bytes -> ${Code[e.code]}: ${e.message}`);
        }
      }
    });
  }, TEST_TIMEOUT_MS);

  test("raw HTTP/2 frames: mutated envelopes and lengths, never grpc-status 2/13", async () => {
    const t = target!;
    const calls = services.flatMap((s) => s.methods.filter((m) => m.methodKind === "unary").map((m): [DescService, DescMethod] => [s, m]));
    const session = http2.connect(t.baseUrl);
    try {
      const bodyArb = fc.constantFrom(...calls).chain(([s, m]) =>
        fc.tuple(
          fc.constant(`/${s.typeName}/${m.name}`),
          fc.oneof(
            mutatedBinaryArb(m.input, pools).map((b) => Buffer.concat([Buffer.from([0]), u32(b.length), b])),
            mutatedBinaryArb(m.input, pools).map((b) => Buffer.concat([Buffer.from([0]), u32(b.length + 7), b])),
            fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
            fc.tuple(fc.constantFrom(0, 1, 2, 0x80, 0xff), fc.uint8Array({ maxLength: 20 })).map(([flag, b]) => Buffer.concat([Buffer.from([flag]), u32(b.length), b])),
          ),
          fc.constantFrom("application/grpc", "application/grpc+proto", "application/grpc+json", "application/grpc-web"),
          fc.constantFrom<string | undefined>(undefined, "gzip", "identity", "nope"),
        ),
      );
      await check("grpc raw", 100, [callerArb, bodyArb], async (caller, [path, body, contentType, encoding]) => {
        t.inputs++;
        const headers: http2.OutgoingHttpHeaders = { ":method": "POST", ":path": path, "content-type": contentType, te: "trailers" };
        if (encoding !== undefined) headers["grpc-encoding"] = encoding;
        const auth = t.authorization(caller);
        if (auth !== undefined) headers.authorization = auth;
        const answer = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
          const req = session.request(headers);
          let merged: http2.IncomingHttpHeaders = {};
          const timer = setTimeout(() => req.close(http2.constants.NGHTTP2_CANCEL), REQUEST_DEADLINE_MS);
          req.on("response", (h) => (merged = { ...merged, ...h }));
          req.on("trailers", (h) => (merged = { ...merged, ...h }));
          req.on("end", () => {
            clearTimeout(timer);
            resolve(merged);
          });
          req.on("error", (e) => {
            clearTimeout(timer);
            reject(e);
          });
          req.end(body);
          req.resume();
        });
        const status = String(answer["grpc-status"] ?? "");
        const httpStatus = Number(answer[":status"]);
        const what = `${caller} ${path} ${contentType} encoding=${encoding} body=${body.toString("hex").slice(0, 200)} -> http ${httpStatus} grpc-status ${status} ${String(answer["grpc-message"] ?? "")}`;
        if (httpStatus >= 500 || ["2", "13", "15"].includes(status)) throw new Error(what);
      });
    } finally {
      session.close();
    }
  }, TEST_TIMEOUT_MS);
});

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
