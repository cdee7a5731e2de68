/** Repositories of the web-app surface on PGlite and on a real Postgres server (pool concurrency). */
import { DRIVERS, openTestDatabase, type TestDatabase } from "../support/database.js";
import { createInboxRepository } from "../../src/store/inbox-repository.js";
import { createUserSettingRepository } from "../../src/store/user-setting-repository.js";
import type { Db } from "../../src/store/database.js";

describe.each(DRIVERS)("web app repositories on %s", (driver) => {
  let t: TestDatabase;
  let db: Db;
  beforeAll(async () => {
    t = await openTestDatabase(driver);
    db = t.database.db;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  let n = 0;
  const user = async () =>
    (await db.insertInto("user").values({ username: `u${driver}${++n}`, password_hash: "x" }).returning("id").executeTakeFirstOrThrow()).id;
  const memo = async (creatorId: number, visibility = "PUBLIC") =>
    (
      await db
        .insertInto("memo")
        .values({ uid: `m${driver}${++n}`, creator_id: creatorId, content: "hi @x", visibility, payload: JSON.stringify({ snippet: "hi @x" }) })
        .returning("id")
        .executeTakeFirstOrThrow()
    ).id;

  test("createMentions writes one UNREAD message per receiver and memo, however often it runs", async () => {
    const inbox = createInboxRepository(db);
    const [sender, a, b] = [await user(), await user(), await user()];
    const m = await memo(sender);
    expect((await inbox.createMentions({ senderId: sender, memoId: m, relatedMemoId: undefined, receiverIds: [a, b] })).sort()).toEqual([a, b].sort());
    expect(await inbox.createMentions({ senderId: sender, memoId: m, relatedMemoId: undefined, receiverIds: [a, b] })).toEqual([]);
    const rows = await inbox.listForReceiver(a, { limit: 10, offset: 0 });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      receiverId: a,
      status: "UNREAD",
      sender: { id: sender },
      memo: { id: m, visibility: "PUBLIC", rowStatus: "NORMAL", isComment: false, payload: { snippet: "hi @x" } },
      relatedMemo: undefined,
    });
    expect(JSON.parse(rows[0]!.message)).toEqual({ type: "MEMO_MENTION", memoMention: { memoId: m } });
  });

  test("listForReceiver joins a comment's parent; a vanished memo or sender reads as undefined", async () => {
    const inbox = createInboxRepository(db);
    const [owner, commenter] = [await user(), await user()];
    const parent = await memo(owner, "PROTECTED");
    const comment = await memo(commenter, "PROTECTED");
    await db.insertInto("memo_relation").values({ memo_id: comment, related_memo_id: parent, type: "COMMENT" }).execute();
    const id = await inbox.create({
      senderId: commenter,
      receiverId: owner,
      status: "UNREAD",
      message: JSON.stringify({ type: "MEMO_COMMENT", memoComment: { memoId: comment, relatedMemoId: parent } }),
    });
    const found = await inbox.findById(id);
    expect(found).toMatchObject({
      memo: { id: comment, isComment: true, parent: { creatorId: owner, visibility: "PROTECTED", rowStatus: "NORMAL" } },
      relatedMemo: { id: parent, isComment: false },
    });
    await db.deleteFrom("memo").where("id", "=", comment).execute();
    await db.deleteFrom("user").where("id", "=", commenter).execute();
    expect(await inbox.findById(id)).toMatchObject({ memo: undefined, sender: undefined, relatedMemo: { id: parent } });
    expect(await inbox.updateStatus(id, "ARCHIVED")).toBe(true);
    expect((await inbox.listForReceiver(owner, { status: "ARCHIVED", limit: 5, offset: 0 })).map((r) => r.id)).toEqual([id]);
    expect(await inbox.listForReceiver(owner, { status: "UNREAD", limit: 5, offset: 0 })).toEqual([]);
    expect(await inbox.delete(id)).toBe(true);
    expect(await inbox.delete(id)).toBe(false);
  });

  test("user setting modify serialises concurrent read-modify-writes (no lost update)", async () => {
    const settings = createUserSettingRepository(db);
    const u = await user();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        settings.modify(u, "COUNTER", (current) => {
          const list = current === undefined ? [] : (JSON.parse(current) as number[]);
          return { value: JSON.stringify([...list, i]), result: undefined };
        }),
      ),
    );
    expect((JSON.parse((await settings.get(u, "COUNTER"))!) as number[]).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    // A change that throws writes nothing, not even the placeholder row.
    await expect(settings.modify(u, "OTHER", () => { throw new Error("no"); })).rejects.toThrow("no");
    expect(await settings.get(u, "OTHER")).toBeUndefined();
    expect(await settings.list(u, ["COUNTER", "OTHER"])).toHaveLength(1);
  });
});
