import { sql } from "kysely";
import type { Db } from "./database.js";
import type { UserRow } from "./user-repository.js";

/** What read access to a memo depends on, as stored (spec §6.3). */
export interface InboxMemoAccess {
  readonly creatorId: number;
  readonly visibility: string;
  readonly rowStatus: string;
}

/** A memo an inbox message names, with what its notification shows and needs to check. */
export interface InboxMemo extends InboxMemoAccess {
  readonly id: number;
  readonly uid: string;
  readonly content: string;
  /** The parsed JSONB payload (its stored snippet). */
  readonly payload: unknown;
  /** True when the memo is a comment; `parent` is then its parent, `undefined` when that is gone. */
  readonly isComment: boolean;
  readonly parent?: InboxMemoAccess;
}

/** An inbox row with its sender and the memos its message names (each `undefined` when gone). */
export interface InboxRecord {
  readonly id: number;
  readonly createdTs: number;
  readonly receiverId: number;
  readonly status: string;
  /** The stored message, protobuf-JSON text: `{"type":"MEMO_COMMENT","memoComment":{"memoId":1,"relatedMemoId":2}}`. */
  readonly message: string;
  readonly sender: UserRow | undefined;
  readonly memo: InboxMemo | undefined;
  readonly relatedMemo: InboxMemo | undefined;
}

/** Queries over `inbox` (notifications; `message` is protobuf-JSON text). */
export interface InboxRepository {
  create(entry: { senderId: number; receiverId: number; status: string; message: string }): Promise<number>;
  /**
   * One page of the receiver's messages, newest first, each with its sender and memos (one
   * statement). `status` narrows to one status.
   */
  listForReceiver(receiverId: number, page: { status?: string; limit: number; offset: number }): Promise<InboxRecord[]>;
  /** One message with its sender and memos. */
  findById(id: number): Promise<InboxRecord | undefined>;
  /** Sets the status; answers false when the row is gone. */
  updateStatus(id: number, status: string): Promise<boolean>;
  /** Answers false when the row was already gone. */
  delete(id: number): Promise<boolean>;
  /**
   * Adds an UNREAD MEMO_MENTION message about `memoId` (in the thread of `relatedMemoId`) for each
   * of `receiverIds` that has none about that memo yet, so a mention notifies once however often
   * the memo is edited. Answers the receivers written to.
   */
  createMentions(entry: { senderId: number; memoId: number; relatedMemoId: number | undefined; receiverIds: readonly number[] }): Promise<number[]>;
}

/** The memo ids a stored message names (protobuf-JSON: int32 fields are JSON numbers). */
const MESSAGE = sql`(i.message::jsonb)`;
const MEMO_ID = sql`COALESCE(${MESSAGE}->'memoComment'->>'memoId', ${MESSAGE}->'memoMention'->>'memoId')::bigint`;
const RELATED_ID = sql`COALESCE(${MESSAGE}->'memoComment'->>'relatedMemoId', ${MESSAGE}->'memoMention'->>'relatedMemoId')::bigint`;

interface JoinedRow {
  id: number;
  created_ts: number | string;
  receiver_id: number;
  status: string;
  message: string;
  s_id: number | null;
  s_created_ts: number | string | null;
  s_updated_ts: number | string | null;
  s_row_status: string | null;
  s_username: string | null;
  s_role: string | null;
  s_email: string | null;
  s_nickname: string | null;
  s_avatar_url: string | null;
  s_description: string | null;
  [column: string]: unknown;
}

/** The select list and joins of one memo named by a message, under prefix `p`. */
function memoColumns(p: "m" | "r") {
  return sql.raw(`
    ${p}.id AS ${p}_id, ${p}.uid AS ${p}_uid, ${p}.creator_id AS ${p}_creator_id, ${p}.visibility AS ${p}_visibility,
    ${p}.row_status AS ${p}_row_status, ${p}.content AS ${p}_content, ${p}.payload AS ${p}_payload,
    ${p}cr.memo_id AS ${p}_comment_of, ${p}p.creator_id AS ${p}p_creator_id, ${p}p.visibility AS ${p}p_visibility,
    ${p}p.row_status AS ${p}p_row_status`);
}
function memoJoins(p: "m" | "r") {
  return sql.raw(`
    LEFT JOIN memo_relation AS ${p}cr ON ${p}cr.memo_id = ${p}.id AND ${p}cr.type = 'COMMENT'
    LEFT JOIN memo AS ${p}p ON ${p}p.id = ${p}cr.related_memo_id`);
}

/**
 * One memo named by a message, with its comment link and parent, under prefix `p`. A LATERAL
 * subquery with LIMIT 1 is planned on its own, so the planner never searches join orders over the
 * message, its sender and both memos' six tables at once (which cost more than running the query).
 */
function memoLateral(p: "m" | "r", id: ReturnType<typeof sql>) {
  return sql`LEFT JOIN LATERAL (
      SELECT ${memoColumns(p)} FROM memo AS ${sql.raw(p)} ${memoJoins(p)} WHERE ${sql.raw(p)}.id = ${id} LIMIT 1
    ) AS ${sql.raw(`${p}_memo`)} ON TRUE`;
}

function selectJoined(db: Db, where: ReturnType<typeof sql>, tail: ReturnType<typeof sql>) {
  return sql<JoinedRow>`
    SELECT i.id, i.created_ts, i.receiver_id, i.status, i.message,
           s.id AS s_id, s.created_ts AS s_created_ts, s.updated_ts AS s_updated_ts, s.row_status AS s_row_status,
           s.username AS s_username, s.role AS s_role, s.email AS s_email, s.nickname AS s_nickname,
           s.avatar_url AS s_avatar_url, s.description AS s_description,
           m_memo.*, r_memo.*
    FROM inbox AS i
    LEFT JOIN "user" AS s ON s.id = i.sender_id
    ${memoLateral("m", MEMO_ID)}
    ${memoLateral("r", RELATED_ID)}
    WHERE ${where}
    ${tail}`.execute(db);
}

function toRecord(row: JoinedRow): InboxRecord {
  const memo = (p: "m" | "r"): InboxMemo | undefined => {
    if (row[`${p}_id`] === null || row[`${p}_id`] === undefined) return undefined;
    const isComment = row[`${p}_comment_of`] !== null;
    const parentCreator = row[`${p}p_creator_id`];
    return {
      id: Number(row[`${p}_id`]),
      uid: String(row[`${p}_uid`]),
      creatorId: Number(row[`${p}_creator_id`]),
      visibility: String(row[`${p}_visibility`]),
      rowStatus: String(row[`${p}_row_status`]),
      content: String(row[`${p}_content`]),
      payload: row[`${p}_payload`],
      isComment,
      ...(isComment && parentCreator !== null
        ? { parent: { creatorId: Number(parentCreator), visibility: String(row[`${p}p_visibility`]), rowStatus: String(row[`${p}p_row_status`]) } }
        : {}),
    };
  };
  const sender: UserRow | undefined =
    row.s_id === null
      ? undefined
      : {
          id: row.s_id,
          created_ts: Number(row.s_created_ts),
          updated_ts: Number(row.s_updated_ts),
          row_status: row.s_row_status!,
          username: row.s_username!,
          role: row.s_role!,
          email: row.s_email!,
          nickname: row.s_nickname!,
          // Never shown (a notification carries no password material); the column is left unread.
          password_hash: "",
          avatar_url: row.s_avatar_url!,
          description: row.s_description!,
        };
  return {
    id: row.id,
    createdTs: Number(row.created_ts),
    receiverId: row.receiver_id,
    status: row.status,
    message: row.message,
    sender,
    memo: memo("m"),
    relatedMemo: memo("r"),
  };
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

    async listForReceiver(receiverId, page) {
      const where = page.status === undefined ? sql`i.receiver_id = ${receiverId}` : sql`i.receiver_id = ${receiverId} AND i.status = ${page.status}`;
      const result = await selectJoined(db, where, sql`ORDER BY i.created_ts DESC, i.id DESC LIMIT ${page.limit} OFFSET ${page.offset}`);
      return result.rows.map(toRecord);
    },

    async findById(id) {
      const result = await selectJoined(db, sql`i.id = ${id}`, sql``);
      const row = result.rows[0];
      return row === undefined ? undefined : toRecord(row);
    },

    async updateStatus(id, status) {
      const res = await db.updateTable("inbox").set({ status }).where("id", "=", id).executeTakeFirst();
      return res.numUpdatedRows > 0n;
    },

    async delete(id) {
      const res = await db.deleteFrom("inbox").where("id", "=", id).executeTakeFirst();
      return res.numDeletedRows > 0n;
    },

    async createMentions({ senderId, memoId, relatedMemoId, receiverIds }) {
      if (receiverIds.length === 0) return [];
      const mention: Record<string, number> = { memoId };
      if (relatedMemoId !== undefined) mention.relatedMemoId = relatedMemoId;
      const message = JSON.stringify({ type: "MEMO_MENTION", memoMention: mention });
      const result = await sql<{ receiver_id: number }>`
        INSERT INTO inbox (sender_id, receiver_id, status, message)
        SELECT ${senderId}, r.id, 'UNREAD', ${message}
        FROM unnest(${sql.val([...receiverIds])}::int[]) AS r(id)
        WHERE NOT EXISTS (
          SELECT 1 FROM inbox AS i
          WHERE i.receiver_id = r.id
            AND ${MESSAGE}->>'type' = 'MEMO_MENTION'
            AND (${MESSAGE}->'memoMention'->>'memoId')::bigint = ${memoId}
        )
        RETURNING receiver_id`.execute(db);
      return result.rows.map((r) => r.receiver_id);
    },
  };
}
