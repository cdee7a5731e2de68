/**
 * Fuzzes every Connect method of the generated descriptors (new RPCs are picked up from gen/):
 * random bytes, mutated and plausible binary messages, JSON of plausible and wrong shapes, wrong
 * content types and protocol headers, as an anonymous caller, a user and an admin. No answer may
 * be a 5xx or an `internal`/`unknown` error, every answer must be a well-formed Connect answer,
 * and after each method the server is healthy and has logged no error.
 */
import { gzipSync } from "node:zlib";
import { fromBinary, fromJson, type DescMethod, type DescService } from "@bufbuild/protobuf";
import fc from "fast-check";
import {
  callerArb,
  check,
  CONNECT_CODES,
  deletingLast,
  expectHealthy,
  poolsOf,
  rawRequest,
  startFuzzTarget,
  summary,
  unimplementedMethods,
  type Caller,
  type FuzzTarget,
  type RawResponse,
} from "./support/fuzz.js";
import { generatedServices, mutatedBinaryArb, validBinaryArb, validJsonArb, wrongJsonArb, type Pools } from "./support/proto-arbitrary.js";

/** Per-test limit: one method's property, on a loaded machine. */
const TEST_TIMEOUT_MS = 120_000;

const services = await generatedServices();
const methods = deletingLast(
  services.flatMap((s) => s.methods.filter((m) => m.methodKind === "unary").map((m): [string, DescService, DescMethod] => [`${s.typeName}/${m.name}`, s, m])),
  ([, , m]) => m.name,
);

let target: FuzzTarget | undefined;
let pools: Pools;
let unimplemented: Set<DescMethod>;
const started = Date.now();

beforeAll(async () => {
  target = await startFuzzTarget();
  pools = poolsOf(target);
  unimplemented = unimplementedMethods(target);
}, TEST_TIMEOUT_MS);
afterAll(async () => {
  summary("connect", target, started);
  await target?.t.close();
});

/** One fuzz request to a Connect endpoint. */
interface ConnectInput {
  readonly kind: string;
  /** `GET` carries the message in the query (Connect's GET form), else `POST`. */
  readonly method?: "GET";
  readonly query?: string;
  readonly contentType: string | undefined;
  readonly body: Uint8Array | string;
  readonly headers: Record<string, string>;
}

const SUPPORTED_TYPES = new Set(["application/proto", "application/json"]);

function inputArb(method: DescMethod): fc.Arbitrary<ConnectInput> {
  const input = method.input;
  const proto = (kind: string, body: fc.Arbitrary<Uint8Array>) => body.map((b): ConnectInput => ({ kind, contentType: "application/proto", body: b, headers: {} }));
  const json = (kind: string, body: fc.Arbitrary<string>) => body.map((b): ConnectInput => ({ kind, contentType: "application/json", body: b, headers: {} }));
  return fc.oneof(
    { weight: 2, arbitrary: proto("random bytes", fc.uint8Array({ maxLength: 300 })) },
    { weight: 3, arbitrary: proto("valid binary", validBinaryArb(input, pools)) },
    { weight: 4, arbitrary: proto("mutated binary", mutatedBinaryArb(input, pools)) },
    { weight: 3, arbitrary: json("valid json", validJsonArb(input, pools)) },
    { weight: 4, arbitrary: json("wrong json", wrongJsonArb(input, pools)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 100 }).map((b): ConnectInput => ({ kind: "json bytes", contentType: "application/json", body: b, headers: {} })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            undefined,
            "",
            "text/plain",
            "application/xml",
            "multipart/form-data; boundary=x",
            "application/json; charset=latin1",
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "application/proto; charset=utf-8",
            "application/protobuf",
            "application/connect+proto",
            "application/connect+json",
            "application/grpc",
            "application/grpc+json",
            "application/grpc-web",
            "application/grpc-web-text",
            "application/x-www-form-urlencoded",
            ";;;",
          ),
          fc.oneof(validJsonArb(input, pools), validBinaryArb(input, pools), fc.uint8Array({ maxLength: 64 })),
        )
        .map(([contentType, body]): ConnectInput => ({ kind: "content type", contentType, body, headers: {} })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.record(
            {
              "connect-protocol-version": fc.constantFrom("1", "2", "0", "", "x"),
              "connect-timeout-ms": fc.constantFrom("x", "-1", "1.5", "99999999999", "12345678901", "600000", ""),
              "content-encoding": fc.constantFrom("gzip", "br", "identity", "deflate", "zstd", "gzip, br", "x"),
              "accept-encoding": fc.constantFrom("gzip", "br", "*", "x;q=0", ""),
              "connect-accept-encoding": fc.constantFrom("gzip", "nope"),
            },
            { requiredKeys: [] },
          ),
          fc.boolean(),
          validJsonArb(input, pools),
          fc.uint8Array({ maxLength: 64 }),
        )
        .map(([headers, compress, body, garbage]): ConnectInput => {
          const encoding = headers["content-encoding"];
          const payload = encoding === "gzip" && compress ? gzipSync(body) : encoding !== undefined && encoding !== "identity" && !compress ? garbage : body;
          return { kind: "headers", contentType: "application/json", body: payload, headers };
        }),
    },
    {
      weight: 1,
      arbitrary: fc
        .record({
          message: fc.oneof(validJsonArb(input, pools).map(encodeURIComponent), fc.constantFrom("", "%ZZ", "AAAA", "%00")),
          encoding: fc.constantFrom("json", "proto", "xml", ""),
          base64: fc.constantFrom("", "1", "0", "x"),
          compression: fc.constantFrom("", "gzip", "nope"),
          connect: fc.constantFrom("", "v1", "v2"),
        }, { requiredKeys: [] })
        .map((q): ConnectInput => ({
          kind: "get",
          method: "GET",
          contentType: undefined,
          body: "",
          headers: {},
          query: Object.entries(q).map(([k, v]) => `${k}=${v}`).join("&"),
        })),
    },
  );
}

function describeInput(caller: Caller, input: ConnectInput): string {
  const body = typeof input.body === "string" ? input.body : Buffer.from(input.body).toString("hex");
  return `${caller} ${input.kind}${input.query === undefined ? "" : ` ?${input.query.slice(0, 300)}`} content-type=${JSON.stringify(input.contentType)} headers=${JSON.stringify(input.headers)} body=${body.slice(0, 300)}${body.length > 300 ? `... (${body.length})` : ""}`;
}

/** The Connect answer's invariants (see the file comment). */
function expectConnectAnswer(method: DescMethod, input: ConnectInput, r: RawResponse, what: string): void {
  const text = r.body.toString("utf8");
  const context = `${what} -> ${r.status} ${JSON.stringify(r.headers["content-type"])} ${text.slice(0, 300)}`;
  const type = String(r.headers["content-type"] ?? "");
  const unimplementedOk = unimplemented.has(method) || (input.headers["content-encoding"] !== undefined && !["gzip", "br", "identity"].includes(input.headers["content-encoding"]));
  if (type.startsWith("application/grpc")) {
    // gRPC or gRPC-Web over HTTP/1.1: status in the headers (trailers-only) or in a trailer frame.
    if (r.status !== 200 && r.status !== 415) throw new Error(`gRPC answer with HTTP status: ${context}`);
    let status = r.headers["grpc-status"] as string | undefined;
    if (status === undefined && type.startsWith("application/grpc-web")) status = /grpc-status:\s*(\d+)/i.exec(r.body.toString("latin1"))?.[1];
    if (status !== undefined && ["2", "13", "15"].includes(status)) throw new Error(`gRPC status ${status}: ${context}`);
    // connect-es answers a gRPC body without exactly one message with "protocol error" and 12.
    const protocolError = /^protocol(%20| )error/.test(String(r.headers["grpc-message"] ?? "")) || /grpc-message:\s*protocol(%20| )error/i.test(r.body.toString("latin1"));
    if (status === "12" && !unimplementedOk && !protocolError) throw new Error(`unexpected unimplemented: ${context}`);
    return;
  }
  if (r.status === 200) {
    if (type === "application/proto") fromBinary(method.output, r.body);
    else if (type === "application/json") fromJson(method.output, JSON.parse(text), { ignoreUnknownFields: false });
    else throw new Error(`success with content type ${type}: ${context}`);
    return;
  }
  // Connect's GET form is for methods without side effects only; the others answer 405.
  if (r.status === 405 && input.method === "GET") return;
  if (r.status === 415) {
    const sent = (input.contentType ?? "").toLowerCase();
    if (SUPPORTED_TYPES.has(sent)) throw new Error(`415 for a supported content type: ${context}`);
    return;
  }
  if (r.status >= 500 && !(r.status === 501 && unimplementedOk)) throw new Error(`server error: ${context}`);
  if (!type.startsWith("application/json")) throw new Error(`Connect error is not JSON: ${context}`);
  let body: { code?: unknown; message?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new Error(`Connect error body does not parse: ${context}`);
  }
  if (typeof body.code !== "string" || !CONNECT_CODES.has(body.code)) throw new Error(`bad Connect error code: ${context}`);
  if (body.message !== undefined && typeof body.message !== "string") throw new Error(`bad Connect error message: ${context}`);
  if (["internal", "unknown", "data_loss", "unavailable"].includes(body.code)) throw new Error(`server-side error code: ${context}`);
  if (body.code === "unimplemented" && !unimplementedOk) throw new Error(`unexpected unimplemented: ${context}`);
}

describe.each(methods)("%s", (path, service, method) => {
  test("never a 5xx, always a well-formed answer, server healthy after", async () => {
    const t = target!;
    await check(`connect ${path}`, 16, [callerArb, inputArb(method)], async (caller, input) => {
      const headers: Record<string, string> = { ...input.headers };
      if (input.contentType !== undefined) headers["content-type"] = input.contentType;
      const auth = t.authorization(caller);
      if (auth !== undefined) headers.authorization = auth;
      const httpMethod = input.method ?? "POST";
      const url = `/${service.typeName}/${method.name}${input.query === undefined ? "" : `?${input.query}`}`;
      const what = `${httpMethod} /${service.typeName}/${method.name} ${describeInput(caller, input)}`;
      const r = await rawRequest(t, { method: httpMethod, path: url, headers, body: httpMethod === "GET" ? undefined : input.body });
      expectConnectAnswer(method, input, r, what);
    });
    await expectHealthy(t);
  }, TEST_TIMEOUT_MS);
});
