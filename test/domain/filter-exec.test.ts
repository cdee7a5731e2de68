import type { Db } from "../../src/store/database.js";
import { compileAttachmentFilter } from "../../src/domain/filter/attachment-filter.js";
import { compileMemoFilter } from "../../src/domain/filter/memo-filter.js";
import { DRIVERS, openTestDatabase, type TestDatabase } from "../support/database.js";

/** 2026-01-01T00:00:00Z, a Thursday. */
const NOW = 1767225600;
const at = (iso: string): number => Date.parse(iso) / 1000;

interface MemoSeed {
  uid: string;
  creator: "alice" | "bob";
  content: string;
  visibility: "PUBLIC" | "PROTECTED" | "PRIVATE";
  pinned?: boolean;
  created: string;
  updated?: string;
  payload: Record<string, unknown>;
}

/** A handful of memos whose properties cover every identifier of spec §6.7.1. */
const MEMOS: MemoSeed[] = [
  {
    uid: "m1",
    creator: "alice",
    content: "Hello #book/fiction world",
    visibility: "PUBLIC",
    pinned: true,
    created: "2025-06-15T10:30:45Z", // Sunday, day 165 of the year (0-based)
    updated: "2025-12-31T12:00:00Z",
    payload: { tags: ["book", "book/fiction"] },
  },
  {
    uid: "m2",
    creator: "alice",
    content: "50% off_sale \\ path [link](https://x.com)",
    visibility: "PRIVATE",
    created: "2024-02-29T23:59:59Z",
    payload: { tags: ["Work", "a_b"], property: { hasLink: true } },
  },
  {
    uid: "m3",
    creator: "bob",
    content: "- [ ] todo `code`",
    visibility: "PROTECTED",
    created: "2025-12-30T00:00:00Z",
    payload: {
      tags: ["work", "todo"],
      property: { hasTaskList: true, hasIncompleteTasks: true, hasCode: true },
      location: { placeholder: "Paris", latitude: 48.8, longitude: 2.3 },
    },
  },
  {
    uid: "m4",
    creator: "bob",
    content: "Plain text ünïcode 'quotes' \"double\"",
    visibility: "PUBLIC",
    created: "2023-01-01T00:00:00Z",
    payload: {},
  },
  {
    uid: "m5",
    creator: "alice",
    content: "",
    visibility: "PUBLIC",
    created: "2025-12-31T23:00:00Z",
    payload: { tags: ["a%b"], location: null },
  },
  {
    uid: "m6",
    creator: "bob",
    content: "#book",
    visibility: "PROTECTED",
    pinned: true,
    created: "2025-01-01T00:00:00Z",
    payload: { tags: ["book"], property: { hasTaskList: true } },
  },
];

describe.each(DRIVERS)("filters executed on %s", (driver) => {
  let t: TestDatabase;
  let db: Db;
  const userIds: Record<string, number> = {};
  const memoIds: Record<string, number> = {};

  beforeAll(async () => {
    t = await openTestDatabase(driver);
    db = t.database.db;
    for (const username of ["alice", "bob"]) {
      const row = await db
        .insertInto("user")
        .values({ username, password_hash: "x" })
        .returning("id")
        .executeTakeFirstOrThrow();
      userIds[username] = row.id;
    }
    for (const m of MEMOS) {
      const row = await db
        .insertInto("memo")
        .values({
          uid: m.uid,
          creator_id: userIds[m.creator]!,
          content: m.content,
          visibility: m.visibility,
          pinned: m.pinned ?? false,
          created_ts: at(m.created),
          updated_ts: at(m.updated ?? m.created),
          payload: JSON.stringify(m.payload),
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      memoIds[m.uid] = row.id;
    }
    const attachments = [
      { uid: "a1", filename: "report-2025.pdf", type: "application/pdf", memo_id: memoIds.m1!, created_ts: NOW - 1800 },
      { uid: "a2", filename: "photo.PNG", type: "image/png", memo_id: null, created_ts: at("2024-05-01T00:00:00Z") },
      { uid: "a3", filename: "50%_done.txt", type: "text/plain", memo_id: null, created_ts: at("2025-11-01T00:00:00Z") },
      { uid: "a4", filename: "b.jpg", type: "image/jpeg", memo_id: memoIds.m3!, created_ts: NOW - 7200 },
    ];
    for (const a of attachments) {
      await db
        .insertInto("attachment")
        .values({ ...a, creator_id: userIds.alice!, updated_ts: a.created_ts })
        .execute();
    }
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  async function memoUids(filter: string): Promise<string[]> {
    const rows = await db
      .selectFrom("memo")
      .innerJoin("user as creator", "creator.id", "memo.creator_id")
      .select("memo.uid")
      .where(compileMemoFilter(filter, { now: NOW }))
      .orderBy("memo.uid")
      .execute();
    return rows.map((r) => r.uid);
  }

  async function attachmentUids(filter: string): Promise<string[]> {
    const rows = await db
      .selectFrom("attachment")
      .select("attachment.uid")
      .where(compileAttachmentFilter(filter, { now: NOW }))
      .orderBy("attachment.uid")
      .execute();
    return rows.map((r) => r.uid);
  }

  /** [filter, uids it selects]: every identifier, operator, function and macro at least once. */
  const MEMO_CASES: Array<[string, string[]]> = [
    // content
    ['content == "#book"', ["m6"]],
    ['content != "#book"', ["m1", "m2", "m3", "m4", "m5"]],
    // byte order: the test databases use the C collation
    ['content < "5"', ["m3", "m5", "m6"]],
    ['content <= "#book"', ["m5", "m6"]],
    ['content > "P"', ["m4"]],
    ['content >= "Plain"', ["m4"]],
    ['content in ["#book", ""]', ["m5", "m6"]],
    ['content.contains("HELLO")', ["m1"]],
    ['content.startsWith("- [ ]")', ["m3"]],
    ['content.endsWith("WORLD")', ["m1"]],
    ['content.matches("^[0-9]+%")', ["m2"]],
    ["size(content) == 0", ["m5"]],
    ["size(content) > 30", ["m2", "m4"]],
    // LIKE metacharacters and quotes are literal; unicode round-trips
    ['content.contains("%")', ["m2"]],
    ['content.contains("_")', ["m2"]],
    ['content.contains("\\\\")', ["m2"]],
    ['content.contains("0% o")', ["m2"]],
    ['content.contains("f_s")', ["m2"]],
    ['content.contains("ünï")', ["m4"]],
    ["content.contains(\"'quotes'\")", ["m4"]],
    ['content.contains("\\"double\\"")', ["m4"]],
    ["content.contains(\"'); DROP TABLE memo; --\")", []],
    ['content.contains("")', ["m1", "m2", "m3", "m4", "m5", "m6"]],
    // creator, creator_id
    ['creator == "users/alice"', ["m1", "m2", "m5"]],
    ['creator != "users/alice"', ["m3", "m4", "m6"]],
    ['creator in ["users/bob", "users/nobody"]', ["m3", "m4", "m6"]],
    ['creator == "users/ALICE"', []],
    // time
    ['created_ts >= now - duration("168h")', ["m3", "m5"]],
    ['created_ts < timestamp("2024-03-01T00:00:00Z")', ["m2", "m4"]],
    ['created_ts == timestamp("2025-06-15T12:30:45+02:00")', ["m1"]],
    ["created_ts <= timestamp(1672531200)", ["m4"]],
    ['created_ts > timestamp("2025-12-30T00:00:00.5Z")', ["m5"]],
    ['created_ts >= timestamp("2025-12-29T23:59:59.5Z") && created_ts < timestamp("2025-12-31T00:00:00Z")', ["m3"]],
    ['created_ts != timestamp("2025-12-30T00:00:00Z")', ["m1", "m2", "m4", "m5", "m6"]],
    ['updated_ts > timestamp("2025-12-31T00:00:00Z")', ["m1", "m5"]],
    ["now - duration(\"1h\") <= created_ts", ["m5"]],
    // timestamp accessors (UTC, CEL bases)
    ["created_ts.getFullYear() == 2024", ["m2"]],
    ["created_ts.getMonth() == 1", ["m2"]],
    ["created_ts.getDate() == 29", ["m2"]],
    ["created_ts.getDayOfMonth() == 28", ["m2"]],
    ["created_ts.getDayOfWeek() == 0", ["m1", "m4"]],
    ["created_ts.getDayOfYear() == 165", ["m1"]],
    ["created_ts.getHours() == 10 && created_ts.getMinutes() == 30 && created_ts.getSeconds() == 45", ["m1"]],
    ["updated_ts.getHours() >= 12", ["m1", "m2", "m5"]],
    // pinned
    ["pinned", ["m1", "m6"]],
    ["!pinned", ["m2", "m3", "m4", "m5"]],
    ["pinned == true", ["m1", "m6"]],
    ["pinned == false", ["m2", "m3", "m4", "m5"]],
    ["pinned != true", ["m2", "m3", "m4", "m5"]],
    // visibility
    ['visibility == "PUBLIC"', ["m1", "m4", "m5"]],
    ['visibility != "PUBLIC"', ["m2", "m3", "m6"]],
    ['visibility in ["PUBLIC", "PROTECTED"]', ["m1", "m3", "m4", "m5", "m6"]],
    // tags: exact, case-sensitive, byte-wise; LIKE metacharacters literal
    ['"book" in tags', ["m1", "m6"]],
    ['"work" in tags', ["m3"]],
    ['"Work" in tags', ["m2"]],
    ['"fiction" in tags', []],
    ['tags.exists(t, t == "book/fiction")', ["m1"]],
    ['tags.exists(t, t.startsWith("a%"))', ["m5"]],
    ['tags.exists(t, t.startsWith("a_"))', ["m2"]],
    ['tags.exists(t, t == "a_b") && !tags.exists(t, t == "axb")', ["m2"]],
    ['tags.exists(t, t.endsWith("fiction"))', ["m1"]],
    ['tags.exists(t, t.contains("or"))', ["m2", "m3"]],
    ['tags.exists(t, t.contains("OR"))', []],
    ['tags.all(t, t.startsWith("book"))', ["m1", "m6"]],
    ['tags.all(t, t.contains(""))', ["m1", "m2", "m3", "m5", "m6"]],
    ['tags.exists_one(t, t.startsWith("book"))', ["m6"]],
    ['tags.exists_one(t, t.startsWith("a"))', ["m2", "m5"]],
    ['tags.exists_one(t, t.startsWith("x"))', []],
    ["size(tags) == 0", ["m4"]],
    ["size(tags) >= 2", ["m1", "m2", "m3"]],
    ['sets.contains(tags, ["book", "book/fiction"])', ["m1"]],
    ['sets.contains(tags, ["book"])', ["m1", "m6"]],
    ['sets.intersects(tags, ["todo", "Work"])', ["m2", "m3"]],
    ['sets.equivalent(tags, ["book"])', ["m6"]],
    ['sets.equivalent(tags, ["todo", "work", "work"])', ["m3"]],
    ['tag in ["book"]', ["m1", "m6"]],
    ['tag in ["todo", "a%b"]', ["m3", "m5"]],
    // payload properties
    ["has_task_list", ["m3", "m6"]],
    ["!has_task_list", ["m1", "m2", "m4", "m5"]],
    ["has_link", ["m2"]],
    ["has_code == true", ["m3"]],
    ["has_incomplete_tasks", ["m3"]],
    ["has_incomplete_tasks != true", ["m1", "m2", "m4", "m5", "m6"]],
    ["has_location", ["m3"]],
    ["has_location == false", ["m1", "m2", "m4", "m5", "m6"]],
    // constants and folding
    ["true", ["m1", "m2", "m3", "m4", "m5", "m6"]],
    ["1 == 2", []],
    ["now.getFullYear() >= 2026 && pinned", ["m1", "m6"]],
    ['now > timestamp("2025-01-01T00:00:00Z") || has_link', ["m1", "m2", "m3", "m4", "m5", "m6"]],
    // combinations as the web app sends them (web-app-flows.md)
    ['creator == "users/bob" && visibility in ["PUBLIC", "PROTECTED"]', ["m3", "m4", "m6"]],
    ['(pinned || has_location) && !(creator == "users/alice")', ["m3", "m6"]],
  ];

  test.each(MEMO_CASES)("memo %s", async (filter, expected) => {
    expect(await memoUids(filter)).toEqual(expected);
  });

  test("creator_id compares the internal id", async () => {
    expect(await memoUids(`creator_id == ${userIds.bob}`)).toEqual(["m3", "m4", "m6"]);
    expect(await memoUids(`creator_id != ${userIds.bob}`)).toEqual(["m1", "m2", "m5"]);
    expect(await memoUids(`creator_id in [${userIds.alice}, 0]`)).toEqual(["m1", "m2", "m5"]);
  });

  test("hostile strings round-trip as literals", async () => {
    for (const hostile of ["'", "''", "\\", "%", "_", "%_\\", "'; DELETE FROM memo; --", "", "é✓😀"]) {
      const literal = JSON.stringify(hostile);
      await expect(memoUids(`content == ${literal} && creator == ${literal}`)).resolves.toEqual([]);
      await expect(memoUids(`${literal} in tags || tag in [${literal}]`)).resolves.toEqual([]);
      await expect(memoUids(`tags.exists(t, t.contains(${literal}))`)).resolves.toEqual(
        hostile === "" ? ["m1", "m2", "m3", "m5", "m6"] : hostile === "%" ? ["m5"] : hostile === "_" ? ["m2"] : [],
      );
    }
    expect(await db.selectFrom("memo").select("uid").execute()).toHaveLength(MEMOS.length);
  });

  const ATTACHMENT_CASES: Array<[string, string[]]> = [
    ['mime_type == "image/png"', ["a2"]],
    ['mime_type != "image/png"', ["a1", "a3", "a4"]],
    ['mime_type in ["image/png", "image/jpeg"]', ["a2", "a4"]],
    ['mime_type.startsWith("image/")', ["a2", "a4"]],
    ['filename.contains("report")', ["a1"]],
    ['filename.endsWith(".png")', ["a2"]],
    ['filename.contains("%_")', ["a3"]],
    ['filename.matches("^[0-9]+%")', ["a3"]],
    ['filename < "c"', ["a3", "a4"]],
    ["size(filename) > 11", ["a1", "a3"]],
    ['filename.contains("")', ["a1", "a2", "a3", "a4"]],
    ['create_time >= now - duration("1h")', ["a1"]],
    ['create_time < timestamp("2025-01-01T00:00:00Z")', ["a2"]],
    ["create_time.getMonth() == 10", ["a3"]],
    ["memo_id == null", ["a2", "a3"]],
    ["memo_id != null", ["a1", "a4"]],
    ['memo_id != null && mime_type.startsWith("image/")', ["a4"]],
  ];

  test.each(ATTACHMENT_CASES)("attachment %s", async (filter, expected) => {
    expect(await attachmentUids(filter)).toEqual(expected);
  });

  test("memo_id compares the internal memo id", async () => {
    expect(await attachmentUids(`memo_id == ${memoIds.m3}`)).toEqual(["a4"]);
  });
});
