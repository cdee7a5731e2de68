/**
 * Inputs the fuzz suites found answered with a 5xx, pinned down as plain cases so they stay fixed
 * whatever seed the fuzzers run with.
 */
import http2 from "node:http2";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { startTestApp, type TestApp } from "../support/app.js";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
}, 120_000);
afterAll(async () => t?.close());

const PROFILE = "/memos.api.v1.InstanceService/GetInstanceProfile";

async function post(path: string, body: Uint8Array | string, headers: Record<string, string>) {
  const res = await fetch(t.baseUrl + path, { method: "POST", body, headers });
  return { status: res.status, body: await res.text() };
}

describe("a compressed Connect body that does not decompress is invalid_argument, not internal", () => {
  test.each([
    ["brotli, body not compressed at all", "br", new Uint8Array([1, 2, 3])],
    ["brotli, truncated stream", "br", brotliCompressSync(Buffer.from("{}".padEnd(200, " "))).subarray(0, 4)],
    ["gzip, truncated stream", "gzip", gzipSync(Buffer.from("{}".padEnd(200, " "))).subarray(0, 12)],
  ])("%s", async (_name, encoding, body) => {
    const r = await post(PROFILE, body, { "content-type": "application/json", "content-encoding": encoding });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ code: "invalid_argument", message: "decompression failed" });
  });

  test("a correctly compressed body still works", async () => {
    const r = await post(PROFILE, gzipSync(Buffer.from("{}")), { "content-type": "application/json", "content-encoding": "gzip" });
    expect(r.status).toBe(200);
  });

  test("gRPC: a compressed message that does not decompress is grpc-status 3", async () => {
    // One envelope flagged compressed (0x01) whose 4 bytes are not gzip.
    const headers = await grpcCall(PROFILE, { "grpc-encoding": "gzip" }, Buffer.from([1, 0, 0, 0, 4, 1, 2, 3, 4]));
    expect(headers["grpc-status"]).toBe("3");
  });

  test("gRPC: a message flagged compressed without grpc-encoding is grpc-status 3", async () => {
    const headers = await grpcCall(PROFILE, {}, Buffer.from([0xff, 0, 0, 0, 0]));
    expect(headers["grpc-status"]).toBe("3");
  });
});

/** One gRPC call over HTTP/2 cleartext; the response headers and trailers merged. */
async function grpcCall(path: string, extra: http2.OutgoingHttpHeaders, body: Buffer): Promise<http2.IncomingHttpHeaders> {
  const session = http2.connect(t.baseUrl);
  try {
    return await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...extra });
      let merged: http2.IncomingHttpHeaders = {};
      req.on("response", (h) => (merged = { ...merged, ...h }));
      req.on("trailers", (h) => (merged = { ...merged, ...h }));
      req.on("end", () => resolve(merged));
      req.on("error", reject);
      req.end(body);
      req.resume();
    });
  } finally {
    session.close();
  }
}
