import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import type { LogEvent } from "kysely";
import { State } from "../../gen/memos/api/v1/common_pb.js";
import { Visibility } from "../../gen/memos/api/v1/memo_service_pb.js";
import { openDatabase } from "../../src/store/database.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { DRIVERS } from "../support/database.js";
import { startPostgres, type TestPostgres } from "../support/postgres.js";
import { codeOf, errorOf, newMemo, newUser, serviceClients, setAccessMode, type WebUser } from "./support.js";

describe.each(DRIVERS)("user stats on %s", (driver) => {
  let t: TestApp;
  let pg: TestPostgres | undefined;
  const queries: string[] = [];
  let admin: WebUser;
  beforeAll(async () => {
    const log = (e: LogEvent) => {
      if (e.level === "query") queries.push(e.query.sql);
    };
    pg = driver === "postgres" ? await startPostgres() : undefined;
    const database = pg === undefined ? await openDatabase({ driver: "pglite", log }) : await openDatabase({ driver: "postgres", dsn: pg.dsn, log });
    t = await startTestApp({}, { database });
    admin = await newUser(t.baseUrl, "admin");
  }, 60_000);
  afterAll(async () => {
    try {
      await t?.close();
    } finally {
      pg?.stop();
    }
  });

  /** Alice's memos: one per visibility with different derived properties, plus ones that never count. */
  const seed = async () => {
    const alice = await newUser(t.baseUrl, "alice");
    const pub = await newMemo(alice, { visibility: Visibility.PUBLIC, content: "#book/fiction read https://example.com", createTime: { seconds: 1_700_000_000n, nanos: 0 } });
    const prot = await newMemo(alice, { visibility: Visibility.PROTECTED, content: "#book `code`", createTime: { seconds: 1_700_000_100n, nanos: 0 } });
    const priv = await newMemo(alice, { visibility: Visibility.PRIVATE, content: "#secret\n- [ ] todo\n- [x] done", createTime: { seconds: 1_700_000_200n, nanos: 0 } });
    await alice.memos.updateMemo({ memo: { name: prot.name, pinned: true }, updateMask: { paths: ["pinned"] } });
    await alice.memos.updateMemo({ memo: { name: priv.name, pinned: true }, updateMask: { paths: ["pinned"] } });
    // Never counted as NORMAL memos: a comment and an archived memo.
    await alice.memos.createMemoComment({ name: pub.name, comment: { content: "#book comment" } });
    const archived = await newMemo(alice, { visibility: Visibility.PUBLIC, content: "#old archived" });
    await alice.memos.updateMemo({ memo: { name: archived.name, state: State.ARCHIVED }, updateMask: { paths: ["state"] } });
    return { alice, pub, prot, priv, archived };
  };

  test("GetUserStats as the user: every own NORMAL memo, comments and archived ones left out", async () => {
    const { alice, prot, priv } = await seed();
    const stats = await alice.users.getUserStats({ name: alice.name });
    expect(stats.name).toBe(`${alice.name}/stats`);
    expect(stats.totalMemoCount).toBe(3);
    expect(stats.memoTypeStats).toMatchObject({ linkCount: 1, codeCount: 1, todoCount: 1, undoCount: 1 });
    expect(stats.tagCount).toEqual({ book: 2, "book/fiction": 1, secret: 1 });
    expect(stats.pinnedMemos).toEqual([priv.name, prot.name]);
    expect(stats.memoCreatedTimestamps.map((ts) => timestampMs(ts) / 1000)).toEqual([1_700_000_000, 1_700_000_100, 1_700_000_200]);
    expect(stats.memoUpdatedTimestamps).toHaveLength(3);
  });

  test("GetUserStats as another user counts PUBLIC and PROTECTED; admins get no more; anonymous counts PUBLIC on a PUBLIC instance", async () => {
    const { alice, prot } = await seed();
    const bob = await newUser(t.baseUrl, "bob");
    const asBob = await bob.users.getUserStats({ name: alice.name });
    expect([asBob.totalMemoCount, asBob.tagCount, asBob.pinnedMemos]).toEqual([2, { book: 2, "book/fiction": 1 }, [prot.name]]);
    expect(asBob.memoTypeStats).toMatchObject({ linkCount: 1, codeCount: 1, todoCount: 0, undoCount: 0 });
    expect((await admin.users.getUserStats({ name: alice.name })).totalMemoCount).toBe(2);
    const anon = serviceClients(t.baseUrl);
    expect(await codeOf(anon.users.getUserStats({ name: alice.name }))).toBe(Code.Unauthenticated);
    await setAccessMode(t.app.database.db, "PUBLIC");
    try {
      const asAnon = await anon.users.getUserStats({ name: alice.name });
      expect([asAnon.totalMemoCount, asAnon.tagCount, asAnon.pinnedMemos]).toEqual([1, { book: 1, "book/fiction": 1 }, []]);
    } finally {
      await setAccessMode(t.app.database.db, "PRIVATE");
    }
  });

  test("GetUserStats: a user without memos has zeros; unknown and archived users are not found; names are checked", async () => {
    const empty = await newUser(t.baseUrl);
    const stats = await empty.users.getUserStats({ name: empty.name });
    expect(stats).toMatchObject({ name: `${empty.name}/stats`, totalMemoCount: 0, tagCount: {}, pinnedMemos: [], memoCreatedTimestamps: [] });
    expect(stats.memoTypeStats).toMatchObject({ linkCount: 0, codeCount: 0, todoCount: 0, undoCount: 0 });
    expect(await codeOf(empty.users.getUserStats({ name: "users/nobody-at-all" }))).toBe(Code.NotFound);
    expect(await codeOf(empty.users.getUserStats({ name: "memos/x" }))).toBe(Code.InvalidArgument);
    const gone = await newUser(t.baseUrl);
    await admin.users.updateUser({ user: { name: gone.name, state: State.ARCHIVED }, updateMask: { paths: ["state"] } });
    expect(await codeOf(empty.users.getUserStats({ name: gone.name }))).toBe(Code.NotFound);
  });

  test("GetUserStats aggregates in one statement however many memos", async () => {
    const { alice } = await seed();
    for (let i = 0; i < 10; i++) await newMemo(alice, { content: `#n${i} more` });
    // Let the memo-event listeners (live events, mentions) finish their own reads first.
    await t.app.liveEvents.idle();
    for (let seen = -1; seen !== queries.length; ) {
      seen = queries.length;
      await new Promise((r) => setTimeout(r, 150));
    }
    const before = queries.length;
    await alice.users.getUserStats({ name: alice.name });
    const ran = queries.slice(before);
    // The token check's user read, the caller, the aggregate: nothing per memo.
    expect(ran.filter((q) => /\bmemo\b/.test(q))).toHaveLength(1);
    expect(ran.length).toBeLessThanOrEqual(3);
  });

  test("ListAllUserStats: the web app's explore filter, per creator, only creators with matching memos", async () => {
    const { alice } = await seed();
    const bob = await newUser(t.baseUrl, "bob");
    await newMemo(bob, { visibility: Visibility.PUBLIC, content: "#book by bob" });
    await newMemo(bob, { visibility: Visibility.PRIVATE, content: "#hidden" });
    const res = await bob.users.listAllUserStats({ state: State.NORMAL, filter: 'visibility in ["PUBLIC"]' });
    const byName = new Map(res.stats.map((s) => [s.name, s]));
    expect(byName.get(`${alice.name}/stats`)).toMatchObject({ totalMemoCount: 1, tagCount: { book: 1, "book/fiction": 1 } });
    expect(byName.get(`${bob.name}/stats`)).toMatchObject({ totalMemoCount: 1, tagCount: { book: 1 } });
    const all = await bob.users.listAllUserStats({ state: State.NORMAL, filter: "" });
    const mine = all.stats.find((s) => s.name === `${bob.name}/stats`)!;
    expect(mine.totalMemoCount).toBe(2);
    expect(all.stats.find((s) => s.name === `${alice.name}/stats`)!.totalMemoCount).toBe(2);
    const tagged = await bob.users.listAllUserStats({ filter: `tag in ["secret"]` });
    expect(tagged.stats.find((s) => s.name === `${alice.name}/stats`)).toBeUndefined();
  });

  test("ListAllUserStats ARCHIVED counts the caller's own archived memos only; anonymous gets none", async () => {
    const { alice, archived } = await seed();
    const res = await alice.users.listAllUserStats({ state: State.ARCHIVED });
    expect(res.stats).toHaveLength(1);
    expect(res.stats[0]).toMatchObject({ name: `${alice.name}/stats`, totalMemoCount: 1, tagCount: { old: 1 } });
    const other = await newUser(t.baseUrl);
    expect((await other.users.listAllUserStats({ state: State.ARCHIVED })).stats).toEqual([]);
    await setAccessMode(t.app.database.db, "PUBLIC");
    try {
      const anon = serviceClients(t.baseUrl);
      expect((await anon.users.listAllUserStats({ state: State.ARCHIVED })).stats).toEqual([]);
      const pub = await anon.users.listAllUserStats({ state: State.NORMAL, filter: 'visibility in ["PUBLIC"]' });
      expect(pub.stats.every((s) => s.totalMemoCount >= 1)).toBe(true);
      expect(pub.stats.find((s) => s.name === `${alice.name}/stats`)?.pinnedMemos).toEqual([]);
    } finally {
      await setAccessMode(t.app.database.db, "PRIVATE");
    }
    void archived;
  });

  test("ListAllUserStats: an invalid filter is invalid_argument with the filter engine's message", async () => {
    const u = await newUser(t.baseUrl);
    const err = await errorOf(u.users.listAllUserStats({ filter: "nonsense ==" }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/^invalid filter: /);
  });

  test("REST: GET /api/v1/users/{u}:getStats and /api/v1/users:stats", async () => {
    const { alice } = await seed();
    const headers = { Authorization: `Bearer ${alice.token}` };
    const one = await fetch(`${t.baseUrl}/api/v1/${alice.name}:getStats`, { headers });
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ name: `${alice.name}/stats`, totalMemoCount: 3, memoTypeStats: { linkCount: 1 } });
    const all = await fetch(`${t.baseUrl}/api/v1/users:stats?filter=${encodeURIComponent('visibility in ["PUBLIC"]')}`, { headers });
    expect(all.status).toBe(200);
    expect(((await all.json()) as { stats: unknown[] }).stats.length).toBeGreaterThan(0);
  });
});
