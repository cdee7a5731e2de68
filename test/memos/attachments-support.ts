/** Attachment rows for memo tests, written directly (AttachmentService is another issue). */
import { randomBytes } from "node:crypto";
import { thumbnailKey } from "../../src/media/thumbnail.js";
import { createAttachmentRepository } from "../../src/store/attachment-repository.js";
import type { MemoTestApp, TestUser } from "./support.js";

/** A stored attachment: its row in the database and its bytes (plus a thumbnail) in the blob store. */
export interface StoredAttachment {
  readonly id: number;
  readonly uid: string;
  readonly name: string;
  readonly key: string;
  readonly thumbnail: string;
}

/** Stores `bytes` under a fresh key and inserts a LOCAL attachment row of `owner` for them. */
export async function newAttachment(
  t: MemoTestApp,
  owner: TestUser,
  options: { type?: string; bytes?: Buffer; storageType?: string; payload?: string } = {},
): Promise<StoredAttachment> {
  const uid = `att-${randomBytes(6).toString("hex")}`;
  const key = `assets/${uid}.bin`;
  const bytes = options.bytes ?? Buffer.from("bytes");
  await t.app.blobs.put(key, bytes);
  const row = await createAttachmentRepository(t.app.database.db).insert({
    uid,
    creator_id: owner.userId,
    filename: `${uid}.png`,
    type: options.type ?? "image/png",
    size: bytes.length,
    storage_type: options.storageType ?? "LOCAL",
    reference: key,
    payload: options.payload ?? "{}",
  });
  // A derived thumbnail, as the file server would have stored it.
  const thumbnail = thumbnailKey(uid, row.id);
  await t.app.blobs.put(thumbnail, Buffer.from("thumb"));
  return { id: row.id, uid, name: `attachments/${uid}`, key, thumbnail };
}

/** Whether a blob exists. */
export async function blobExists(t: MemoTestApp, key: string): Promise<boolean> {
  return (await t.app.blobs.stat(key)) !== undefined;
}
