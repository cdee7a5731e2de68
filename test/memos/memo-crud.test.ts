/** CreateMemo, GetMemo, UpdateMemo (every mask path), DeleteMemo and the read rules (spec §6.3-§6.8). */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { State } from "../../gen/memos/api/v1/common_pb.js";
import { LocationSchema, MemoRelation_Type, Visibility } from "../../gen/memos/api/v1/memo_service_pb.js";
import { INVALID_UID } from "../../src/domain/attachment-rules.js";
import { blobExists, newAttachment } from "./attachments-support.js";
import { anonymous, codeOf, errorOf, newMemo, newUser, startMemoApp, type MemoTestApp, type TestUser } from "./support.js";

let t: MemoTestApp;
let admin: TestUser;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  t = await startMemoApp();
  admin = await newUser(t.baseUrl, "admin");
  alice = await newUser(t.baseUrl, "alice");
  bob = await newUser(t.baseUrl, "bob");
}, 60_000);
afterAll(async () => {
  await t?.close();
});

describe("CreateMemo", () => {
  test("stores content and visibility, derives tags, property and snippet, ignores output-only fields", async () => {
    const memo = await alice.memos.createMemo({
      memoId: `hello-${Date.now()}`,
      memo: {
        content: "# Title\n\nHello #book/fiction and https://example.com\n\n- [ ] todo\n\n`code`",
        visibility: Visibility.PROTECTED,
        pinned: true,
        state: State.ARCHIVED,
        tags: ["ignored"],
      },
    });
    expect(memo).toMatchObject({
      name: expect.stringMatching(/^memos\/hello-\d+$/),
      state: State.NORMAL,
      creator: alice.name,
      visibility: Visibility.PROTECTED,
      pinned: false,
      tags: ["book", "book/fiction"],
      property: { hasLink: true, hasTaskList: true, hasIncompleteTasks: true, hasCode: true, title: "Title" },
      snippet: "Title Hello #book/fiction and https://example.com todo code",
      attachments: [],
      relations: [],
      reactions: [],
    });
    expect(memo.parent).toBeUndefined();
    expect(Number(memo.createTime!.seconds)).toBeGreaterThan(Date.now() / 1000 - 60);
  });

  test("visibility defaults to PRIVATE; a generated id is a 22-character shortuuid; empty content is allowed", async () => {
    const memo = await alice.memos.createMemo({ memo: { content: "" } });
    expect(memo.visibility).toBe(Visibility.PRIVATE);
    expect(memo.name).toMatch(/^memos\/[2-9A-HJ-NP-Za-km-z]{22}$/);
    expect(memo.snippet).toBe("");
  });

  test("custom create and update times are kept; location is stored", async () => {
    const memo = await newMemo(alice, {
      createTime: timestampFromMs(1_600_000_000_000),
      updateTime: timestampFromMs(1_600_000_100_000),
      location: create(LocationSchema, { placeholder: "Paris", latitude: 48.85, longitude: 2.35 }),
    });
    expect(Number(memo.createTime!.seconds)).toBe(1_600_000_000);
    expect(Number(memo.updateTime!.seconds)).toBe(1_600_000_100);
    expect(memo.location).toMatchObject({ placeholder: "Paris", latitude: 48.85, longitude: 2.35 });
  });

  test.each([
    ["memo missing", {}, Code.InvalidArgument, "memo is required"],
    ["bad memo id", { memoId: "-bad-", memo: { content: "x" } }, Code.InvalidArgument, INVALID_UID],
    ["content over 8192 bytes", { memo: { content: "é".repeat(4097) } }, Code.InvalidArgument, "content too long (max 8192 characters)"],
  ])("%s -> error", async (_label, req, code, message) => {
    const err = await errorOf(alice.memos.createMemo(req));
    expect([err.code, err.rawMessage]).toEqual([code, message]);
  });

  test("content of exactly 8192 bytes is accepted", async () => {
    await expect(newMemo(alice, { content: "a".repeat(8192) })).resolves.toBeDefined();
  });

  test("a taken id is already_exists", async () => {
    const id = `dup-${Date.now()}`;
    await newMemo(alice, { memoId: id });
    const err = await errorOf(newMemo(bob, { memoId: id }));
    expect([err.code, err.rawMessage]).toEqual([Code.AlreadyExists, `memo with ID "${id}" already exists`]);
  });

  test("anonymous callers cannot create", async () => {
    expect(await codeOf(anonymous(t.baseUrl).memos.createMemo({ memo: { content: "x" } }))).toBe(Code.Unauthenticated);
  });
});

describe("GetMemo read rules (spec §6.3)", () => {
  const viewers = ["creator", "other", "admin", "anonymous"] as const;
  const cases: Array<[string, Visibility, "PUBLIC" | "PRIVATE", Record<(typeof viewers)[number], Code | "ok">]> = [
    ["PUBLIC", Visibility.PUBLIC, "PUBLIC", { creator: "ok", other: "ok", admin: "ok", anonymous: "ok" }],
    ["PUBLIC", Visibility.PUBLIC, "PRIVATE", { creator: "ok", other: "ok", admin: "ok", anonymous: Code.Unauthenticated }],
    ["PROTECTED", Visibility.PROTECTED, "PUBLIC", { creator: "ok", other: "ok", admin: "ok", anonymous: Code.Unauthenticated }],
    ["PRIVATE", Visibility.PRIVATE, "PUBLIC", { creator: "ok", other: Code.PermissionDenied, admin: Code.PermissionDenied, anonymous: Code.Unauthenticated }],
  ];
  test.each(cases)("a %s memo (enum %i) on a %s instance", async (_label, visibility, mode, expected) => {
    await t.setAccessMode(mode);
    try {
      const memo = await newMemo(alice, { visibility });
      const clients = { creator: alice.memos, other: bob.memos, admin: admin.memos, anonymous: anonymous(t.baseUrl).memos };
      for (const viewer of viewers) {
        const outcome = await clients[viewer].getMemo({ name: memo.name }).then(
          () => "ok" as const,
          (err: unknown) => (err as { code: Code }).code,
        );
        expect([viewer, outcome]).toEqual([viewer, expected[viewer]]);
      }
    } finally {
      await t.setAccessMode("PRIVATE");
    }
  });

  test("an archived memo is readable by its creator only; others get not_found", async () => {
    const memo = await newMemo(alice, { visibility: Visibility.PUBLIC });
    await alice.memos.updateMemo({ memo: { name: memo.name, state: State.ARCHIVED }, updateMask: { paths: ["state"] } });
    await expect(alice.memos.getMemo({ name: memo.name })).resolves.toMatchObject({ state: State.ARCHIVED });
    expect(await codeOf(bob.memos.getMemo({ name: memo.name }))).toBe(Code.NotFound);
    expect(await codeOf(admin.memos.getMemo({ name: memo.name }))).toBe(Code.NotFound);
  });

  test("bad names are invalid_argument, unknown memos not_found", async () => {
    const bad = await errorOf(alice.memos.getMemo({ name: "memo/x" }));
    expect([bad.code, bad.rawMessage]).toEqual([Code.InvalidArgument, "invalid memo name: memo/x"]);
    const missing = await errorOf(alice.memos.getMemo({ name: "memos/does-not-exist" }));
    expect([missing.code, missing.rawMessage]).toEqual([Code.NotFound, "memo not found"]);
  });

  test("a comment takes its parent's visibility, now and after the parent changes", async () => {
    const parent = await newMemo(alice, { visibility: Visibility.PRIVATE });
    const comment = await alice.memos.createMemoComment({ name: parent.name, comment: { content: "note", visibility: Visibility.PUBLIC } });
    expect(comment).toMatchObject({ visibility: Visibility.PRIVATE, parent: parent.name });
    expect(await codeOf(bob.memos.getMemo({ name: comment.name }))).toBe(Code.PermissionDenied);

    await alice.memos.updateMemo({ memo: { name: parent.name, visibility: Visibility.PROTECTED }, updateMask: { paths: ["visibility"] } });
    await expect(bob.memos.getMemo({ name: comment.name })).resolves.toMatchObject({ visibility: Visibility.PROTECTED, parent: parent.name });
    // Setting a comment's visibility silently keeps the parent's.
    await alice.memos.updateMemo({ memo: { name: comment.name, visibility: Visibility.PRIVATE }, updateMask: { paths: ["visibility"] } });
    await expect(bob.memos.getMemo({ name: comment.name })).resolves.toMatchObject({ visibility: Visibility.PROTECTED });
  });

  test("a memo whose creator was deleted is not found (memo creator not found)", async () => {
    const gone = await newUser(t.baseUrl, "gone");
    const memo = await newMemo(gone, { visibility: Visibility.PUBLIC });
    await t.app.database.db.deleteFrom("user").where("id", "=", gone.userId).execute();
    const err = await errorOf(alice.memos.getMemo({ name: memo.name }));
    expect([err.code, err.rawMessage]).toEqual([Code.NotFound, "memo creator not found"]);
  });
});

describe("UpdateMemo", () => {
  test("content: derived fields rebuilt, update time not bumped without update_time in the mask", async () => {
    const memo = await newMemo(alice, { content: "old #a", updateTime: timestampFromMs(1_600_000_000_000) });
    const updated = await alice.memos.updateMemo({ memo: { name: memo.name, content: "# New\n\n#b #c/d" }, updateMask: { paths: ["content"] } });
    expect(updated).toMatchObject({ content: "# New\n\n#b #c/d", tags: ["b", "c", "c/d"], snippet: "New #b #c/d", property: { title: "New" } });
    expect(Number(updated.updateTime!.seconds)).toBe(1_600_000_000);
  });

  test("update_time: the given value, or now when absent; create_time: the given value", async () => {
    const memo = await newMemo(alice);
    const given = await alice.memos.updateMemo({
      memo: { name: memo.name, updateTime: timestampFromMs(1_500_000_000_000), createTime: timestampFromMs(1_400_000_000_000) },
      updateMask: { paths: ["update_time", "create_time"] },
    });
    expect([Number(given.updateTime!.seconds), Number(given.createTime!.seconds)]).toEqual([1_500_000_000, 1_400_000_000]);
    const now = await alice.memos.updateMemo({ memo: { name: memo.name }, updateMask: { paths: ["update_time"] } });
    expect(Number(now.updateTime!.seconds)).toBeGreaterThan(Date.now() / 1000 - 60);
  });

  test("visibility, pinned, state and location; unknown paths are ignored", async () => {
    const memo = await newMemo(alice, { location: create(LocationSchema, { placeholder: "x", latitude: 1, longitude: 2 }) });
    const updated = await alice.memos.updateMemo({
      memo: { name: memo.name, visibility: Visibility.PUBLIC, pinned: true, state: State.ARCHIVED, content: "not applied" },
      updateMask: { paths: ["visibility", "pinned", "state", "location", "tags", "snippet"] },
    });
    expect(updated).toMatchObject({ visibility: Visibility.PUBLIC, pinned: true, state: State.ARCHIVED, content: memo.content });
    expect(updated.location).toBeUndefined();
    const restored = await alice.memos.updateMemo({ memo: { name: memo.name, state: State.STATE_UNSPECIFIED }, updateMask: { paths: ["state"] } });
    expect(restored.state).toBe(State.NORMAL);
  });

  test("relations and attachments through the mask", async () => {
    const target = await newMemo(alice, { content: "target" });
    const file = await newAttachment(t, alice);
    const memo = await newMemo(alice);
    const updated = await alice.memos.updateMemo({
      memo: {
        name: memo.name,
        relations: [{ relatedMemo: { name: target.name }, type: MemoRelation_Type.REFERENCE }],
        attachments: [{ name: file.name }],
      },
      updateMask: { paths: ["relations", "attachments"] },
    });
    expect(updated.relations).toMatchObject([
      { memo: { name: memo.name, snippet: memo.snippet }, relatedMemo: { name: target.name, snippet: "target" }, type: MemoRelation_Type.REFERENCE },
    ]);
    expect(updated.attachments).toMatchObject([{ name: file.name, memo: memo.name }]);
  });

  test.each([
    ["memo missing", {}, Code.InvalidArgument, "memo is required"],
    ["bad name", { memo: { name: "nope" }, updateMask: { paths: ["content"] } }, Code.InvalidArgument, "invalid memo name: nope"],
    ["empty mask", { memo: { name: "memos/x" }, updateMask: { paths: [] } }, Code.InvalidArgument, "update mask is required"],
    ["unknown memo", { memo: { name: "memos/unknown-memo" }, updateMask: { paths: ["content"] } }, Code.NotFound, "memo not found"],
  ])("%s -> error", async (_label, req, code, message) => {
    const err = await errorOf(alice.memos.updateMemo(req));
    expect([err.code, err.rawMessage]).toEqual([code, message]);
  });

  test("display_time, an invalid create_time and too long content are invalid_argument; nothing changes", async () => {
    const memo = await newMemo(alice, { content: "keep" });
    const cases: Array<[string[], string]> = [
      [["display_time"], "display_time is not supported"],
      [["content", "create_time"], "create_time is invalid"],
    ];
    for (const [paths, message] of cases) {
      const err = await errorOf(
        alice.memos.updateMemo({ memo: { name: memo.name, content: "changed", createTime: { seconds: 999_999_999_999n, nanos: 0 } }, updateMask: { paths } }),
      );
      expect([err.code, err.rawMessage]).toEqual([Code.InvalidArgument, message]);
    }
    const long = await errorOf(alice.memos.updateMemo({ memo: { name: memo.name, content: "x".repeat(9000) }, updateMask: { paths: ["content"] } }));
    expect(long.code).toBe(Code.InvalidArgument);
    await expect(alice.memos.getMemo({ name: memo.name })).resolves.toMatchObject({ content: "keep" });
  });

  test("others may not update; admins may, even a PRIVATE memo they cannot read", async () => {
    const memo = await newMemo(alice, { visibility: Visibility.PRIVATE });
    expect(await codeOf(bob.memos.updateMemo({ memo: { name: memo.name, pinned: true }, updateMask: { paths: ["pinned"] } }))).toBe(Code.PermissionDenied);
    await expect(admin.memos.updateMemo({ memo: { name: memo.name, pinned: true }, updateMask: { paths: ["pinned"] } })).resolves.toMatchObject({
      pinned: true,
    });
    expect(await codeOf(admin.memos.getMemo({ name: memo.name }))).toBe(Code.PermissionDenied);
  });
});

describe("DeleteMemo", () => {
  test("deletes comments (with their attachments and reactions), relations, reactions, shares, attachments and their stored bytes", async () => {
    const db = t.app.database.db;
    const other = await newMemo(bob, { visibility: Visibility.PUBLIC });
    const file = await newAttachment(t, alice);
    const memo = await newMemo(alice, {
      visibility: Visibility.PUBLIC,
      attachments: [{ name: file.name }],
      relations: [{ relatedMemo: { name: other.name } }],
    });
    await bob.memos.setMemoRelations({ name: other.name, relations: [{ relatedMemo: { name: memo.name } }] });
    const commentFile = await newAttachment(t, bob);
    const comment = await bob.memos.createMemoComment({ name: memo.name, comment: { content: "c", attachments: [{ name: commentFile.name }] } });
    await bob.memos.upsertMemoReaction({ name: comment.name, reaction: { reactionType: "👍" } });
    await bob.memos.upsertMemoReaction({ name: memo.name, reaction: { reactionType: "🎉" } });
    await alice.memos.createMemoShare({ parent: memo.name, memoShare: {} });
    const ids = (await db.selectFrom("memo").select("id").where("uid", "in", [memo.name.slice(6), comment.name.slice(6)]).execute()).map((r) => r.id);

    expect(await codeOf(bob.memos.deleteMemo({ name: memo.name }))).toBe(Code.PermissionDenied);
    await alice.memos.deleteMemo({ name: memo.name });

    expect(await codeOf(alice.memos.getMemo({ name: memo.name }))).toBe(Code.NotFound);
    expect(await codeOf(bob.memos.getMemo({ name: comment.name }))).toBe(Code.NotFound);
    const count = async (table: "memo_relation" | "reaction" | "memo_share" | "attachment", column: "memo_id" | "related_memo_id") =>
      (await db.selectFrom(table).select(column).where(column, "in", ids).execute()).length;
    expect(await count("memo_relation", "memo_id")).toBe(0);
    expect(await count("memo_relation", "related_memo_id")).toBe(0);
    expect(await count("reaction", "memo_id")).toBe(0);
    expect(await count("memo_share", "memo_id")).toBe(0);
    expect(await count("attachment", "memo_id")).toBe(0);
    for (const f of [file, commentFile]) {
      expect([f.uid, await blobExists(t, f.key), await blobExists(t, f.thumbnail)]).toEqual([f.uid, false, false]);
    }
    // The other memo is untouched, its relation to the deleted memo gone.
    await expect(bob.memos.getMemo({ name: other.name })).resolves.toMatchObject({ relations: [] });
  });

  test("unknown is not_found (before auth), admins may delete others' memos", async () => {
    expect(await codeOf(anonymous(t.baseUrl).memos.deleteMemo({ name: "memos/unknown-memo" }))).toBe(Code.Unauthenticated); // the gate first
    expect(await codeOf(alice.memos.deleteMemo({ name: "memos/unknown-memo" }))).toBe(Code.NotFound);
    const memo = await newMemo(alice);
    await admin.memos.deleteMemo({ name: memo.name });
    expect(await codeOf(alice.memos.getMemo({ name: memo.name }))).toBe(Code.NotFound);
  });
});
