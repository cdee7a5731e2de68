import type { Db } from "./database.js";

/** Queries over `inbox` (notifications; `message` is protobuf-JSON text). */
export interface InboxRepository {
  create(entry: { senderId: number; receiverId: number; status: string; message: string }): Promise<number>;
}

export function createInboxRepository(db: Db): InboxRepository {
  return {
    async create({ senderId, receiverId, status, message }) {
      const row = await db
        .insertInto("inbox")
        .values({ sender_id: senderId, receiver_id: receiverId, status, message })
        .returning("id")
        .executeTakeFirstOrThrow();
      return row.id;
    },
  };
}
