/** Row factories for attachment tests: unique users, memos, comments and attachment rows, written directly. */
import { randomUUID } from "node:crypto";
import type { NewAttachmentRow } from "../../src/store/attachment-repository.js";
import type { Db } from "../../src/store/database.js";

export async function insertUser(db: Db, role = "USER"): Promise<number> {
  const row = await db
    .insertInto("user")
    .values({ username: `u-${randomUUID().slice(0, 8)}`, password_hash: "x", role })
    .returning("id")
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function insertMemo(db: Db, creatorId: number, visibility = "PRIVATE", rowStatus = "NORMAL"): Promise<{ id: number; uid: string }> {
  const uid = randomUUID();
  const row = await db
    .insertInto("memo")
    .values({ uid, creator_id: creatorId, content: "hello", visibility, row_status: rowStatus })
    .returning("id")
    .executeTakeFirstOrThrow();
  return { id: row.id, uid };
}

export async function insertComment(db: Db, creatorId: number, parentId: number, visibility = "PUBLIC"): Promise<{ id: number; uid: string }> {
  const comment = await insertMemo(db, creatorId, visibility);
  await db.insertInto("memo_relation").values({ memo_id: comment.id, related_memo_id: parentId, type: "COMMENT" }).execute();
  return comment;
}

export function newAttachment(creatorId: number, over: Partial<NewAttachmentRow> = {}): NewAttachmentRow {
  return {
    uid: randomUUID(),
    creator_id: creatorId,
    filename: "a.png",
    type: "image/png",
    size: 3,
    storage_type: "LOCAL",
    reference: "assets/a.png",
    payload: "{}",
    ...over,
  };
}
