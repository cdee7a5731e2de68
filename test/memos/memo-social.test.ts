/** Comments (spec §6.11), relations (§6.10), reactions (§6.12), inbox notifications and memo events. */
import { Code } from "@connectrpc/connect";
import { State } from "../../gen/memos/api/v1/common_pb.js";
import { MemoRelation_Type, Visibility, type Memo } from "../../gen/memos/api/v1/memo_service_pb.js";
import type { MemoEvent } from "../../src/services/memo-events.js";
import { anonymous, codeOf, errorOf, newMemo, newUser, startMemoApp, type MemoTestApp, type TestUser } from "./support.js";

let t: MemoTestApp;
let admin: TestUser;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

beforeAll(async () => {
  t = await startMemoApp();
  admin = await newUser(t.baseUrl, "admin");
  alice = await newUser(t.baseUrl, "alice");
  bob = await newUser(t.baseUrl, "bob");
  carol = await newUser(t.baseUrl, "carol");
}, 60_000);
afterAll(async () => {
  await t?.close();
});

describe("comments", () => {
  test("a comment is a memo with the parent's visibility and a COMMENT relation; the parent lists it", async () => {
    const parent = await newMemo(alice, { visibility: Visibility.PROTECTED, content: "parent" });
    const comment = await bob.memos.createMemoComment({
      name: parent.name,
      commentId: `cmt-${Date.now()}`,
      comment: { content: "nice #tag", visibility: Visibility.PUBLIC },
    });
    expect(comment).toMatchObject({
      name: expect.stringMatching(/^memos\/cmt-\d+$/),
      creator: bob.name,
      visibility: Visibility.PROTECTED,
      parent: parent.name,
      tags: ["tag"],
      relations: [{ memo: { name: comment.name, snippet: "nice #tag" }, relatedMemo: { name: parent.name, snippet: "parent" }, type: MemoRelation_Type.COMMENT }],
    });
    const reread = await alice.memos.getMemo({ name: parent.name });
    expect(reread.relations).toMatchObject([{ memo: { name: comment.name }, relatedMemo: { name: parent.name }, type: MemoRelation_Type.COMMENT }]);
  });

  test("ListMemoComments: newest first, archived comments left out, paged with tokens", async () => {
    const parent = await newMemo(alice, { visibility: Visibility.PUBLIC });
    const comments: Memo[] = [];
    for (let i = 0; i < 5; i++) comments.push(await bob.memos.createMemoComment({ name: parent.name, comment: { content: `c${i}` } }));
    await bob.memos.updateMemo({ memo: { name: comments[2]!.name, state: State.ARCHIVED }, updateMask: { paths: ["state"] } });
    const expected = [4, 3, 1, 0].map((i) => comments[i]!.name);
    expect((await alice.memos.listMemoComments({ name: parent.name })).memos.map((m) => m.name)).toEqual(expected);
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await carol.memos.listMemoComments({ name: parent.name, pageSize: 3, pageToken });
      seen.push(...page.memos.map((m) => m.name));
      expect(page.memos.every((m) => m.visibility === Visibility.PUBLIC && m.parent === parent.name)).toBe(true);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(seen).toEqual(expected);
    expect(await codeOf(alice.memos.listMemoComments({ name: parent.name, pageToken: "k1.garbage" }))).toBe(Code.InvalidArgument);
  });

  test("the parent must exist, be readable and be active; the comment is required", async () => {
    const priv = await newMemo(alice, { visibility: Visibility.PRIVATE });
    const archived = await newMemo(alice, { visibility: Visibility.PUBLIC });
    await alice.memos.updateMemo({ memo: { name: archived.name, state: State.ARCHIVED }, updateMask: { paths: ["state"] } });
    const cases: Array<[TestUser, string, object, Code, string]> = [
      [bob, "memos/nope-nope", { content: "x" }, Code.NotFound, "memo not found"],
      [bob, priv.name, { content: "x" }, Code.PermissionDenied, "permission denied"],
      [bob, archived.name, { content: "x" }, Code.NotFound, "memo not found"],
      [alice, archived.name, { content: "x" }, Code.FailedPrecondition, "cannot comment on an archived memo"],
    ];
    for (const [user, name, comment, code, message] of cases) {
      const err = await errorOf(user.memos.createMemoComment({ name, comment }));
      expect([name, err.code, err.rawMessage]).toEqual([name, code, message]);
    }
    const parent = await newMemo(alice, { visibility: Visibility.PUBLIC });
    expect(await codeOf(bob.memos.createMemoComment({ name: parent.name }))).toBe(Code.InvalidArgument);
    expect(await codeOf(anonymous(t.baseUrl).memos.createMemoComment({ name: parent.name, comment: { content: "x" } }))).toBe(Code.Unauthenticated);
  });

  test("errors of the inner creation keep their status (spec §10 Q3)", async () => {
    const parent = await newMemo(alice, { visibility: Visibility.PUBLIC });
    const id = `dup-c-${Date.now()}`;
    await bob.memos.createMemoComment({ name: parent.name, commentId: id, comment: { content: "one" } });
    expect(await codeOf(bob.memos.createMemoComment({ name: parent.name, commentId: id, comment: { content: "two" } }))).toBe(Code.AlreadyExists);
    expect(await codeOf(bob.memos.createMemoComment({ name: parent.name, commentId: "-bad", comment: { content: "x" } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(bob.memos.createMemoComment({ name: parent.name, comment: { content: "x".repeat(9000) } }))).toBe(Code.InvalidArgument);
    expect((await alice.memos.listMemoComments({ name: parent.name })).memos).toHaveLength(1);
  });

  test("a comment by someone else writes an inbox row for the parent's creator; own or PRIVATE comments do not", async () => {
    const db = t.app.database.db;
    const inboxOf = async (userId: number) =>
      db.selectFrom("inbox").selectAll().where("receiver_id", "=", userId).orderBy("id").execute();
    const before = (await inboxOf(alice.userId)).length;
    const pub = await newMemo(alice, { visibility: Visibility.PUBLIC });
    const comment = await bob.memos.createMemoComment({ name: pub.name, comment: { content: "hi" } });
    await alice.memos.createMemoComment({ name: pub.name, comment: { content: "own" } });
    const priv = await newMemo(alice, { visibility: Visibility.PRIVATE });
    await alice.memos.createMemoComment({ name: priv.name, comment: { content: "private" } });

    const rows = (await inboxOf(alice.userId)).slice(before);
    expect(rows).toHaveLength(1);
    const ids = await db.selectFrom("memo").select(["id", "uid"]).where("uid", "in", [pub.name.slice(6), comment.name.slice(6)]).execute();
    const idOf = (name: string) => ids.find((r) => r.uid === name.slice(6))!.id;
    expect(rows[0]).toMatchObject({ sender_id: bob.userId, receiver_id: alice.userId, status: "UNREAD" });
    expect(JSON.parse(rows[0]!.message)).toEqual({ type: "MEMO_COMMENT", memoComment: { memoId: idOf(comment.name), relatedMemoId: idOf(pub.name) } });
  });
});

describe("relations", () => {
  test("SetMemoRelations replaces outgoing references; self and COMMENT entries are ignored; duplicates collapse", async () => {
    const a = await newMemo(alice, { content: "A", visibility: Visibility.PUBLIC });
    const b = await newMemo(alice, { content: "B", visibility: Visibility.PUBLIC });
    const c = await newMemo(bob, { content: "C", visibility: Visibility.PUBLIC });
    await alice.memos.setMemoRelations({
      name: a.name,
      relations: [
        { relatedMemo: { name: b.name } },
        { relatedMemo: { name: b.name }, type: MemoRelation_Type.REFERENCE },
        { relatedMemo: { name: a.name } },
        { relatedMemo: { name: c.name }, type: MemoRelation_Type.COMMENT },
      ],
    });
    await bob.memos.setMemoRelations({ name: c.name, relations: [{ relatedMemo: { name: a.name } }] });
    const listed = await alice.memos.listMemoRelations({ name: a.name });
    expect(listed).toMatchObject({
      nextPageToken: "",
      relations: [
        { memo: { name: a.name, snippet: "A" }, relatedMemo: { name: b.name, snippet: "B" }, type: MemoRelation_Type.REFERENCE },
        { memo: { name: c.name, snippet: "C" }, relatedMemo: { name: a.name, snippet: "A" }, type: MemoRelation_Type.REFERENCE },
      ],
    });
    // Replacing keeps incoming relations.
    await alice.memos.setMemoRelations({ name: a.name, relations: [] });
    expect((await alice.memos.listMemoRelations({ name: a.name })).relations.map((r) => r.memo!.name)).toEqual([c.name]);
  });

  test("an invalid entry changes nothing; unknown related memo is not_found", async () => {
    const a = await newMemo(alice);
    const b = await newMemo(alice);
    await alice.memos.setMemoRelations({ name: a.name, relations: [{ relatedMemo: { name: b.name } }] });
    const cases: Array<[object, Code, string]> = [
      [{ relatedMemo: { name: "memos/no-such-memo" } }, Code.NotFound, "related memo not found"],
      [{}, Code.InvalidArgument, "related memo is required"],
      [{ relatedMemo: { name: "bad" } }, Code.InvalidArgument, "invalid memo name: bad"],
    ];
    for (const [entry, code, message] of cases) {
      const err = await errorOf(alice.memos.setMemoRelations({ name: a.name, relations: [{ relatedMemo: { name: b.name } }, entry] }));
      expect([err.code, err.rawMessage]).toEqual([code, message]);
    }
    expect((await alice.memos.listMemoRelations({ name: a.name })).relations).toHaveLength(1);
    expect(await codeOf(bob.memos.setMemoRelations({ name: a.name, relations: [] }))).toBe(Code.PermissionDenied);
  });

  test("relations whose other end the viewer cannot see are hidden; an unknown memo is not_found (spec §10 Q4)", async () => {
    const open = await newMemo(alice, { visibility: Visibility.PUBLIC });
    const secret = await newMemo(alice, { visibility: Visibility.PRIVATE });
    await alice.memos.setMemoRelations({ name: open.name, relations: [{ relatedMemo: { name: secret.name } }] });
    expect((await alice.memos.listMemoRelations({ name: open.name })).relations).toHaveLength(1);
    expect((await bob.memos.listMemoRelations({ name: open.name })).relations).toHaveLength(0);
    expect((await bob.memos.getMemo({ name: open.name })).relations).toHaveLength(0);
    expect(await codeOf(alice.memos.listMemoRelations({ name: "memos/no-such-memo" }))).toBe(Code.NotFound);
  });

  test("relations in lists carry no snippets", async () => {
    const a = await newMemo(alice, { content: "#rel-list a" });
    const b = await newMemo(alice, { content: "b" });
    await alice.memos.setMemoRelations({ name: a.name, relations: [{ relatedMemo: { name: b.name } }] });
    const listed = await alice.memos.listMemos({ filter: `tag in ["rel-list"] && creator == "${alice.name}"` });
    expect(listed.memos[0]!.relations).toMatchObject([{ memo: { name: a.name, snippet: "" }, relatedMemo: { name: b.name, snippet: "" } }]);
  });
});

describe("reactions", () => {
  test("upsert is idempotent: the same (user, memo, type) answers the existing reaction", async () => {
    const memo = await newMemo(alice, { visibility: Visibility.PROTECTED });
    const first = await bob.memos.upsertMemoReaction({ name: memo.name, reaction: { reactionType: "👍" } });
    const again = await bob.memos.upsertMemoReaction({ name: memo.name, reaction: { reactionType: "👍" } });
    const other = await carol.memos.upsertMemoReaction({ name: memo.name, reaction: { reactionType: "👍" } });
    expect(first).toMatchObject({ name: expect.stringMatching(new RegExp(`^${memo.name}/reactions/\\d+$`)), creator: bob.name, reactionType: "👍" });
    expect(again.name).toBe(first.name);
    expect(other.name).not.toBe(first.name);
    const listed = await alice.memos.listMemoReactions({ name: memo.name });
    expect(listed.reactions.map((r) => r.name)).toEqual([first.name, other.name]);
    expect((await alice.memos.getMemo({ name: memo.name })).reactions.map((r) => r.name)).toEqual([first.name, other.name]);
  });

  test("a missing reaction is invalid_argument (spec §10 Q10); private memos need the creator or an admin", async () => {
    const priv = await newMemo(alice, { visibility: Visibility.PRIVATE });
    expect(await codeOf(bob.memos.upsertMemoReaction({ name: priv.name }))).toBe(Code.InvalidArgument);
    expect(await codeOf(bob.memos.upsertMemoReaction({ name: priv.name, reaction: { reactionType: "x" } }))).toBe(Code.PermissionDenied);
    expect(await codeOf(bob.memos.upsertMemoReaction({ name: "memos/no-such-memo", reaction: { reactionType: "x" } }))).toBe(Code.NotFound);
    await expect(admin.memos.upsertMemoReaction({ name: priv.name, reaction: { reactionType: "x" } })).resolves.toBeDefined();
    await expect(admin.memos.listMemoReactions({ name: priv.name })).resolves.toMatchObject({ reactions: [{ creator: admin.name }] });
    expect(await codeOf(bob.memos.listMemoReactions({ name: priv.name }))).toBe(Code.PermissionDenied);
  });

  test("delete: only the reaction's creator or an admin; unknown ids are permission_denied; bad ids invalid_argument", async () => {
    const memo = await newMemo(alice, { visibility: Visibility.PUBLIC });
    const r = await bob.memos.upsertMemoReaction({ name: memo.name, reaction: { reactionType: "🎉" } });
    expect(await codeOf(carol.memos.deleteMemoReaction({ name: r.name }))).toBe(Code.PermissionDenied);
    expect(await codeOf(bob.memos.deleteMemoReaction({ name: `${memo.name}/reactions/999999` }))).toBe(Code.PermissionDenied);
    expect(await codeOf(bob.memos.deleteMemoReaction({ name: `${memo.name}/reactions/abc` }))).toBe(Code.InvalidArgument);
    expect(await codeOf(bob.memos.deleteMemoReaction({ name: `${memo.name}/reactions/99999999999` }))).toBe(Code.InvalidArgument);
    await bob.memos.deleteMemoReaction({ name: r.name });
    expect((await alice.memos.listMemoReactions({ name: memo.name })).reactions).toEqual([]);
    const r2 = await bob.memos.upsertMemoReaction({ name: memo.name, reaction: { reactionType: "🎉" } });
    await admin.memos.deleteMemoReaction({ name: r2.name });
    expect((await alice.memos.listMemoReactions({ name: memo.name })).reactions).toEqual([]);
  });
});

describe("events", () => {
  test("create, update, comment, reaction upsert/delete and delete are published after they commit", async () => {
    const events: MemoEvent[] = [];
    const unsubscribe = t.app.memoEvents.subscribe((e) => events.push(e));
    try {
      const memo = await newMemo(alice, { visibility: Visibility.PUBLIC });
      await alice.memos.updateMemo({ memo: { name: memo.name, pinned: true }, updateMask: { paths: ["pinned"] } });
      const comment = await bob.memos.createMemoComment({ name: memo.name, comment: { content: "c" } });
      const reaction = await bob.memos.upsertMemoReaction({ name: memo.name, reaction: { reactionType: "👍" } });
      await bob.memos.upsertMemoReaction({ name: memo.name, reaction: { reactionType: "👍" } }); // no change, no event
      await bob.memos.deleteMemoReaction({ name: reaction.name });
      expect(await codeOf(bob.memos.deleteMemo({ name: memo.name }))).toBe(Code.PermissionDenied); // no event
      await alice.memos.deleteMemo({ name: memo.name });
      expect(events.map((e) => [e.type, e.name, e.parent, e.actorId])).toEqual([
        ["memo.created", memo.name, undefined, alice.userId],
        ["memo.updated", memo.name, undefined, alice.userId],
        ["memo.comment.created", comment.name, memo.name, bob.userId],
        ["reaction.upserted", memo.name, undefined, bob.userId],
        ["reaction.deleted", memo.name, undefined, bob.userId],
        ["memo.deleted", memo.name, undefined, alice.userId],
      ]);
      expect(events[3]!.reaction).toBe(reaction.name);
      // Who could read the memo travels with the events, also after its row is gone.
      expect(events[5]!.audience).toEqual({ creatorId: alice.userId, visibility: "PUBLIC", rowStatus: "NORMAL" });
      expect(events[2]!.audience).toMatchObject({ isComment: true, parent: { creatorId: alice.userId, visibility: "PUBLIC" } });
    } finally {
      unsubscribe();
    }
  });

  test("a failing listener does not fail the call", async () => {
    const unsubscribe = t.app.memoEvents.subscribe(() => {
      throw new Error("listener broke");
    });
    try {
      await expect(newMemo(alice)).resolves.toBeDefined();
    } finally {
      unsubscribe();
    }
  });
});
