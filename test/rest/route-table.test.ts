// Path templates and the route matcher, on the real memos.api.v1 bindings and on small
// hand-made tables.
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { AttachmentService } from "../../gen/memos/api/v1/attachment_service_pb.js";
import { AuthService } from "../../gen/memos/api/v1/auth_service_pb.js";
import { IdentityProviderService } from "../../gen/memos/api/v1/idp_service_pb.js";
import { InstanceService } from "../../gen/memos/api/v1/instance_service_pb.js";
import { MemoService } from "../../gen/memos/api/v1/memo_service_pb.js";
import { MemoViewService } from "../../gen/memos/api/v1/memo_view_service_pb.js";
import { UserService } from "../../gen/memos/api/v1/user_service_pb.js";
import { formatPathTemplate, parsePathTemplate } from "../../src/server/rest/path-template.js";
import { collectRoutes, createRouteTable, RouteDefinitionError, type RestRoute } from "../../src/server/rest/route-table.js";

const SERVICES = [AttachmentService, AuthService, IdentityProviderService, InstanceService, MemoService, MemoViewService, UserService];

describe("parsePathTemplate", () => {
  test("variables with nested field paths and multi-segment patterns", () => {
    const t = parsePathTemplate("/api/v1/{memo.name=memos/*}");
    expect(t.segments).toEqual([
      { kind: "literal", value: "api" },
      { kind: "literal", value: "v1" },
      { kind: "literal", value: "memos" },
      { kind: "wildcard" },
    ]);
    expect(t.variables).toEqual([{ fieldPath: ["memo", "name"], start: 2, end: 4, segments: t.segments.slice(2) }]);
    expect(t.verb).toBeUndefined();
  });

  test("a bare {var} is {var=*}; ** captures the rest; verbs follow the last segment", () => {
    expect(parsePathTemplate("/v1/shares/{share_token}/memo").variables[0]).toMatchObject({ fieldPath: ["share_token"], start: 2, end: 3 });
    const deep = parsePathTemplate("/v1/{path=files/**}");
    expect(deep.segments.at(-1)).toEqual({ kind: "deep" });
    const verb = parsePathTemplate("/api/v1/{name=users/*}:getStats");
    expect(verb.verb).toBe("getStats");
    expect(verb.variables[0]).toMatchObject({ fieldPath: ["name"], start: 2, end: 4 });
    expect(parsePathTemplate("/api/v1/users:stats")).toMatchObject({ verb: "stats", segments: [{ value: "api" }, { value: "v1" }, { value: "users" }] });
    expect(parsePathTemplate("/api/v1/memos/-/linkMetadata:batchGet").segments[3]).toEqual({ kind: "literal", value: "-" });
  });

  test("round-trips through formatPathTemplate", () => {
    for (const s of ["/api/v1/{name=memos/*/reactions/*}", "/v1/{path=**}:x", "/a/*/b"]) {
      expect(formatPathTemplate(parsePathTemplate(s))).toBe(s);
    }
  });

  test.each([
    ["api/v1/x", "must start with /"],
    ["/v1/{name=memos/*", "unbalanced"],
    ["/v1/{a={b}}", "nested"],
    ["/v1/**/x", "** must be the last"],
    ["/v1/{1bad}", "invalid field path"],
    ["/v1/{a}/{a}", "bound twice"],
    ["/v1/x:", "invalid verb"],
    ["/v1//x", "invalid segment"],
  ])("rejects %s", (template, reason) => {
    expect(() => parsePathTemplate(template)).toThrow(reason);
  });
});

describe("the memos.api.v1 route table", () => {
  const routes = collectRoutes(SERVICES);
  const table = createRouteTable(routes);

  test("every rule and additional binding of every service is a route", () => {
    const methods = SERVICES.flatMap((s) => s.methods);
    expect(new Set(routes.map((r) => r.method))).toEqual(new Set(methods));
  });

  test.each([
    ["GET", "/api/v1/instance/profile", "GetInstanceProfile", []],
    ["GET", "/api/v1/memos/abc", "GetMemo", ["memos/abc"]],
    ["PATCH", "/api/v1/memos/abc", "UpdateMemo", ["memos/abc"]],
    ["DELETE", "/api/v1/memos/abc", "DeleteMemo", ["memos/abc"]],
    ["GET", "/api/v1/memos", "ListMemos", []],
    ["POST", "/api/v1/memos", "CreateMemo", []],
    ["GET", "/api/v1/memos/-/linkMetadata", "GetLinkMetadata", []],
    ["POST", "/api/v1/memos/-/linkMetadata:batchGet", "BatchGetLinkMetadata", []],
    ["DELETE", "/api/v1/memos/m1/reactions/42", "DeleteMemoReaction", ["memos/m1/reactions/42"]],
    ["GET", "/api/v1/users:stats", "ListAllUserStats", []],
    ["GET", "/api/v1/users/alice:getStats", "GetUserStats", ["users/alice"]],
    ["GET", "/api/v1/users/alice", "GetUser", ["users/alice"]],
    ["POST", "/api/v1/users:batchGet", "BatchGetUsers", []],
    ["POST", "/api/v1/attachments:batchDelete", "BatchDeleteAttachments", []],
    ["GET", "/api/v1/users/alice/webhooks/w1:getSigningSecret", "GetUserWebhookSigningSecret", ["users/alice/webhooks/w1"]],
    ["POST", "/api/v1/instance/settings/notification:testEmail", "TestInstanceEmailSetting", []],
    // A ':' in a segment that no verb route claims is part of the value.
    ["GET", "/api/v1/instance/settings/notification:testEmail", "GetInstanceSetting", ["instance/settings/notification:testEmail"]],
    ["GET", "/api/v1/shares/tok123/memo", "GetSharedMemo", ["tok123"]],
    ["GET", "/api/v1/users/alice/settings/GENERAL", "GetUserSetting", ["users/alice/settings/GENERAL"]],
  ])("%s %s -> %s", (method, path, name, values) => {
    const r = table.lookup(method, path);
    expect(r.kind).toBe("match");
    if (r.kind !== "match") return;
    expect(r.match.route.method.name).toBe(name);
    expect(r.match.values).toEqual(values);
  });

  test("wrong method: the methods that would match; unknown: not found", () => {
    expect(table.lookup("PUT", "/api/v1/memos/abc")).toEqual({ kind: "method-not-allowed", allowed: ["DELETE", "GET", "PATCH"] });
    expect(table.lookup("POST", "/api/v1/instance/profile")).toEqual({ kind: "method-not-allowed", allowed: ["GET"] });
    expect(table.lookup("GET", "/api/v1/nothing")).toEqual({ kind: "not-found" });
    expect(table.lookup("GET", "/api/v1/memos/")).toEqual({ kind: "not-found" });
    expect(table.lookup("GET", "/api/v1/memos/a/b/c/d/e")).toEqual({ kind: "not-found" });
    expect(table.lookup("GET", "/api/v1/users/alice:unknownVerb").kind).toBe("match"); // GetUser with name "users/alice:unknownVerb"
    expect(table.lookup("GET", "/api/v1/memos/%zz")).toEqual({ kind: "bad-path" });
  });
});

describe("precedence in hand-made tables", () => {
  const method = (name: string) => ({ name, input: MemoService.method.getMemo.input }) as unknown as DescMethod;
  const route = (httpMethod: string, template: string, name: string): RestRoute => ({
    service: MemoService as DescService,
    method: method(name),
    httpMethod,
    template: parsePathTemplate(template),
    pathFields: [],
    body: "",
    responseBody: undefined,
    bindingIndex: 0,
  });
  const name = (t: ReturnType<typeof createRouteTable>, m: string, p: string) => t.match(m, p)?.route.method.name;

  test("literal segments win over wildcards, and the matcher backtracks when a literal branch dead-ends", () => {
    const t = createRouteTable([
      route("GET", "/v1/*/b/c", "wildFirst"),
      route("GET", "/v1/a/b", "literal"),
      route("GET", "/v1/a/*", "literalThenWild"),
      route("GET", "/v1/**", "deep"),
    ]);
    expect(name(t, "GET", "/v1/a/b")).toBe("literal");
    expect(name(t, "GET", "/v1/a/z")).toBe("literalThenWild");
    expect(name(t, "GET", "/v1/a/b/c")).toBe("wildFirst"); // the a-branch has no /b/c
    expect(name(t, "GET", "/v1/q/r/s/t")).toBe("deep");
    expect(t.match("GET", "/v1/a/b/c")?.values).toEqual([]);
  });

  test("verbs are told apart, and a verb route is preferred over a plain segment", () => {
    const t = createRouteTable([
      route("POST", "/v1/things/*:archive", "archive"),
      route("POST", "/v1/things/*:restore", "restore"),
      route("POST", "/v1/things/*", "plain"),
    ]);
    expect(name(t, "POST", "/v1/things/x:archive")).toBe("archive");
    expect(name(t, "POST", "/v1/things/x:restore")).toBe("restore");
    expect(name(t, "POST", "/v1/things/x:other")).toBe("plain");
    expect(name(t, "POST", "/v1/things/x")).toBe("plain");
  });

  test("two bindings with the same shape are a definition error", () => {
    expect(() => createRouteTable([route("GET", "/v1/{a=x/*}", "one"), route("GET", "/v1/x/*", "two")])).toThrow(RouteDefinitionError);
  });
});
