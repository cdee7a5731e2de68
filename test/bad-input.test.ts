import http2 from "node:http2";
import { startTestApp, type TestApp } from "./support/app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ MEMOS_MAX_BODY_BYTES: "4096" });
});
afterAll(async () => t?.close());

const PROFILE = "/memos.api.v1.InstanceService/GetInstanceProfile";

async function post(path: string, body: string | Uint8Array, headers: Record<string, string>) {
  const res = await fetch(t.baseUrl + path, { method: "POST", body, headers });
  return { status: res.status, type: res.headers.get("content-type"), body: await res.text(), headers: res.headers };
}

test("unknown procedure over Connect: 404 with a Connect error body", async () => {
  const r = await post("/memos.api.v1.NoSuchService/Nope", "{}", { "content-type": "application/json" });
  expect(r.status).toBe(404);
  expect(JSON.parse(r.body)).toMatchObject({ code: "unimplemented" });
});

test("unknown method of a known service over Connect: 404", async () => {
  const r = await post("/memos.api.v1.InstanceService/Nope", "{}", { "content-type": "application/json" });
  expect(r.status).toBe(404);
});

test("unknown procedure over gRPC (h2c): grpc-status 12 unimplemented", async () => {
  const session = http2.connect(t.baseUrl);
  try {
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      const req = session.request({ ":method": "POST", ":path": "/memos.api.v1.Nope/X", "content-type": "application/grpc", te: "trailers" });
      let merged: http2.IncomingHttpHeaders = {};
      req.on("response", (h) => (merged = { ...merged, ...h }));
      req.on("trailers", (h) => (merged = { ...merged, ...h }));
      req.on("end", () => resolve(merged));
      req.on("error", reject);
      req.end(Buffer.from([0, 0, 0, 0, 0]));
      req.resume();
    });
    expect(headers["grpc-status"]).toBe("12");
  } finally {
    session.close();
  }
});

test("malformed protobuf over gRPC (h2c): grpc-status 3 invalid_argument", async () => {
  const session = http2.connect(t.baseUrl);
  try {
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      const req = session.request({ ":method": "POST", ":path": PROFILE, "content-type": "application/grpc", te: "trailers" });
      let merged: http2.IncomingHttpHeaders = {};
      req.on("response", (h) => (merged = { ...merged, ...h }));
      req.on("trailers", (h) => (merged = { ...merged, ...h }));
      req.on("end", () => resolve(merged));
      req.on("error", reject);
      req.end(Buffer.from([0, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0x0f]));
      req.resume();
    });
    expect(headers["grpc-status"]).toBe("3");
  } finally {
    session.close();
  }
});

test("malformed Connect JSON: 400 invalid_argument", async () => {
  const r = await post(PROFILE, "{not json", { "content-type": "application/json" });
  expect(r.status).toBe(400);
  expect(JSON.parse(r.body)).toMatchObject({ code: "invalid_argument" });
});

test("malformed Connect binary: 400 invalid_argument", async () => {
  const r = await post(PROFILE, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), { "content-type": "application/proto" });
  expect(r.status).toBe(400);
  expect(JSON.parse(r.body)).toMatchObject({ code: "invalid_argument" });
});

test("wrong content type: 415", async () => {
  const r = await post(PROFILE, "hello", { "content-type": "text/plain" });
  expect(r.status).toBe(415);
});

test("oversized Connect body: resource_exhausted, nothing else breaks", async () => {
  const big = JSON.stringify({ pad: "x".repeat(10_000) });
  const r = await post(PROFILE, big, { "content-type": "application/json" });
  expect(r.status).toBe(429);
  expect(JSON.parse(r.body)).toMatchObject({ code: "resource_exhausted" });
});

test("the server keeps serving after every bad request", async () => {
  const r = await post(PROFILE, "{}", { "content-type": "application/json" });
  expect(r.status).toBe(200);
  const health = await fetch(`${t.baseUrl}/healthz`);
  expect(health.status).toBe(200);
  expect(await health.text()).toBe("Service ready.");
});

test("a client that disconnects mid-body does not disturb the server", async () => {
  const { connect } = await import("node:net");
  await new Promise<void>((resolve) => {
    const sock = connect(Number(new URL(t.baseUrl).port), "127.0.0.1", () => {
      sock.write(`POST ${PROFILE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":`);
      setTimeout(() => {
        sock.destroy();
        resolve();
      }, 50);
    });
  });
  const r = await post(PROFILE, "{}", { "content-type": "application/json" });
  expect(r.status).toBe(200);
});
