/**
 * Inputs the fuzz suites found answered with a 5xx, pinned down as plain cases so they stay fixed
 * whatever seed the fuzzers run with.
 */
import http2 from "node:http2";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { storageSafeFilename } from "../../src/domain/attachment-rules.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { newUser, type WebUser } from "../webapp/support.js";

let t: TestApp;
let user: WebUser;
beforeAll(async () => {
  t = await startTestApp();
  user = await newUser(t.baseUrl, "regress");
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

describe("values the database cannot hold are invalid_argument, not internal", () => {
  const json = (body: unknown) => ({ body: JSON.stringify(body), headers: { "content-type": "application/json", authorization: `Bearer ${user.token}` } });

  test.each([
    ["GetMemo with a NUL in the name", "GetMemo", { name: "memos/a\u0000b" }],
    ["CreateMemo with a NUL in the content", "CreateMemo", { memo: { content: "a\u0000b" } }],
    ["ListMemos with a NUL in a filter literal", "ListMemos", { filter: 'content.contains("\u0000")' }],
    ["ListMemos with a creator_id beyond int4", "ListMemos", { filter: "creator_id == 99999999999999" }],
  ])("%s", async (_name, method, body) => {
    const { body: text, headers } = json(body);
    const r = await post(`/memos.api.v1.MemoService/${method}`, text, headers);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ code: "invalid_argument" });
  });

  test("REST: a %00 in a path variable is 400 {code:3}", async () => {
    const res = await fetch(`${t.baseUrl}/api/v1/memos/%00`, { headers: { authorization: `Bearer ${user.token}` } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 3, details: [] });
  });

  test("nothing was logged as an error", () => {
    expect(t.logs.filter((l) => (l.level as number) >= 50)).toEqual([]);
  });
});

describe("very long attachment filenames are handled in linear time", () => {
  test("storageSafeFilename shortens a 200,000-character name to the longest prefix that fits, keeping the extension", () => {
    const name = storageSafeFilename(`${"é".repeat(200_000)}.txt`);
    expect(name).toBe(`${"é".repeat(78)}.txt`);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(160);
  });

  test("an upload with a 50,000-character filename is stored under its full name", async () => {
    const filename = `${"a".repeat(50_000)}.txt`;
    const form = new FormData();
    form.set("file", new Blob(["hello"], { type: "text/plain" }), filename);
    const res = await fetch(`${t.baseUrl}/api/v1/attachments:upload`, { method: "POST", body: form, headers: { authorization: `Bearer ${user.token}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { filename: string }).filename).toBe(filename);
  });
});
