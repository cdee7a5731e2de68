// The REST transcoder over a test-only echo service (test/rest/toy-service.ts), served by a real
// node:http server on a loopback port: request building from path, query and body, the JSON
// written back, update-mask inference, gateway errors, headers and the shared interceptor chain.
import http from "node:http";
import { Writable } from "node:stream";
import { create, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { createLogger } from "../../src/logger.js";
import { createLoggingInterceptor } from "../../src/server/interceptors/logging.js";
import { createMetadataInterceptor } from "../../src/server/interceptors/metadata.js";
import { createRecoveryInterceptor } from "../../src/server/interceptors/recovery.js";
import { peerAddressKey } from "../../src/server/request-context.js";
import { createRestHandler } from "../../src/server/rest/rest-handler.js";
import { ToyResponseSchema, ToyService } from "./toy-service.js";

const MAX_BODY = 4096;
const logs: Array<Record<string, unknown>> = [];
let server: http.Server;
let base: string;

type Impl = (req: Message, ctx: HandlerContext) => Promise<Message>;

/** Every implemented method answers what it received, plus what it saw of the context. */
function echo(name: string, extra?: (req: Record<string, unknown>, ctx: HandlerContext) => Record<string, unknown>): Impl {
  return async (req, ctx) => {
    const r = req as unknown as Record<string, unknown> & { updateMask?: { paths: string[] } };
    return create(ToyResponseSchema, {
      request: req,
      maskPaths: r.updateMask?.paths ?? [],
      cookie: ctx.requestHeader.get("cookie") ?? "",
      peer: ctx.values.get(peerAddressKey),
      protocol: ctx.protocolName,
      method: name,
      ...(extra?.(r, ctx) ?? {}),
    } as never);
  };
}

const impl: Record<string, Impl> = {
  getThing: echo("GetThing"),
  createThing: echo("CreateThing", (_r, ctx) => {
    ctx.responseHeader.append("Set-Cookie", "a=1; Path=/");
    ctx.responseHeader.append("Set-Cookie", "b=2; Path=/; HttpOnly");
    ctx.responseHeader.set("X-Toy", "yes");
    return {};
  }),
  updateThing: echo("UpdateThing"),
  // Reads the (lazily created) abort signal: live while the call runs.
  archiveThing: echo("ArchiveThing", (_r, ctx) => ({ protocol: ctx.signal.aborted ? "aborted" : ctx.protocolName })),
  searchThings: echo("SearchThings"),
  specialThing: echo("SpecialThing"),
  thingSpecial: echo("ThingSpecial"),
  getFile: echo("GetFile"),
  getThingOnly: echo("GetThingOnly", (r) => ({ thing: { name: r.name as string, title: "only" } })),
  async fail(req, ctx) {
    const name = (req as unknown as { name: string }).name;
    ctx.responseHeader.append("Set-Cookie", "failed=1; Path=/");
    switch (name) {
      case "not-found":
        throw new ConnectError("thing not found", Code.NotFound);
      case "precondition":
        throw new ConnectError("not now", Code.FailedPrecondition);
      case "unauthenticated":
        throw new ConnectError("token expired", Code.Unauthenticated);
      case "exhausted":
        throw new ConnectError("slow down", Code.ResourceExhausted, { "Retry-After": "3" });
      case "canceled":
        throw new ConnectError("gave up", Code.Canceled);
      default:
        throw new Error("boom: secret detail");
    }
  },
};

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger("info", sink);
  const rest = createRestHandler({
    services: [{ service: ToyService, impl: impl as never }],
    interceptors: [createMetadataInterceptor(), createLoggingInterceptor(logger), createRecoveryInterceptor(logger)],
    maxBodyBytes: MAX_BODY,
    prefix: "/v1/",
    logger,
  });
  server = http.createServer((req, res) => {
    void rest(req, res).then((done) => {
      if (!done) {
        res.statusCode = 418;
        res.end("not mine");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] ??= "application/json";
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** The request message the service received, as JSON. */
async function echoed(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const a = await call(method, path, body);
  expect(a.status).toBe(200);
  return a.json.request as Record<string, unknown>;
}

describe("query parameters", () => {
  test("every field kind, by JSON or proto name, converts to the field's type", async () => {
    const q = new URLSearchParams([
      ["page_size", "25"],
      ["big", "9007199254740993"],
      ["ubig", "18446744073709551615"],
      ["flag", "true"],
      ["color", "GREEN"],
      ["colors", "RED"],
      ["colors", "2"],
      ["tags", "a"],
      ["tags", "b c"],
      ["nums", "1"],
      ["nums", "-2"],
      ["at", "2024-05-01T10:00:00Z"],
      ["ttl", "1.5s"],
      ["inner.label", "x"],
      ["inner.count", "3"],
      ["inner.deep.x", "y"],
      ["ratio", "0.25"],
      ["blob", "AQID"],
      ["maybe", "here"],
      ["wrapped", "false"],
      ["unknownParam", "ignored"],
      ["inner.unknown", "ignored"],
    ]);
    const r = await echoed("GET", `/v1/things/t1?${q}`);
    expect(r).toEqual({
      name: "things/t1",
      pageSize: 25,
      big: "9007199254740993",
      ubig: "18446744073709551615",
      flag: true,
      color: "GREEN",
      colors: ["RED", "GREEN"],
      tags: ["a", "b c"],
      nums: [1, -2],
      at: "2024-05-01T10:00:00Z",
      ttl: "1.500s", // proto3 JSON writes 0, 3, 6 or 9 fractional digits
      inner: { label: "x", count: 3, deep: { x: "y" } },
      ratio: 0.25,
      blob: "AQID",
      maybe: "here",
      wrapped: false,
      labels: {},
      path: "",
    });
  });

  test("JSON names work as well as proto names; enums by number; bools in strconv forms", async () => {
    const r = await echoed("GET", "/v1/things/t1?pageSize=7&color=1&flag=T");
    expect(r).toMatchObject({ pageSize: 7, color: "RED", flag: true });
    expect((await echoed("GET", "/v1/things/t1?flag=0")).flag).toBe(false);
  });

  test("a FieldMask is a comma list used verbatim (snake_case stays snake_case)", async () => {
    const a = await call("GET", "/v1/things/t1?updateMask=content,update_time,inner.label");
    expect(a.json.maskPaths).toEqual(["content", "update_time", "inner.label"]);
    const b = await call("GET", "/v1/things/t1?update_mask=title");
    expect(b.json.maskPaths).toEqual(["title"]);
  });

  test("bad values are 400 naming the parameter or field", async () => {
    const bool = await call("GET", "/v1/things/t1?flag=yes");
    expect(bool.status).toBe(400);
    expect(bool.json).toEqual({ code: 3, message: expect.stringContaining("flag"), details: [] });
    const int = await call("GET", "/v1/things/t1?page_size=abc");
    expect(int.status).toBe(400);
    expect(int.json.message).toMatch(/pageSize|page_size/);
    const time = await call("GET", "/v1/things/t1?at=yesterday");
    expect(time.status).toBe(400);
    expect(time.json.message).toContain('"at"');
    const twice = await call("GET", "/v1/things/t1?page_size=1&page_size=2");
    expect(twice.status).toBe(400);
    expect(twice.json.message).toContain("too many values");
    const message = await call("GET", "/v1/things/t1?inner=x");
    expect(message.status).toBe(400);
  });

  test("path variables win over query parameters for the same field", async () => {
    expect((await echoed("GET", "/v1/things/t1?name=other")).name).toBe("things/t1");
  });
});

describe("templates", () => {
  test("additional bindings, custom verbs, ** paths, literal segments and response_body", async () => {
    expect((await call("GET", "/v1/shelves/s1/things/t2")).json).toMatchObject({ method: "GetThing", request: { name: "shelves/s1/things/t2" } });
    expect((await call("POST", "/v1/things/t3:archive")).json).toMatchObject({ method: "ArchiveThing", protocol: "rest", request: { name: "things/t3" } });
    expect((await call("GET", "/v1/things:search?tags=x")).json).toMatchObject({ method: "SearchThings", request: { tags: ["x"] } });
    expect((await call("GET", "/v1/files/a/b/c.txt")).json).toMatchObject({ method: "GetFile", request: { path: "a/b/c.txt" } });
    // The literal "-" wins over the wildcard in {name=things/*}/special.
    expect((await call("GET", "/v1/things/-/special")).json).toMatchObject({ method: "SpecialThing", request: { name: "" } });
    expect((await call("GET", "/v1/things/t4/special")).json).toMatchObject({ method: "ThingSpecial", request: { name: "things/t4" } });
    const only = await call("GET", "/v1/things/t5/thing");
    expect(only.json).toEqual({ name: "things/t5", title: "only", count: 0, items: [] });
  });

  test("path values are percent-decoded, an encoded / stays encoded, and * never spans segments", async () => {
    expect((await echoed("GET", "/v1/things/caf%C3%A9%20x")).name).toBe("things/café x");
    expect((await echoed("GET", "/v1/things/a%2Fb")).name).toBe("things/a%2Fb");
    expect((await call("GET", "/v1/things/a/b")).status).toBe(404);
    expect((await call("GET", "/v1/things/%E0%A4%A")).status).toBe(400);
  });
});

describe("bodies", () => {
  test('body "*": the whole request, JSON or proto names, unknown keys ignored, path still wins', async () => {
    const r = await echoed("POST", "/v1/things", {
      name: "from-body",
      page_size: 3,
      tags: ["x"],
      thing: { title: "t", when: "2024-01-02T03:04:05.500Z" },
      nobody: { knows: 1 },
    });
    expect(r).toMatchObject({ name: "from-body", pageSize: 3, tags: ["x"], thing: { title: "t", when: "2024-01-02T03:04:05.500Z" } });
    // With body "*" the query is not read.
    expect((await echoed("POST", "/v1/things?pageSize=9", { pageSize: 1 })).pageSize).toBe(1);
  });

  test("a named body fills that field; the query fills the others but not the body's; the path overrides the body", async () => {
    const a = await call("PATCH", "/v1/things/t1?pageSize=4&thing.title=ignored&updateMask=title", { name: "things/other", title: "new", count: 2 });
    expect(a.status).toBe(200);
    expect(a.json.request).toMatchObject({ pageSize: 4, thing: { name: "things/t1", title: "new", count: 2 } });
    expect(a.json.maskPaths).toEqual(["title"]);
  });

  test("no body: a body sent anyway is not read", async () => {
    const a = await call("POST", "/v1/things/t1:archive", "{not json");
    expect(a.status).toBe(200);
  });

  test("an empty body is an empty message", async () => {
    expect(await echoed("POST", "/v1/things", "")).toMatchObject({ name: "", pageSize: 0 });
  });

  test("malformed JSON and wrong types are 400; the message names the field", async () => {
    const bad = await call("POST", "/v1/things", "{bad");
    expect(bad.status).toBe(400);
    expect(bad.headers.get("content-type")).toBe("application/json");
    expect(bad.json).toEqual({ code: 3, message: expect.stringContaining("malformed JSON"), details: [] });
    const type = await call("PATCH", "/v1/things/t1?updateMask=count", { count: "many" });
    expect(type.status).toBe(400);
    expect(type.json.message).toContain("thing.count");
    const nested = await call("POST", "/v1/things", { thing: { when: "not a time" } });
    expect(nested.status).toBe(400);
    expect(nested.json.message).toContain("thing.when");
    const notObject = await call("POST", "/v1/things", [1, 2]);
    expect(notObject.status).toBe(400);
  });
});

describe("update mask inference (PATCH with a body field and update_mask)", () => {
  test("without updateMask in the query, the mask is the body's top-level keys as proto names, sorted", async () => {
    const a = await call("PATCH", "/v1/things/t1", { title: "x", count: 1, inner: { label: "l", deep: { x: "y" } }, name: "things/t1" });
    expect(a.json.maskPaths).toEqual(["count", "inner", "name", "title"]);
    const b = await call("PATCH", "/v1/things/t1", { items: [] });
    expect(b.json.maskPaths).toEqual(["items"]);
  });

  test("an explicit updateMask replaces the inferred one; an empty body infers an empty mask", async () => {
    expect((await call("PATCH", "/v1/things/t1?updateMask=count", { title: "x", count: 1 })).json.maskPaths).toEqual(["count"]);
    expect((await call("PATCH", "/v1/things/t1", "")).json.maskPaths).toEqual([]);
  });

  test("a body key that is not a field fails with 400, even with an explicit mask", async () => {
    const a = await call("PATCH", "/v1/things/t1", { title: "x", bogus: 1 });
    expect(a.status).toBe(400);
    expect(a.json).toMatchObject({ code: 3, message: expect.stringContaining("bogus") });
    expect((await call("PATCH", "/v1/things/t1?updateMask=title", { bogus: 1 })).status).toBe(400);
  });

  test("proto names in the body give the same mask", async () => {
    expect((await call("PATCH", "/v1/things/t1", { when: "2024-01-01T00:00:00Z", count: 1 })).json.maskPaths).toEqual(["count", "when"]);
  });
});

describe("response JSON (spec §1.2)", () => {
  test("defaults emitted, empty lists as [], unset messages and optionals omitted, int64 as strings, enums by name", async () => {
    const a = await call("GET", "/v1/things/t1");
    expect(a.headers.get("content-type")).toBe("application/json");
    expect(a.json.request).toEqual({
      name: "things/t1",
      pageSize: 0,
      big: "0",
      ubig: "0",
      flag: false,
      color: "COLOR_UNSPECIFIED",
      tags: [],
      nums: [],
      ratio: 0,
      blob: "",
      colors: [],
      labels: {},
      path: "",
    });
    expect(a.json).not.toHaveProperty("thing");
    expect(a.json.protocol).toBe("rest");
  });
});

describe("errors", () => {
  test("unknown path under the prefix: 404 with the gateway body", async () => {
    const a = await call("GET", "/v1/nothing/here");
    expect(a.status).toBe(404);
    expect(a.headers.get("content-type")).toBe("application/json");
    expect(a.json).toEqual({ code: 5, message: "Not Found", details: [] });
  });

  test("paths outside the prefix are left to the next handler", async () => {
    const res = await fetch(base + "/elsewhere");
    expect(res.status).toBe(418);
  });

  test("known path, wrong method: 405 with Allow and code 12", async () => {
    const a = await call("PUT", "/v1/things/t1");
    expect(a.status).toBe(405);
    expect(a.headers.get("allow")).toBe("DELETE, GET, PATCH");
    expect(a.json).toEqual({ code: 12, message: "Method Not Allowed", details: [] });
  });

  test("a method without implementation: 501 unimplemented", async () => {
    const a = await call("DELETE", "/v1/things/t1");
    expect(a.status).toBe(501);
    expect(a.json).toEqual({ code: 12, message: "rest.test.v1.ToyService.NotBuilt is not implemented", details: [] });
  });

  test.each([
    ["not-found", 404, Code.NotFound, "thing not found"],
    ["precondition", 400, Code.FailedPrecondition, "not now"],
    ["exhausted", 429, Code.ResourceExhausted, "slow down"],
    ["canceled", 499, Code.Canceled, "gave up"],
    ["crash", 500, Code.Internal, "internal server error"],
  ])("service error %s: HTTP %i, code %i, and headers set before the error are still sent", async (name, status, code, message) => {
    const a = await call("POST", "/v1/fail", { name });
    expect(a.status).toBe(status);
    expect(a.json).toEqual({ code, message, details: [] });
    expect(a.headers.getSetCookie()).toEqual(["failed=1; Path=/"]);
    if (name === "exhausted") expect(a.headers.get("retry-after")).toBe("3");
  });

  test("unauthenticated from a service: 401 with WWW-Authenticate", async () => {
    const a = await call("POST", "/v1/fail", { name: "unauthenticated" });
    expect(a.status).toBe(401);
    expect(a.headers.get("www-authenticate")).toBe("Bearer");
    expect(a.json).toEqual({ code: 16, message: "token expired", details: [] });
  });

  test("body over the cap: 413 with Content-Length (not read) and when streamed (stops reading)", async () => {
    const big = JSON.stringify({ name: "x".repeat(MAX_BODY) });
    const a = await call("POST", "/v1/things", big);
    expect(a.status).toBe(413);
    expect(a.json).toEqual({ code: 8, message: `request body larger than ${MAX_BODY} bytes`, details: [] });

    // Chunked, no Content-Length: the cap is enforced while reading.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(base + "/v1/things", { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      let sent = 0;
      const pump = () => {
        while (sent < MAX_BODY * 4) {
          sent += 1024;
          if (!req.write("x".repeat(1024))) return void req.once("drain", pump);
        }
        req.end();
      };
      pump();
    });
    expect(status).toBe(413);
    // The server keeps serving.
    expect((await call("GET", "/v1/things/t1")).status).toBe(200);
  });
});

describe("headers and context", () => {
  test("Set-Cookie set by a service becomes real headers; Cookie is visible to the service", async () => {
    const a = await call("POST", "/v1/things", {}, { cookie: "memos_refresh=abc; other=1" });
    expect(a.status).toBe(200);
    expect(a.headers.getSetCookie()).toEqual(["a=1; Path=/", "b=2; Path=/; HttpOnly"]);
    expect(a.headers.get("x-toy")).toBe("yes");
    expect(a.headers.has("grpc-metadata-set-cookie")).toBe(false);
    expect(a.json.cookie).toBe("memos_refresh=abc; other=1");
  });

  test("the peer address is in the context values, and the metadata interceptor's no-cache headers are sent", async () => {
    const a = await call("GET", "/v1/things/t1");
    expect(a.json.peer).toMatch(/127\.0\.0\.1$/);
    expect(a.headers.get("cache-control")).toBe("no-cache, no-store, must-revalidate");
  });

  test("form POST to a GET-only path is served as that GET, form fields as query parameters", async () => {
    const a = await call("POST", "/v1/things/t1?tags=q", "pageSize=6&tags=f", { "content-type": "application/x-www-form-urlencoded" });
    expect(a.status).toBe(200);
    expect(a.json).toMatchObject({ method: "GetThing", request: { name: "things/t1", pageSize: 6, tags: ["f", "q"] } });
    // Without the form content type it is an ordinary 405.
    expect((await call("POST", "/v1/things/t1", "pageSize=6", { "content-type": "text/plain" })).status).toBe(405);
  });

  test("one log line per call, from the shared logging interceptor", async () => {
    const before = logs.length;
    await call("GET", "/v1/things/t9");
    await call("POST", "/v1/fail", { name: "not-found" });
    const lines = logs.slice(before).filter((l) => l.msg === "call");
    expect(lines).toEqual([
      expect.objectContaining({ procedure: "/rest.test.v1.ToyService/GetThing", code: "ok" }),
      expect.objectContaining({ procedure: "/rest.test.v1.ToyService/Fail", code: "not_found" }),
    ]);
    expect(logs.slice(before)).toHaveLength(2);
  });
});
