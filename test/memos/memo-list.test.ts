/** ListMemos: scope (spec §6.7), filters, order_by, keyset page tokens; on PGlite and on Postgres. */
import { randomBytes } from "node:crypto";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { State } from "../../gen/memos/api/v1/common_pb.js";
import { Visibility, type Memo } from "../../gen/memos/api/v1/memo_service_pb.js";
import { createKeysetTokenCodec, deriveKeysetTokenKey } from "../../src/domain/keyset-page-token.js";
import { openDatabase } from "../../src/store/database.js";
import { instanceSecret } from "../auth/support.js";
import { startTestApp } from "../support/app.js";
import { DRIVERS } from "../support/database.js";
import { findPostgresBin, startPostgres } from "../support/postgres.js";
import { anonymous, codeOf, errorOf, memoClient, newMemo, newUser, startMemoApp, type MemoTestApp, type TestUser } from "./support.js";

/** A tag no other test uses, so a `tag in [...]` filter isolates a test's memos. */
const uniqueTag = () => `t${randomBytes(5).toString("hex")}`;
const names = (memos: readonly Memo[]) => memos.map((m) => m.name);

describe.each(DRIVERS)("ListMemos on %s", (driver) => {
  let t: MemoTestApp;
  let admin: TestUser;
  let alice: TestUser;
  let bob: TestUser;
  beforeAll(async () => {
    t = await startMemoApp(driver);
    admin = await newUser(t.baseUrl, "admin");
    alice = await newUser(t.baseUrl, "alice");
    bob = await newUser(t.baseUrl, "bob");
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  test("scope: own memos plus others' PUBLIC and PROTECTED; admins get nothing extra; comments never", async () => {
    const tag = uniqueTag();
    const content = `#${tag}`;
    const pub = await newMemo(alice, { content, visibility: Visibility.PUBLIC });
    const prot = await newMemo(alice, { content, visibility: Visibility.PROTECTED });
    const priv = await newMemo(alice, { content, visibility: Visibility.PRIVATE });
    const bobs = await newMemo(bob, { content, visibility: Visibility.PRIVATE });
    const admins = await newMemo(admin, { content, visibility: Visibility.PRIVATE });
    await bob.memos.createMemoComment({ name: pub.name, comment: { content } });
    const filter = `tag in ["${tag}"]`;
    const list = async (user: TestUser) => names((await user.memos.listMemos({ filter })).memos);
    expect(await list(alice)).toEqual([priv.name, prot.name, pub.name]);
    expect(await list(bob)).toEqual([bobs.name, prot.name, pub.name]);
    expect(await list(admin)).toEqual([admins.name, prot.name, pub.name]);

    await t.setAccessMode("PUBLIC");
    try {
      expect(names((await anonymous(t.baseUrl).memos.listMemos({ filter })).memos)).toEqual([pub.name]);
      expect((await anonymous(t.baseUrl).memos.listMemos({ filter, state: State.ARCHIVED })).memos).toEqual([]);
    } finally {
      await t.setAccessMode("PRIVATE");
    }
    expect(await codeOf(anonymous(t.baseUrl).memos.listMemos({ filter }))).toBe(Code.Unauthenticated);
  });

  test("state ARCHIVED lists the caller's own archived memos, whatever their visibility", async () => {
    const tag = uniqueTag();
    const mine = await newMemo(alice, { content: `#${tag}`, visibility: Visibility.PUBLIC });
    const theirs = await newMemo(bob, { content: `#${tag}`, visibility: Visibility.PUBLIC });
    for (const [user, memo] of [[alice, mine], [bob, theirs]] as const) {
      await user.memos.updateMemo({ memo: { name: memo.name, state: State.ARCHIVED }, updateMask: { paths: ["state"] } });
    }
    const filter = `tag in ["${tag}"]`;
    expect(names((await alice.memos.listMemos({ filter, state: State.ARCHIVED })).memos)).toEqual([mine.name]);
    expect((await alice.memos.listMemos({ filter })).memos).toEqual([]);
  });

  test("the web app's home query: creator filter, pinned first, then newest", async () => {
    const tag = uniqueTag();
    const old = await newMemo(alice, { content: `#${tag} old`, createTime: timestampFromMs(1_600_000_000_000) });
    const newer = await newMemo(alice, { content: `#${tag} newer`, createTime: timestampFromMs(1_700_000_000_000) });
    await newMemo(bob, { content: `#${tag}`, visibility: Visibility.PUBLIC });
    await alice.memos.updateMemo({ memo: { name: old.name, pinned: true }, updateMask: { paths: ["pinned"] } });
    const res = await alice.memos.listMemos({
      pageSize: 16,
      state: State.NORMAL,
      orderBy: "pinned desc, create_time desc",
      filter: `creator == "${alice.name}" && tag in ["${tag}"]`,
    });
    expect(names(res.memos)).toEqual([old.name, newer.name]);
    // Without `pinned` in the order, pinned memos are not floated (spec §6.7).
    expect(names((await alice.memos.listMemos({ filter: `tag in ["${tag}"] && creator == "${alice.name}"` })).memos)).toEqual([newer.name, old.name]);
  });

  test("order_by: create_time asc, update_time, name; a bad order is invalid_argument", async () => {
    const tag = uniqueTag();
    const a = await newMemo(alice, { content: `#${tag}`, createTime: timestampFromMs(1_600_000_000_000), updateTime: timestampFromMs(1_650_000_000_000) });
    const b = await newMemo(alice, { content: `#${tag}`, createTime: timestampFromMs(1_610_000_000_000), updateTime: timestampFromMs(1_640_000_000_000) });
    const filter = `tag in ["${tag}"]`;
    const order = async (orderBy: string) => names((await alice.memos.listMemos({ filter, orderBy })).memos);
    expect(await order("create_time asc")).toEqual([a.name, b.name]);
    expect(await order("update_time desc")).toEqual([a.name, b.name]);
    expect(await order("name desc")).toEqual([b.name, a.name]);
    const err = await errorOf(alice.memos.listMemos({ orderBy: "display_time desc" }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/^invalid order_by: unsupported order field "display_time"/);
  });

  test("filters: content, tags, properties, times; an invalid filter says what and where", async () => {
    const tag = uniqueTag();
    const task = await newMemo(alice, { content: `#${tag}\n\n- [ ] Buy MILK` });
    const link = await newMemo(alice, { content: `#${tag} see https://example.com`, createTime: timestampFromMs(1_500_000_000_000) });
    const base = `tag in ["${tag}"]`;
    const run = async (f: string) => names((await alice.memos.listMemos({ filter: `${base} && (${f})` })).memos);
    expect(await run(`content.contains("milk")`)).toEqual([task.name]);
    expect(await run("has_incomplete_tasks")).toEqual([task.name]);
    expect(await run("has_link && !has_task_list")).toEqual([link.name]);
    expect(await run(`created_ts < timestamp("2020-01-01T00:00:00Z")`)).toEqual([link.name]);
    expect(await run(`tags.exists(t, t.startsWith("${tag.slice(0, 4)}"))`)).toEqual([task.name, link.name]);
    const err = await errorOf(alice.memos.listMemos({ filter: "content == 1" }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/^invalid filter: .+ at column \d+$/);
    expect((await errorOf(alice.memos.listMemos({ filter: "nonsense_field == 1" }))).rawMessage).toMatch(/^invalid filter: .*nonsense_field/);
  });

  /** Walks every page; `between` runs after each page (e.g. to create memos during the walk). */
  async function walk(user: TestUser, req: { filter: string; orderBy?: string; pageSize: number }, between?: (page: number) => Promise<void>) {
    const seen: string[] = [];
    let pageToken = "";
    for (let page = 0; page < 100; page++) {
      const res = await user.memos.listMemos({ ...req, pageToken });
      expect(res.memos.length).toBeLessThanOrEqual(req.pageSize);
      seen.push(...names(res.memos));
      if (res.nextPageToken === "") return seen;
      await between?.(page);
      pageToken = res.nextPageToken;
    }
    throw new Error("too many pages");
  }

  test.each([
    ["create_time desc (default)", ""],
    ["pinned desc, create_time desc", "pinned desc, create_time desc"],
    ["create_time asc", "create_time asc"],
    ["update_time asc", "update_time asc"],
  ])("walking every page (%s) returns each memo exactly once while memos are created during the walk", async (_label, orderBy) => {
    const tag = uniqueTag();
    const originals: Memo[] = [];
    // Many ties on the time columns, so the id tie-breaker matters.
    for (let i = 0; i < 17; i++) {
      const ts = timestampFromMs((1_600_000_000 + Math.floor(i / 4)) * 1000);
      originals.push(await newMemo(alice, { content: `#${tag} ${i}`, createTime: ts, updateTime: ts, visibility: Visibility.PUBLIC }));
    }
    for (const i of [3, 9]) {
      await alice.memos.updateMemo({ memo: { name: originals[i]!.name, pinned: true }, updateMask: { paths: ["pinned"] } });
    }
    const added: string[] = [];
    const seen = await walk(bob, { filter: `tag in ["${tag}"]`, orderBy, pageSize: 4 }, async () => {
      // New memos with current times (sorting first or last) and one inside the walked range.
      added.push((await newMemo(alice, { content: `#${tag} new`, visibility: Visibility.PUBLIC })).name);
      const mid = timestampFromMs(1_600_000_002_000);
      added.push((await newMemo(alice, { content: `#${tag} mid`, createTime: mid, updateTime: mid, visibility: Visibility.PUBLIC })).name);
    });
    expect(new Set(seen).size).toBe(seen.length);
    for (const m of originals) expect(seen).toContain(m.name);
    expect(seen.filter((n) => !added.includes(n)).length).toBe(originals.length);
    // The walk is in the list's order.
    const all = names((await bob.memos.listMemos({ filter: `tag in ["${tag}"]`, orderBy, pageSize: 1000 })).memos);
    expect(seen).toEqual(all.filter((n) => seen.includes(n)));
  });

  test("page tokens: tampered, for another query, stale or garbage -> invalid_argument; legacy offset tokens still work", async () => {
    const tag = uniqueTag();
    const created: Memo[] = [];
    for (let i = 0; i < 5; i++) created.push(await newMemo(alice, { content: `#${tag}` }));
    const filter = `tag in ["${tag}"]`;
    const first = await alice.memos.listMemos({ filter, pageSize: 2 });
    expect(first.nextPageToken).toMatch(/^k1\./);
    const token = first.nextPageToken;
    const tampered = token.slice(0, -2) + (token.endsWith("A") ? "BB" : "AA");
    const expectInvalid = async (req: Parameters<TestUser["memos"]["listMemos"]>[0], pattern: RegExp) => {
      const err = await errorOf(alice.memos.listMemos(req));
      expect([err.code, err.rawMessage]).toEqual([Code.InvalidArgument, expect.stringMatching(pattern)]);
    };
    await expectInvalid({ filter, pageToken: tampered }, /^invalid page token: /);
    await expectInvalid({ filter: `${filter} && pinned`, pageToken: token }, /different query/);
    await expectInvalid({ filter, orderBy: "create_time asc", pageToken: token }, /different query/);
    await expectInvalid({ filter, pageToken: "garbage!" }, /^invalid page token: /);
    expect(await codeOf(bob.memos.listMemos({ filter, pageToken: token }))).toBe(Code.InvalidArgument); // another caller's listing

    // Tokens are keyed by the instance secret: one minted elsewhere with it works, unless stale.
    const key = deriveKeysetTokenKey(await instanceSecret(t.app.database.db));
    const query = { list: "memos", state: "NORMAL", filter, order: "created_ts desc,id desc", viewer: alice.userId };
    // The cursor of the second page: the last memo of the first (the 4th created of 5, newest first).
    const last = created[3]!;
    const row = await t.app.database.db.selectFrom("memo").select(["created_ts", "id"]).where("uid", "=", last.name.slice(6)).executeTakeFirstOrThrow();
    const fresh = createKeysetTokenCodec({ key }).encode([Number(row.created_ts), row.id], query);
    expect(names((await alice.memos.listMemos({ filter, pageToken: fresh })).memos)).toEqual(names(created.slice(0, 3).reverse()));
    const stale = createKeysetTokenCodec({ key, now: () => Date.now() / 1000 - 8 * 24 * 3600 }).encode([Number(row.created_ts), row.id], query);
    await expectInvalid({ filter, pageToken: stale }, /expired/);

    // Spec §2.2 offset token limit 2 / offset 2 (`CAIQAg==`): the second page of two.
    const legacy = await alice.memos.listMemos({ filter, pageToken: "CAIQAg==" });
    expect(names(legacy.memos)).toEqual(names(created.slice(1, 3).reverse()));
    expect(legacy.nextPageToken).toMatch(/^k1\./);
    expect(names((await alice.memos.listMemos({ filter, pageToken: legacy.nextPageToken })).memos)).toEqual([created[0]!.name]);
  });

  test("page size: <= 0 means 50, above 1000 means 1000; the last page has no token", async () => {
    const tag = uniqueTag();
    for (let i = 0; i < 3; i++) await newMemo(alice, { content: `#${tag}` });
    const res = await alice.memos.listMemos({ filter: `tag in ["${tag}"]`, pageSize: 0 });
    expect([res.memos.length, res.nextPageToken]).toEqual([3, ""]);
    const exact = await alice.memos.listMemos({ filter: `tag in ["${tag}"]`, pageSize: 3 });
    expect([exact.memos.length, exact.nextPageToken]).toEqual([3, ""]);
  });
});

(findPostgresBin() === undefined ? describe.skip : describe)("page tokens across replicas", () => {
  test("a token minted by one replica is accepted by another on the same database, and after a restart", async () => {
    const server = await startPostgres();
    const apps: Array<{ close(): Promise<void>; baseUrl: string }> = [];
    try {
      const start = async () => {
        const app = await startTestApp({}, { database: await openDatabase({ driver: "postgres", dsn: server.dsn }) });
        apps.push(app);
        return app;
      };
      const a = await start();
      const b = await start();
      const user = await newUser(a.baseUrl);
      for (let i = 0; i < 3; i++) await newMemo(user);
      const first = await user.memos.listMemos({ pageSize: 2 });
      // Same user, other replica: the token continues the same listing.
      expect((await memoClient(b.baseUrl, user.token).listMemos({ pageSize: 2, pageToken: first.nextPageToken })).memos).toHaveLength(1);
      // And after a restart (a new process derives the same key from the stored secret).
      await a.close();
      apps.splice(apps.indexOf(a), 1);
      const restarted = await start();
      expect((await memoClient(restarted.baseUrl, user.token).listMemos({ pageSize: 2, pageToken: first.nextPageToken })).memos).toHaveLength(1);
    } finally {
      for (const app of apps) await app.close().catch(() => {});
      server.stop();
    }
  }, 60_000);
});
