// REST against the real app over real sockets: every binding of every registered service is
// reached (table-driven from the descriptors, so a new RPC cannot be missed), the shared auth
// gate answers anonymous callers, CORS covers /api/v1, and the OpenAPI document validates.
import http2 from "node:http2";
import { Validator } from "@seriousme/openapi-schema-validator";
import { methodAccess } from "../../src/auth/access-policy.js";
import { createIdentityResolver } from "../../src/auth/identity.js";
import { collectRoutes, type RestRoute } from "../../src/server/rest/route-table.js";
import { startTestApp, type TestApp } from "../support/app.js";

const TOKEN = "test-token";
let t: TestApp;
let routes: RestRoute[];

beforeAll(async () => {
  t = await startTestApp(
    {},
    {
      identityResolver: createIdentityResolver({
        accessToken: async (token) => (token === TOKEN ? { userId: 1, via: "access-token" } : undefined),
      }),
    },
  );
  routes = collectRoutes(t.app.services.map((s) => s.service));
});

afterAll(async () => {
  await t?.close();
});

/** A concrete path for a binding: literals kept, `*` -> a sample id, `**` -> two segments. */
function samplePath(route: RestRoute): string {
  const segs = route.template.segments.map((s, i) => (s.kind === "literal" ? s.value : s.kind === "wildcard" ? `x${i}` : "a/b"));
  return "/" + segs.join("/") + (route.template.verb === undefined ? "" : `:${route.template.verb}`);
}

function procedure(route: RestRoute): string {
  return `/${route.service.typeName}/${route.method.name}`;
}

function isImplemented(route: RestRoute): boolean {
  const reg = t.app.services.find((s) => s.service === route.service)!;
  return typeof (reg.impl as Record<string, unknown>)[route.method.localName] === "function";
}

async function send(route: RestRoute, authorized: boolean) {
  const headers: Record<string, string> = {};
  if (authorized) headers.authorization = `Bearer ${TOKEN}`;
  if (route.body !== "") headers["content-type"] = "application/json";
  const before = t.logs.length;
  const res = await fetch(t.baseUrl + samplePath(route), {
    method: route.httpMethod,
    headers,
    ...(route.body === "" ? {} : { body: "{}" }),
  });
  const text = await res.text();
  const calls = t.logs.slice(before).filter((l) => l.msg === "call");
  return { res, body: JSON.parse(text) as { code?: number; message?: string }, calls };
}

describe("every binding of every service", () => {
  test("the table is the whole API (72+ bindings over 7 services)", () => {
    expect(new Set(routes.map((r) => r.service.typeName)).size).toBe(t.app.services.length);
    expect(routes.length).toBeGreaterThanOrEqual(72);
  });

  test("authenticated: each binding reaches its own RPC through the interceptor chain", async () => {
    for (const route of routes) {
      const { res, body, calls } = await send(route, true);
      const what = `${route.httpMethod} ${samplePath(route)} (${route.method.name})`;
      // One log line, for this RPC: the request went through the chain to the implementation.
      expect({ what, procedures: calls.map((c) => c.procedure) }).toEqual({ what, procedures: [procedure(route)] });
      expect({ what, type: res.headers.get("content-type") }).toEqual({ what, type: "application/json" });
      if (!isImplemented(route)) {
        expect({ what, status: res.status, body }).toEqual({
          what,
          status: 501,
          body: { code: 12, message: `${route.service.typeName}.${route.method.name} is not implemented`, details: [] },
        });
      } else {
        // Past the gate (a service may still answer 401 itself, e.g. for a user that does not exist).
        expect({ what, message: body.message }).not.toEqual({ what, message: "authentication required" });
      }
    }
  });

  test("anonymous: protected and (on a private instance) public methods get 401 from the one gate; bootstrap ones pass", async () => {
    for (const route of routes) {
      const { res, body, calls } = await send(route, false);
      const what = `${route.httpMethod} ${samplePath(route)} (${route.method.name})`;
      expect({ what, procedures: calls.map((c) => c.procedure) }).toEqual({ what, procedures: [procedure(route)] });
      if (methodAccess(procedure(route)) === "bootstrap") {
        expect({ what, message: body.message }).not.toEqual({ what, message: "authentication required" });
        if (!isImplemented(route)) expect({ what, status: res.status }).toEqual({ what, status: 501 });
      } else {
        expect({ what, status: res.status, code: body.code, challenge: res.headers.get("www-authenticate") }).toEqual({
          what,
          status: 401,
          code: 16,
          challenge: "Bearer",
        });
      }
    }
  });

  test("GetInstanceProfile answers 200 with gateway JSON", async () => {
    const res = await fetch(t.baseUrl + "/api/v1/instance/profile");
    expect(res.status).toBe(200);
    const json = (await res.json()) as Record<string, unknown>;
    expect(json).toMatchObject({ version: expect.any(String), demo: false, instanceUrl: "", commit: "", accessMode: "INSTANCE_ACCESS_MODE_PRIVATE" });
    expect(json).not.toHaveProperty("admin");
  });

  test("REST over HTTP/2 (h2c on the same port) answers the same", async () => {
    const session = http2.connect(t.baseUrl);
    try {
      const { status, type, body } = await new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
        const stream = session.request({ ":method": "GET", ":path": "/api/v1/instance/profile" });
        let status = 0;
        let type = "";
        let body = "";
        stream.on("response", (h) => {
          status = Number(h[":status"]);
          type = String(h["content-type"]);
        });
        stream.setEncoding("utf8");
        stream.on("data", (c: string) => (body += c));
        stream.on("end", () => resolve({ status, type, body }));
        stream.on("error", reject);
      });
      expect(status).toBe(200);
      expect(type).toBe("application/json");
      expect(JSON.parse(body)).toMatchObject({ accessMode: "INSTANCE_ACCESS_MODE_PRIVATE" });
    } finally {
      session.close();
    }
  });

  test("form POST fallback: POST /api/v1/instance/profile with an empty form body is served as the GET (spec §1.2)", async () => {
    const res = await fetch(t.baseUrl + "/api/v1/instance/profile", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accessMode: "INSTANCE_ACCESS_MODE_PRIVATE" });
  });

  test("routing errors under /api/v1: 404 and 405 in the gateway's shape; other paths keep the plain 404", async () => {
    const nf = await fetch(t.baseUrl + "/api/v1/no/such/thing");
    expect(nf.status).toBe(404);
    expect(await nf.json()).toEqual({ code: 5, message: "Not Found", details: [] });
    const na = await fetch(t.baseUrl + "/api/v1/memos/abc", { method: "PUT" });
    expect(na.status).toBe(405);
    expect(na.headers.get("allow")).toBe("DELETE, GET, PATCH");
    expect(await na.json()).toEqual({ code: 12, message: "Method Not Allowed", details: [] });
    const other = await fetch(t.baseUrl + "/nothing-here");
    expect(other.status).toBe(404);
    expect(await other.text()).toBe("Not Found");
  });
});

describe("CORS on REST (spec §1.8)", () => {
  test("preflight for an /api/v1 path: 204, methods, requested headers echoed", async () => {
    const res = await fetch(t.baseUrl + "/api/v1/memos/abc", {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "PATCH", "access-control-request-headers": "authorization, content-type" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(res.headers.get("access-control-allow-methods")).toBe("GET, HEAD, PUT, PATCH, POST, DELETE");
    expect(res.headers.get("access-control-allow-headers")).toBe("authorization, content-type");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
  });

  test("actual requests, answers and errors alike, carry the CORS headers; same-host origins get credentials", async () => {
    const ok = await fetch(t.baseUrl + "/api/v1/instance/profile", { headers: { origin: "https://app.example" } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(ok.headers.get("access-control-expose-headers")).toContain("WWW-Authenticate");
    const denied = await fetch(t.baseUrl + "/api/v1/auth/me", { headers: { origin: t.baseUrl } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get("access-control-allow-origin")).toBe(t.baseUrl);
    expect(denied.headers.get("access-control-allow-credentials")).toBe("true");
    const nullOrigin = await fetch(t.baseUrl + "/api/v1/instance/profile", { headers: { origin: "null" } });
    expect(nullOrigin.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("OpenAPI document", () => {
  let doc: {
    openapi: string;
    paths: Record<string, Record<string, { operationId: string; parameters?: Array<{ name: string; in: string }>; security: unknown[] }>>;
    components: { schemas: Record<string, { type?: string; properties?: Record<string, Record<string, unknown>>; description?: string; enum?: string[]; required?: string[] }> };
  };

  beforeAll(async () => {
    const res = await fetch(t.baseUrl + "/api/v1/openapi.json"); // public: no Authorization
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    doc = (await res.json()) as typeof doc;
  });

  test("is a valid OpenAPI 3.1 document whose references all resolve", async () => {
    const validator = new Validator();
    // resolveRefs() dereferences in place: validate a copy.
    const result = await validator.validate(structuredClone(doc) as never);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    expect(() => validator.resolveRefs()).not.toThrow();
  });

  test("has one operation per binding, with path and query parameters", () => {
    const ops = Object.values(doc.paths).flatMap((item) => Object.values(item));
    for (const route of routes) {
      const id = `${route.service.name}_${route.method.name}${route.bindingIndex === 0 ? "" : route.bindingIndex + 1}`;
      expect(ops.map((o) => o.operationId)).toContain(id);
    }
    const getMemo = doc.paths["/api/v1/memos/{memo}"]!.get!;
    expect(getMemo.parameters).toEqual([expect.objectContaining({ name: "memo", in: "path" })]);
    const listMemos = doc.paths["/api/v1/memos"]!.get!;
    expect(listMemos.parameters!.map((p) => p.name)).toEqual(expect.arrayContaining(["pageSize", "pageToken", "filter"]));
    expect(listMemos.security).toEqual([{}, { bearerAuth: [] }]);
    expect(doc.paths["/api/v1/users/{user}:getStats"]!.get!.operationId).toBe("UserService_GetUserStats");
    expect(doc.paths["/api/v1/auth/me"]!.get!.security).toEqual([{ bearerAuth: [] }]);
  });

  test("schemas use proto3 JSON forms and carry proto comments", () => {
    const s = doc.components.schemas;
    const memo = s["memos.api.v1.Memo"]!;
    expect(memo.description).toBeTruthy();
    expect(memo.properties!.createTime).toMatchObject({ type: "string", format: "date-time" });
    expect(memo.properties!.visibility).toMatchObject({ $ref: "#/components/schemas/memos.api.v1.Visibility" });
    expect(memo.properties!.tags).toMatchObject({ type: "array", items: { type: "string" } });
    expect(s["memos.api.v1.Visibility"]).toMatchObject({ type: "string", enum: expect.arrayContaining(["PUBLIC", "PRIVATE"]) });
    expect(s["memos.api.v1.Attachment"]!.properties!.size).toMatchObject({ type: "string", format: "int64" });
    // No message lists required fields: optionals and unset messages are omitted on the wire.
    expect(Object.entries(s).filter(([name, v]) => v.required !== undefined && name !== "memos.api.v1.Status")).toEqual([]);
    const maps = Object.values(s).flatMap((v) => Object.values(v.properties ?? {})).filter((p) => p.type === "object" && p.additionalProperties !== undefined);
    expect(maps.length).toBeGreaterThan(0);
    const oneofNotes = Object.values(s).filter((v) => v.description?.includes("Oneof `"));
    expect(oneofNotes.length).toBeGreaterThan(0);
  });
});
