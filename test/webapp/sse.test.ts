import { connect } from "node:http2";
import { Visibility } from "../../gen/memos/api/v1/memo_service_pb.js";
import { State } from "../../gen/memos/api/v1/common_pb.js";
import { createAccessTokens } from "../../src/auth/access-token.js";
import { hmacKey } from "../../src/auth/jwt.js";
import { instanceSecret } from "../auth/support.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { openSse, type LiveEvent, type SseStream } from "./sse-client.js";
import { eventually, newMemo, newUser, type WebUser } from "./support.js";

describe("GET /api/v1/sse", () => {
  let t: TestApp;
  let admin: WebUser;
  const streams: SseStream[] = [];
  const open = async (token: string | undefined) => {
    const s = await openSse(t.baseUrl, token);
    streams.push(s);
    return s;
  };
  beforeAll(async () => {
    t = await startTestApp({ MEMOS_SSE_HEARTBEAT_MS: "100" });
    admin = await newUser(t.baseUrl, "admin");
  }, 60_000);
  afterEach(() => {
    for (const s of streams.splice(0)) s.close();
  });
  afterAll(async () => {
    await t?.close();
  });

  const is = (type: string, name: string) => (e: LiveEvent) => e.type === type && e.name === name;

  test("anonymous, bad or archived-user credentials get 401; other methods 405", async () => {
    for (const headers of [{}, { Authorization: "Bearer nope" }, { Authorization: "Basic abc" }] as Array<Record<string, string>>) {
      const res = await fetch(`${t.baseUrl}/api/v1/sse`, { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ code: 16, message: "authentication required", details: [] });
    }
    const u = await newUser(t.baseUrl);
    await admin.users.updateUser({ user: { name: u.name, state: State.ARCHIVED }, updateMask: { paths: ["state"] } });
    expect((await fetch(`${t.baseUrl}/api/v1/sse`, { headers: { Authorization: `Bearer ${u.token}` } })).status).toBe(401);
    const post = await fetch(`${t.baseUrl}/api/v1/sse`, { method: "POST", headers: { Authorization: `Bearer ${admin.token}` } });
    expect([post.status, post.headers.get("allow")]).toEqual([405, "GET"]);
  });

  test("an event stream with heartbeat comments, for an access token or a personal access token", async () => {
    const u = await newUser(t.baseUrl);
    const s = await open(u.token);
    expect(s.status).toBe(200);
    expect(s.headers.get("content-type")).toBe("text/event-stream");
    expect(s.headers.get("cache-control")).toBe("no-cache, no-store, must-revalidate");
    await eventually(async () => (s.comments.filter((c) => c === ": heartbeat").length >= 2 ? true : undefined), 3000);
    const pat = await u.users.createPersonalAccessToken({ parent: u.name, description: "sse" });
    const viaPat = await open(pat.token);
    expect(viaPat.status).toBe(200);
    const memo = await newMemo(u);
    await viaPat.next(is("memo.created", memo.name));
  });

  test("each user hears only of memos they may read; comments carry their parent; reactions name the memo", async () => {
    const alice = await newUser(t.baseUrl, "alice");
    const bob = await newUser(t.baseUrl, "bob");
    const [sa, sb, sAdmin] = [await open(alice.token), await open(bob.token), await open(admin.token)];

    const secret = await newMemo(alice, { visibility: Visibility.PRIVATE });
    await sa.next(is("memo.created", secret.name));
    const shared = await newMemo(alice, { visibility: Visibility.PROTECTED });
    for (const s of [sa, sb, sAdmin]) await s.next(is("memo.created", shared.name));
    // Bob's and the admin's first event is the shared memo: the private one never reached them.
    expect(sb.events[0]).toEqual({ type: "memo.created", name: shared.name });
    expect(sAdmin.events.some((e) => e.name === secret.name)).toBe(false);

    const comment = await bob.memos.createMemoComment({ name: shared.name, comment: { content: "hi" } });
    expect(await sa.next(is("memo.comment.created", comment.name))).toEqual({ type: "memo.comment.created", name: comment.name, parent: shared.name });
    const reaction = await bob.memos.upsertMemoReaction({ name: shared.name, reaction: { reactionType: "👍" } });
    expect(await sa.next(is("reaction.upserted", shared.name))).toEqual({ type: "reaction.upserted", name: shared.name });
    await bob.memos.deleteMemoReaction({ name: reaction.name });
    await sb.next(is("reaction.deleted", shared.name));
    await alice.memos.updateMemo({ memo: { name: shared.name, pinned: true }, updateMask: { paths: ["pinned"] } });
    await sb.next(is("memo.updated", shared.name));
    await alice.memos.updateMemo({ memo: { name: secret.name, pinned: true }, updateMask: { paths: ["pinned"] } });
    await sa.next(is("memo.updated", secret.name));
    await alice.memos.deleteMemo({ name: shared.name });
    await sa.next(is("memo.deleted", shared.name));
    expect(sb.events.some((e) => e.name === secret.name)).toBe(false);
  });

  test("works over HTTP/2 cleartext on the same port", async () => {
    const u = await newUser(t.baseUrl);
    const session = connect(t.baseUrl);
    try {
      const stream = session.request({ ":path": "/api/v1/sse", authorization: `Bearer ${u.token}` });
      const head = await new Promise<Record<string, unknown>>((resolve) => stream.once("response", resolve));
      expect([head[":status"], head["content-type"]]).toEqual([200, "text/event-stream"]);
      let text = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => (text += chunk));
      const memo = await newMemo(u);
      await eventually(async () => (text.includes(`"name":"${memo.name}"`) && text.includes(": heartbeat") ? true : undefined));
      stream.close();
    } finally {
      session.close();
    }
  });

  test("a closed client is unsubscribed at once", async () => {
    const u = await newUser(t.baseUrl);
    const before = t.app.liveEvents.size();
    const s = await open(u.token);
    await eventually(async () => (t.app.liveEvents.size() === before + 1 ? true : undefined));
    s.close();
    await eventually(async () => (t.app.liveEvents.size() === before ? true : undefined));
  });

  test("the stream ends when its access token expires", async () => {
    const u = await newUser(t.baseUrl);
    const key = await hmacKey(await instanceSecret(t.app.database.db));
    // Issued 14 min 59 s ago: one second left of its 15 minutes.
    const tokens = createAccessTokens(key, () => Date.now() - (15 * 60 - 1) * 1000);
    const { token } = await tokens.issue({ id: u.userId, username: u.username, role: "USER", row_status: "NORMAL" });
    const s = await open(token);
    expect(s.status).toBe(200);
    const started = Date.now();
    await s.ended;
    expect(Date.now() - started).toBeLessThan(4000);
  });
});

describe("live events at shutdown", () => {
  test("closing the app ends open streams instead of waiting for the drain timeout", async () => {
    const t = await startTestApp({ MEMOS_SHUTDOWN_TIMEOUT_MS: "20000" });
    let s: SseStream | undefined;
    try {
      const u = await newUser(t.baseUrl);
      s = await openSse(t.baseUrl, u.token);
      expect(s.status).toBe(200);
    } finally {
      const started = Date.now();
      await t.close();
      expect(Date.now() - started).toBeLessThan(5000);
      s?.close();
    }
    await s!.ended;
  }, 60_000);
});
