import { createClient, type Transport } from "@connectrpc/connect";
import {
  Http2SessionManager,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { InstanceAccessMode, InstanceService } from "../gen/memos/api/v1/instance_service_pb.js";
import { startTestApp, type TestApp } from "./support/app.js";

let t: TestApp;
const sessions: Http2SessionManager[] = [];

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  for (const s of sessions) s.abort();
  await t?.close();
});

function h2(make: (sessionManager: Http2SessionManager) => Transport): Transport {
  const sm = new Http2SessionManager(t.baseUrl);
  sessions.push(sm);
  return make(sm);
}

const transports: Array<[string, () => Transport]> = [
  ["Connect JSON over HTTP/1.1", () => createConnectTransport({ baseUrl: t.baseUrl, httpVersion: "1.1", useBinaryFormat: false })],
  ["Connect binary over HTTP/1.1", () => createConnectTransport({ baseUrl: t.baseUrl, httpVersion: "1.1", useBinaryFormat: true })],
  ["gRPC-Web over HTTP/1.1", () => createGrpcWebTransport({ baseUrl: t.baseUrl, httpVersion: "1.1" })],
  ["gRPC over h2c", () => h2((sessionManager) => createGrpcTransport({ baseUrl: t.baseUrl, sessionManager }))],
  ["Connect binary over h2c", () => h2((sessionManager) => createConnectTransport({ baseUrl: t.baseUrl, httpVersion: "2", sessionManager }))],
];

describe.each(transports)("%s on the one port", (_name, makeTransport) => {
  test("GetInstanceProfile answers the profile of a fresh instance", async () => {
    const client = createClient(InstanceService, makeTransport());
    const profile = await client.getInstanceProfile({});
    expect(profile.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(profile.needsSetup).toBe(true);
    expect(profile.accessMode).toBe(InstanceAccessMode.PRIVATE);
    expect(profile.admin).toBeUndefined();
  });

  test("a protected RPC called anonymously is unauthenticated", async () => {
    const client = createClient(InstanceService, makeTransport());
    await expect(client.getInstanceStats({})).rejects.toMatchObject({ code: 16 });
  });
});

test("all transports at once on one port: 200 mixed calls succeed", async () => {
  const clients = transports.map(([, make]) => createClient(InstanceService, make()));
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => clients[i % clients.length]!.getInstanceProfile({})));
  expect(results.every((p) => p.needsSetup)).toBe(true);
});
