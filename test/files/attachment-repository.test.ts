import { createAttachmentRepository, type AttachmentRepository } from "../../src/store/attachment-repository.js";
import type { Db } from "../../src/store/database.js";
import { isUniqueViolation } from "../../src/store/user-repository.js";
import { DRIVERS, openTestDatabase, type TestDatabase } from "../support/database.js";
import { insertComment, insertMemo, insertUser, newAttachment } from "./factories.js";

describe.each(DRIVERS)("attachment repository on %s", (driver) => {
  let database: TestDatabase;
  let db: Db;
  let repo: AttachmentRepository;

  beforeAll(async () => {
    database = await openTestDatabase(driver);
    db = database.database.db;
    repo = createAttachmentRepository(db);
  });
  afterAll(async () => {
    await database?.close();
  });

  test("insert and find an unlinked attachment with its creator, without the blob unless asked", async () => {
    const creator = await insertUser(db, "ADMIN");
    const inserted = await repo.insert(newAttachment(creator, { storage_type: "", reference: "", blob: Buffer.from("abc") }));
    expect(inserted).toMatchObject({ creator_id: creator, filename: "a.png", size: 3, memo_id: null });
    expect(typeof inserted.created_ts).toBe("number");
    const found = await repo.findByUid(inserted.uid);
    expect(found).toMatchObject({ attachment: { id: inserted.id, uid: inserted.uid, size: 3 }, creator: { id: creator, role: "ADMIN" }, memo: undefined, isComment: false });
    expect("blob" in found!.attachment).toBe(false);
    const withBlob = await repo.findByUid(inserted.uid, { withBlob: true });
    expect(Buffer.from(withBlob!.attachment.blob!).toString()).toBe("abc");
    expect(await repo.findByUid("nope")).toBeUndefined();
  });

  test("linked memo, comment with parent, comment without parent, missing memo", async () => {
    const alice = await insertUser(db);
    const memo = await insertMemo(db, alice, "PROTECTED");
    const linked = await repo.insert(newAttachment(alice, { memo_id: memo.id }));
    expect(await repo.findByUid(linked.uid)).toMatchObject({
      memo: { id: memo.id, uid: memo.uid, creator_id: alice, visibility: "PROTECTED", row_status: "NORMAL" },
      isComment: false,
      parent: undefined,
    });

    const comment = await insertComment(db, alice, memo.id);
    const onComment = await repo.insert(newAttachment(alice, { memo_id: comment.id }));
    expect(await repo.findByUid(onComment.uid)).toMatchObject({ memo: { id: comment.id }, isComment: true, parent: { id: memo.id, visibility: "PROTECTED" } });

    const orphan = await insertComment(db, alice, 999_999);
    const onOrphan = await repo.insert(newAttachment(alice, { memo_id: orphan.id }));
    expect(await repo.findByUid(onOrphan.uid)).toMatchObject({ isComment: true, parent: undefined });

    const gone = await repo.insert(newAttachment(alice, { memo_id: 888_888 }));
    const found = await repo.findByUid(gone.uid);
    expect(found?.memo).toBeUndefined();
    expect(found?.attachment.memo_id).toBe(888_888);
  });

  test("a duplicate UID is a unique violation", async () => {
    const alice = await insertUser(db);
    const row = newAttachment(alice);
    await repo.insert(row);
    let caught: unknown;
    try {
      await repo.insert(row);
    } catch (err) {
      caught = err;
    }
    expect(isUniqueViolation(caught)).toBe(true);
  });

  test("share tokens: exact memo, unexpired, NULL expiry never expires", async () => {
    const alice = await insertUser(db);
    const memo = await insertMemo(db, alice);
    const other = await insertMemo(db, alice);
    const now = 1_800_000_000;
    await db
      .insertInto("memo_share")
      .values([
        { uid: "tok-forever", memo_id: memo.id, creator_id: alice },
        { uid: "tok-later", memo_id: memo.id, creator_id: alice, expires_ts: now + 60 },
        { uid: "tok-expired", memo_id: memo.id, creator_id: alice, expires_ts: now - 1 },
      ])
      .execute();
    expect(await repo.isShareValid("tok-forever", memo.id, now)).toBe(true);
    expect(await repo.isShareValid("tok-later", memo.id, now)).toBe(true);
    expect(await repo.isShareValid("tok-expired", memo.id, now)).toBe(false);
    expect(await repo.isShareValid("tok-forever", other.id, now)).toBe(false);
    expect(await repo.isShareValid("unknown", memo.id, now)).toBe(false);
  });

  test("delete by ids", async () => {
    const alice = await insertUser(db);
    const a = await repo.insert(newAttachment(alice));
    const b = await repo.insert(newAttachment(alice));
    expect(await repo.deleteByIds([a.id, b.id, 123_456_789])).toBe(2);
    expect(await repo.findByUid(a.uid)).toBeUndefined();
    expect(await repo.deleteByIds([])).toBe(0);
  });
});
