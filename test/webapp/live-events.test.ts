/** The live-event hub and the SSE route on their own: audiences, and a client too slow to keep up. */
import { createServer, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import type { IdentityResolver } from "../../src/auth/identity.js";
import { createSseRoute } from "../../src/server/sse/sse-route.js";
import { createLiveEventHub, type LiveEventMessage } from "../../src/services/live-events.js";
import type { MemoAudience } from "../../src/services/memo-audience.js";
import { createMemoEventBus } from "../../src/services/memo-events.js";

const quiet = { warn: () => {}, info: () => {} };

describe("live event hub", () => {
  const collect = () => {
    const got: LiveEventMessage[] = [];
    return { got, deliver: (m: LiveEventMessage) => got.push(m), close: () => {} };
  };

  test("delivers by the event's audience or the memo's, and a change with neither only to its actor", async () => {
    const bus = createMemoEventBus();
    const audiences = new Map<string, MemoAudience>([["memos/pub", { creatorId: 1, visibility: "PUBLIC", rowStatus: "NORMAL" }]]);
    const hub = createLiveEventHub({ bus, logger: quiet, resolveAudience: async (name) => audiences.get(name) });
    const [owner, other, admin] = [collect(), collect(), collect()];
    hub.subscribe({ userId: 1, role: "USER", ...owner });
    hub.subscribe({ userId: 2, role: "USER", ...other });
    hub.subscribe({ userId: 3, role: "ADMIN", ...admin });
    bus.publish({ type: "memo.updated", name: "memos/pub", actorId: 1 });
    // Gone, no audience: the actor only.
    bus.publish({ type: "memo.deleted", name: "memos/gone", actorId: 1 });
    // Gone, but the publisher described it: its readers.
    bus.publish({ type: "memo.deleted", name: "memos/described", actorId: 1, audience: { creatorId: 1, visibility: "PROTECTED", rowStatus: "NORMAL" } });
    // A private memo's comment: its thread's creator only (admins are not readers of private memos).
    bus.publish({
      type: "memo.comment.created",
      name: "memos/c",
      parent: "memos/p",
      actorId: 1,
      audience: { creatorId: 1, visibility: "PRIVATE", rowStatus: "NORMAL", isComment: true, parent: { creatorId: 1, visibility: "PRIVATE", rowStatus: "NORMAL" } },
    });
    await hub.idle();
    expect(owner.got.map((m) => m.name)).toEqual(["memos/pub", "memos/gone", "memos/described", "memos/c"]);
    expect(other.got.map((m) => m.name)).toEqual(["memos/pub", "memos/described"]);
    expect(admin.got.map((m) => m.name)).toEqual(["memos/pub", "memos/described"]);
    expect(owner.got[3]).toEqual({ type: "memo.comment.created", name: "memos/c", parent: "memos/p" });
    await hub.close();
    let closed = false;
    hub.subscribe({ userId: 1, role: "USER", deliver: () => {}, close: () => (closed = true) });
    expect(closed).toBe(true);
  });
});

describe("SSE route", () => {
  let server: Server;
  const bus = createMemoEventBus();
  const hub = createLiveEventHub({ bus, logger: quiet, resolveAudience: async () => undefined });
  // One fixed caller: the route's own rules are under test here, not token checks.
  const resolver: IdentityResolver = { resolve: async (h) => (h === "Bearer ok" ? { userId: 7, via: "access-token" } : undefined) };
  beforeAll(async () => {
    const route = createSseRoute({
      hub,
      resolver,
      loadUser: async () => ({ role: "USER", rowStatus: "NORMAL" }),
      heartbeatMs: 60_000,
      maxBufferedBytes: 16 * 1024,
    });
    server = createServer((req, res) => {
      void route(req, res).then((done) => {
        if (!done) res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  });
  afterAll(async () => {
    await hub.close();
    await new Promise((r) => server.close(r));
  });

  test("a client that stops reading is dropped once it falls the buffer limit behind, and unsubscribed", async () => {
    const port = (server.address() as AddressInfo).port;
    const socket = connect(port, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    socket.write(`GET /api/v1/sse HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ok\r\n\r\n`);
    // Read the response head, then never read again.
    await new Promise((r) => socket.once("data", r));
    socket.pause();
    let closed = false;
    socket.once("close", () => (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(hub.size()).toBe(1);
    const audience: MemoAudience = { creatorId: 7, visibility: "PUBLIC", rowStatus: "NORMAL" };
    for (let batch = 0; batch < 200 && hub.size() > 0; batch++) {
      for (let i = 0; i < 5000; i++) bus.publish({ type: "memo.updated", name: `memos/m${batch}x${i}`, actorId: 7, audience });
      await hub.idle();
    }
    expect(hub.size()).toBe(0);
    socket.resume();
    await new Promise((r) => (closed ? r(undefined) : socket.once("close", r)));
    socket.destroy();
  }, 60_000);

  test("paths other than /api/v1/sse are not its business", async () => {
    const port = (server.address() as AddressInfo).port;
    expect((await fetch(`http://127.0.0.1:${port}/api/v1/sse2`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/api/v1/sse?x=1`)).status).toBe(401);
  });
});
