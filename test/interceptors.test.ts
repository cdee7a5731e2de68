import http from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { MemoSchema, MemoService } from "../gen/memos/api/v1/memo_service_pb.js";
import type { AccessMode } from "../src/auth/access-policy.js";
import { createIdentityResolver, identityKey, parseBearer, type Identity } from "../src/auth/identity.js";
import { createLogger } from "../src/logger.js";
import { createAuthInterceptor } from "../src/server/interceptors/auth.js";
import { createLoggingInterceptor } from "../src/server/interceptors/logging.js";
import { createMetadataInterceptor } from "../src/server/interceptors/metadata.js";
import { createRecoveryInterceptor } from "../src/server/interceptors/recovery.js";

/** A real server with the real interceptor chain around a test implementation of MemoService. */
async function serve(impl: Partial<ServiceImpl<typeof MemoService>>, opts: { mode?: () => Promise<AccessMode> } = {}) {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const l of chunk.toString().split("\n")) if (l) logs.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger("info", sink);
  const resolver = createIdentityResolver({
    accessToken: async (t) => (t === "good-token" ? { userId: 7, via: "access-token" } : undefined),
    personalAccessToken: async (t) => (t === "memos_pat_good" ? { userId: 8, via: "personal-access-token" } : undefined),
  });
  const server = http.createServer(
    connectNodeAdapter({
      routes: (r) => r.service(MemoService, impl),
      interceptors: [
        createMetadataInterceptor(),
        createLoggingInterceptor(logger),
        createRecoveryInterceptor(logger),
        createAuthInterceptor({ resolver, readAccessMode: opts.mode ?? (async () => "PRIVATE") }),
      ],
    }),
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = (token?: string) =>
    createClient(
      MemoService,
      createConnectTransport({
        baseUrl,
        httpVersion: "1.1",
        interceptors: token ? [(next) => (req) => (req.header.set("Authorization", `Bearer ${token}`), next(req))] : [],
      }),
    );
  return { logs, client, baseUrl, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe("parseBearer", () => {
  test.each([
    ["Bearer abc", "abc"],
    ["bearer abc", "abc"],
    ["BEARER   abc", "abc"],
    ["Bearer", undefined],
    ["Basic abc", undefined],
    ["Bearer a b", undefined],
    ["", undefined],
    [undefined, undefined],
  ])("%p -> %p", (header, token) => {
    expect(parseBearer(header)).toBe(token);
  });
});

describe("identity resolver", () => {
  const resolver = createIdentityResolver({
    accessToken: async (t) => (t === "jwt" ? { userId: 1, via: "access-token" } : undefined),
    personalAccessToken: async (t) => {
      if (t === "memos_pat_boom") throw new Error("database down");
      return t === "memos_pat_ok" ? { userId: 2, via: "personal-access-token" } : undefined;
    },
  });
  test("routes memos_pat_ tokens to the PAT verifier and others to the access-token verifier", async () => {
    expect(await resolver.resolve("Bearer jwt")).toMatchObject({ userId: 1, via: "access-token" });
    expect(await resolver.resolve("Bearer memos_pat_ok")).toMatchObject({ userId: 2, via: "personal-access-token" });
    expect(await resolver.resolve("Bearer memos_pat_jwt")).toBeUndefined();
  });
  test("unknown tokens, malformed headers and verifier failures are anonymous", async () => {
    expect(await resolver.resolve("Bearer nope")).toBeUndefined();
    expect(await resolver.resolve("Token jwt")).toBeUndefined();
    expect(await resolver.resolve("Bearer memos_pat_boom")).toBeUndefined();
  });
  test("with no verifiers every caller is anonymous", async () => {
    expect(await createIdentityResolver({}).resolve("Bearer jwt")).toBeUndefined();
  });
});

describe("interceptor chain", () => {
  let seen: Identity | undefined;
  let s: Awaited<ReturnType<typeof serve>>;
  let mode: AccessMode = "PRIVATE";
  let modeReads = 0;
  beforeAll(async () => {
    s = await serve(
      {
        async getMemo(req, ctx) {
          seen = ctx.values.get(identityKey);
          if (req.name === "memos/throw") throw new Error("secret database detail");
          if (req.name === "memos/missing") throw new ConnectError("memo not found", Code.NotFound);
          return create(MemoSchema, { name: req.name });
        },
        async createMemo(_req, ctx) {
          seen = ctx.values.get(identityKey);
          return create(MemoSchema, { name: "memos/new" });
        },
      },
      {
        mode: async () => {
          modeReads++;
          if (mode === ("BROKEN" as AccessMode)) throw new Error("no db");
          return mode;
        },
      },
    );
  });
  afterAll(async () => s?.close());
  beforeEach(() => {
    seen = undefined;
    mode = "PRIVATE";
    s.logs.length = 0;
  });

  test("a thrown error becomes internal; the cause is logged and never sent", async () => {
    const err = await s.client("good-token").getMemo({ name: "memos/throw" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Internal);
    expect((err as ConnectError).rawMessage).toBe("internal server error");
    expect(JSON.stringify(err)).not.toContain("secret");
    const unhandled = s.logs.find((l) => l.msg === "unhandled error");
    expect(JSON.stringify(unhandled)).toContain("secret database detail");
  });

  test("one log line per call with procedure, code and duration; client errors at info, server errors at error", async () => {
    await s.client("good-token").getMemo({ name: "memos/ok" });
    await s.client("good-token").getMemo({ name: "memos/missing" }).catch(() => {});
    await s.client("good-token").getMemo({ name: "memos/throw" }).catch(() => {});
    const calls = s.logs.filter((l) => l.msg === "call");
    expect(calls.map((l) => [l.procedure, l.code, l.level])).toEqual([
      ["/memos.api.v1.MemoService/GetMemo", "ok", 30],
      ["/memos.api.v1.MemoService/GetMemo", "not_found", 30],
      ["/memos.api.v1.MemoService/GetMemo", "internal", 50],
    ]);
    for (const c of calls) expect(typeof c.ms).toBe("number");
  });

  test("successful calls carry no-cache headers", async () => {
    const res = await fetch(`${s.baseUrl}/memos.api.v1.MemoService/GetMemo`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer good-token" },
      body: JSON.stringify({ name: "memos/x" }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-cache, no-store, must-revalidate");
    expect(res.headers.get("pragma")).toBe("no-cache");
    expect(res.headers.get("expires")).toBe("0");
  });

  test("an authenticated caller's identity reaches the service (access token and PAT)", async () => {
    await s.client("good-token").getMemo({ name: "memos/x" });
    expect(seen).toMatchObject({ userId: 7, via: "access-token" });
    await s.client("memos_pat_good").createMemo({});
    expect(seen).toMatchObject({ userId: 8, via: "personal-access-token" });
  });

  test("anonymous on a protected method is unauthenticated without reading the access mode", async () => {
    const reads = modeReads;
    await expect(s.client().createMemo({})).rejects.toMatchObject({ code: Code.Unauthenticated, rawMessage: "authentication required" });
    await expect(s.client("bad-token").createMemo({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(modeReads).toBe(reads);
  });

  test("anonymous on a public method follows the access mode, read fresh on every call", async () => {
    await expect(s.client().getMemo({ name: "memos/x" })).rejects.toMatchObject({ code: Code.Unauthenticated });
    mode = "PUBLIC";
    await expect(s.client().getMemo({ name: "memos/x" })).resolves.toMatchObject({ name: "memos/x" });
    expect(seen).toBeUndefined();
    // An invalid token is anonymous, not an error.
    await expect(s.client("forged").getMemo({ name: "memos/x" })).resolves.toMatchObject({ name: "memos/x" });
  });

  test("a failure to read the access policy is internal with the documented message", async () => {
    mode = "BROKEN" as AccessMode;
    await expect(s.client().getMemo({ name: "memos/x" })).rejects.toMatchObject({
      code: Code.Internal,
      rawMessage: "failed to resolve API access policy",
    });
  });
});
