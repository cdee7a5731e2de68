/**
 * Fuzzes every REST binding of the route table (built from the generated descriptors' http
 * rules, as the server builds it): garbage path segments (bad percent-encoding, dot segments,
 * very long, unicode, control characters), random query parameters, JSON and non-JSON bodies,
 * other HTTP methods. No answer may be a 5xx, every error is the gateway's JSON
 * `{code,message,details}`, and the server is healthy after each binding.
 */
import { connect } from "node:net";
import type { DescField, DescMessage } from "@bufbuild/protobuf";
import fc from "fast-check";
import { collectRoutes, createRouteTable, type RestRoute } from "../../src/server/rest/route-table.js";
import { filterArb } from "./support/cel-arbitrary.js";
import {
  callerArb,
  check,
  deletingLast,
  expectHealthy,
  expectRestAnswer,
  poolsOf,
  rawRequest,
  startFuzzTarget,
  summary,
  unimplementedMethods,
  type FuzzTarget,
} from "./support/fuzz.js";
import { generatedServices, nastyStringArb, validJsonArb, wrongJsonArb, type Pools } from "./support/proto-arbitrary.js";

const TEST_TIMEOUT_MS = 120_000;
/** Node's default limit on the request line plus headers. */
const MAX_HEADER_BYTES = 16 * 1024;

const routes = collectRoutes(await generatedServices());
const table = createRouteTable(routes);
const cases = deletingLast(
  routes.map((r): [string, RestRoute] => [`${r.httpMethod} ${r.template.source}`, r]),
  ([, r]) => `${r.httpMethod} ${r.method.name}`,
);

let target: FuzzTarget | undefined;
let pools: Pools;
let unimplemented: Set<unknown>;
const started = Date.now();

beforeAll(async () => {
  target = await startFuzzTarget();
  pools = poolsOf(target);
  unimplemented = unimplementedMethods(target);
}, TEST_TIMEOUT_MS);
afterAll(async () => {
  summary("rest", target, started);
  await target?.t.close();
});

/**
 * Percent-encodes every UTF-8 byte outside the unreserved characters, so control characters and
 * unicode reach the server as escapes (lone surrogates become U+FFFD, as UTF-8 has no form for them).
 */
function encodeAll(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** One path segment: real ids and names' parts, garbage, and raw broken escapes. */
function segmentArb(): fc.Arbitrary<string> {
  const real = target!.names.flatMap((n) => n.split("/")).filter((s) => s !== "");
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...real) },
    { weight: 3, arbitrary: nastyStringArb.map(encodeAll) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        "..",
        ".",
        "%2e%2e",
        "%2E",
        "%",
        "%Z",
        "%ZZ",
        "%0",
        "%00",
        "%2F",
        "%2f..%2f",
        "%C3%28",
        "%E2%82",
        "%ED%A0%80",
        "%F4%90%80%80",
        "%FF%FE",
        "%01%1F%7F",
        "a%",
        "%%",
        "~",
        ":",
        "::",
        "a:b:c",
        ":batchDelete",
        "*",
        "{name}",
        ";",
        "=",
        "a".repeat(4000),
        "%41".repeat(1000),
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 12 }).map(encodeAll) },
  );
}

/** A path for `route`: the template filled with random segments, sometimes bent out of shape. */
function pathArb(route: RestRoute): fc.Arbitrary<string> {
  const t = route.template;
  const seg = segmentArb();
  // The `api/v1` prefix stays: without it the path is not a REST path at all.
  const parts = t.segments.map((s, i) =>
    s.kind === "literal"
      ? i < 2
        ? fc.constant(s.value)
        : fc.oneof({ weight: 9, arbitrary: fc.constant(s.value) }, { weight: 1, arbitrary: seg })
      : s.kind === "wildcard"
        ? seg
        : fc.array(seg, { minLength: 0, maxLength: 3 }).map((a) => a.join("/")),
  );
  const verb = fc.oneof(
    { weight: 8, arbitrary: fc.constant(t.verb === undefined ? "" : `:${t.verb}`) },
    { weight: 1, arbitrary: fc.constantFrom(":", ":nope", "::", ":%ZZ", `:${t.verb ?? "x"}:${t.verb ?? "y"}`) },
  );
  const tail = fc.oneof({ weight: 9, arbitrary: fc.constant("") }, { weight: 1, arbitrary: fc.constantFrom("/", "//", "/..", "/extra", "/%2e%2e/%2e%2e") });
  return fc.tuple(fc.tuple(...parts), verb, tail).map(([ps, v, tl]) => `/${ps.join("/")}${v}${tl}`);
}

/** Query parameter names: the request's fields (both spellings, nested paths) and garbage. */
function queryKeys(message: DescMessage, prefix = "", depth = 0): string[] {
  const out: string[] = [];
  for (const f of message.fields) {
    out.push(prefix + f.name, prefix + f.jsonName);
    if (f.fieldKind === "message" && depth < 2) out.push(...queryKeys(f.message, `${prefix}${f.jsonName}.`, depth + 1));
  }
  return out;
}

function queryArb(route: RestRoute): fc.Arbitrary<string> {
  const keys = [...new Set(queryKeys(route.method.input))];
  const key = fc.oneof(
    { weight: 4, arbitrary: keys.length > 0 ? fc.constantFrom(...keys) : fc.constant("x") },
    { weight: 1, arbitrary: fc.constantFrom("", "a.b.c", "..", "[]", "filter[]", "__proto__", "constructor", "updateMask", "update_mask", "%ZZ", "pageSize") },
  );
  const value = fc.oneof(
    nastyStringArb.map(encodeAll),
    filterArb.map(encodeAll),
    fc.constantFrom("-1", "0", "1001", "2147483648", "99999999999999999999", "1e3", "true", "false", "NaN", "null", "%", "%ZZ", "%C3%28", "a,b", "*", "NORMAL", "ARCHIVED", "FULL"),
    pools.pageTokens.length > 0 ? fc.constantFrom(...pools.pageTokens).map(encodeAll) : fc.constant(""),
  );
  return fc
    .array(fc.tuple(key, value, fc.boolean()), { maxLength: 5 })
    .map((kvs) => kvs.map(([k, v, bare]) => (bare && v === "" ? k : `${k}=${v}`)).join("&"));
}

/** The message a route's body fills. */
function bodyMessage(route: RestRoute): DescMessage | undefined {
  if (route.body === "") return undefined;
  if (route.body === "*") return route.method.input;
  const f = route.body as DescField;
  return f.message;
}

interface RestInput {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly contentType: string | undefined;
  readonly body: string | Uint8Array | undefined;
}

function inputArb(route: RestRoute): fc.Arbitrary<RestInput> {
  const message = bodyMessage(route);
  const body: fc.Arbitrary<string | Uint8Array | undefined> =
    message === undefined
      ? fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom("{}", "garbage") })
      : fc.oneof(
          { weight: 4, arbitrary: validJsonArb(message, pools) },
          { weight: 4, arbitrary: wrongJsonArb(message, pools) },
          { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
          { weight: 1, arbitrary: fc.constant(undefined) },
        );
  const method = fc.oneof(
    { weight: 9, arbitrary: fc.constant(route.httpMethod) },
    { weight: 1, arbitrary: fc.constantFrom("GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "PROPFIND", "OPTIONS") },
  );
  const contentType = fc.oneof(
    { weight: 8, arbitrary: fc.constant("application/json") },
    { weight: 1, arbitrary: fc.constantFrom(undefined, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b", "application/json; charset=utf-16") },
  );
  return fc.record({ method, path: pathArb(route), query: queryArb(route), contentType, body });
}

describe.each(cases)("%s", (_name, route) => {
  test("never a 5xx, errors are {code,message,details}, server healthy after", async () => {
    const t = target!;
    await check(`rest ${_name}`, 12, [callerArb, inputArb(route)], async (caller, input) => {
      const headers: Record<string, string> = {};
      if (input.contentType !== undefined) headers["content-type"] = input.contentType;
      const auth = t.authorization(caller);
      if (auth !== undefined) headers.authorization = auth;
      const path = `${input.path}${input.query === "" ? "" : `?${input.query}`}`;
      const bodyText = input.body === undefined ? "" : typeof input.body === "string" ? input.body : Buffer.from(input.body).toString("hex");
      const what = `${caller} ${input.method} ${path.slice(0, 400)} content-type=${JSON.stringify(input.contentType)} body=${bodyText.slice(0, 300)}`;
      const r = await rawRequest(t, { method: input.method, path, headers, body: input.body });
      // Node's HTTP parser answers a request line past its 16 KiB header limit itself.
      if (r.status === 431 && path.length > MAX_HEADER_BYTES / 2) return;
      if (input.method === "HEAD" || input.method === "OPTIONS") {
        if (r.status >= 500) throw new Error(`server error: ${what} -> ${r.status}`);
        return;
      }
      // Another HTTP method may reach another binding of the same path (POST .../linkedIdentities).
      const reached = table.match(input.method, input.path)?.route.method;
      expectRestAnswer(r, what, reached !== undefined && unimplemented.has(reached));
      if (r.status === 200) JSON.parse(r.body.toString("utf8"));
    });
    await expectHealthy(t);
  }, TEST_TIMEOUT_MS);
});

test("paths under /api/v1/ that no binding matches: JSON 404/405, never 5xx", async () => {
  const t = target!;
  const seg = segmentArb();
  await check("rest unmatched", 100, [callerArb, fc.array(seg, { minLength: 0, maxLength: 5 }), fc.constantFrom("GET", "POST", "PATCH", "DELETE", "PUT")], async (caller, segs, method) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    const auth = t.authorization(caller);
    if (auth !== undefined) headers.authorization = auth;
    const path = `/api/v1/${segs.join("/")}`;
    const r = await rawRequest(t, { method, path, headers, body: method === "GET" ? undefined : "{}" });
    expectRestAnswer(r, `${caller} ${method} ${path.slice(0, 300)}`, false);
  });
  await expectHealthy(t);
}, TEST_TIMEOUT_MS);

/** Sends raw bytes as a request (for what an HTTP client refuses to send) and reads the status line. */
function rawSocketStatus(port: number, request: Buffer): Promise<number> {
  target!.inputs++;
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1", () => sock.end(request));
    let head = "";
    sock.setTimeout(15_000, () => sock.destroy(new Error("no answer")));
    sock.on("data", (d: Buffer) => {
      head += d.toString("latin1");
    });
    sock.on("error", reject);
    sock.on("close", () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (m === null) reject(new Error(`no status line in ${JSON.stringify(head.slice(0, 200))}`));
      else resolve(Number(m[1]));
    });
  });
}

test("raw control characters, unicode and junk in the request line: a 4xx, never 5xx", async () => {
  const t = target!;
  const junk = fc.string({ unit: "binary", minLength: 1, maxLength: 30 });
  const real = routes.map((r) => r.template.source.replace(/\{[^}]*\}/g, "x"));
  await check("rest raw request line", 60, [fc.constantFrom(...real), junk, fc.constantFrom("GET", "POST", "PATCH")], async (template, garbage, method) => {
    const path = `${template}${garbage}`;
    const request = Buffer.concat([
      Buffer.from(`${method} `, "latin1"),
      Buffer.from(path, "utf8"),
      Buffer.from(` HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`, "latin1"),
    ]);
    const status = await rawSocketStatus(t.port, request);
    if (status >= 500) throw new Error(`server error ${status} for ${JSON.stringify(path)}`);
  });
  await expectHealthy(t);
}, TEST_TIMEOUT_MS);
