import { sql, type Insertable, type Selectable } from "kysely";
import type { Db } from "./database.js";
import type { AttachmentTable } from "./schema.js";

/** An attachment row as stored, inline bytes included (`blob` is NULL unless storage is DATABASE). */
export type AttachmentRow = Selectable<AttachmentTable>;
/** An attachment row without its inline bytes. */
export type AttachmentMetaRow = Omit<AttachmentRow, "blob">;

/** Columns a new attachment is created with (id and timestamps default in the database). */
export type NewAttachmentRow = Pick<
  Insertable<AttachmentTable>,
  "uid" | "creator_id" | "filename" | "blob" | "type" | "size" | "memo_id" | "storage_type" | "reference" | "payload"
>;

/** Where one attachment's bytes are recorded, for the blob janitor. */
export type AttachmentLocationRow = Pick<AttachmentRow, "id" | "uid" | "storage_type" | "reference" | "payload">;

/** The memo columns read access depends on (spec §6.3). */
export interface MemoAccessRow {
  readonly id: number;
  readonly uid: string;
  readonly creator_id: number;
  readonly visibility: string;
  readonly row_status: string;
}

/** An attachment with what its readers and the Attachment message need, from one query. */
export interface AttachmentWithContext {
  /** The row; `blob` is present only when asked for (and non-NULL only for DATABASE storage). */
  readonly attachment: AttachmentMetaRow & { readonly blob?: Uint8Array | null };
  /** The creator, or `undefined` when the user row is gone. */
  readonly creator: { readonly id: number; readonly username: string; readonly role: string; readonly row_status: string } | undefined;
  /** The linked memo; `undefined` when unlinked or when `memo_id` names a missing memo. */
  readonly memo: MemoAccessRow | undefined;
  /** Whether the linked memo is a comment (has a COMMENT relation), even when its parent is gone. */
  readonly isComment: boolean;
  /** The comment's parent memo, when the memo is a comment and the parent exists. */
  readonly parent: MemoAccessRow | undefined;
}

/** Queries over `attachment` for the AttachmentService and the file server. */
export interface AttachmentRepository {
  /**
   * The attachment with UID `uid` joined with its creator, its memo and (for a comment) the
   * parent memo, in one query. `withBlob` also reads the inline bytes (DATABASE storage).
   */
  findByUid(uid: string, options?: { withBlob?: boolean }): Promise<AttachmentWithContext | undefined>;
  /**
   * The attachments linked to any of `memoIds`, without inline bytes, in the order a memo shows
   * them (spec §6.2): `updated_ts` descending, then id descending. One query for a whole page.
   */
  listByMemoIds(memoIds: readonly number[]): Promise<AttachmentMetaRow[]>;
  /** The attachments among `uids` that exist, without inline bytes, in no particular order. */
  findByUids(uids: readonly string[]): Promise<AttachmentMetaRow[]>;
  /**
   * Links the attachments `orderedIds` to `memoId` and gives them `updated_ts` = now, now-1, ...
   * so the memo lists them in the given order (spec §6.9). Only rows that are unlinked or already
   * linked to `memoId` change; answers how many did (fewer than asked: another memo took one).
   */
  bindToMemo(memoId: number, orderedIds: readonly number[], nowSeconds: number): Promise<number>;
  /** Inserts an attachment; a taken UID raises a unique violation (`isUniqueViolation`). */
  insert(row: NewAttachmentRow): Promise<AttachmentMetaRow>;
  /** Deletes the rows with these ids; answers how many were deleted. */
  deleteByIds(ids: readonly number[]): Promise<number>;
  /**
   * Up to `limit` attachments with an id above `afterId`, by id, with the columns that say where
   * their bytes are: a keyset walk over every attachment (the blob janitor's).
   */
  listLocations(afterId: number, limit: number): Promise<AttachmentLocationRow[]>;
  /**
   * Whether `token` is a share of exactly memo `memoId` that exists and has not expired at
   * `nowSeconds` (a NULL expiry never expires) — spec §6.13, used by the file server (§5.2).
   */
  isShareValid(token: string, memoId: number, nowSeconds: number): Promise<boolean>;
}

const META_COLUMNS = [
  "a.id",
  "a.uid",
  "a.creator_id",
  "a.created_ts",
  "a.updated_ts",
  "a.filename",
  "a.type",
  "a.size",
  "a.memo_id",
  "a.storage_type",
  "a.reference",
  "a.payload",
] as const;

export function createAttachmentRepository(db: Db): AttachmentRepository {
  return {
    async findByUid(uid, options = {}) {
      const row = await db
        .selectFrom("attachment as a")
        .leftJoin("user as u", "u.id", "a.creator_id")
        .leftJoin("memo as m", "m.id", "a.memo_id")
        .leftJoin("memo_relation as r", (join) => join.onRef("r.memo_id", "=", "m.id").on("r.type", "=", "COMMENT"))
        .leftJoin("memo as p", "p.id", "r.related_memo_id")
        .select(META_COLUMNS)
        .$if(options.withBlob === true, (q) => q.select("a.blob"))
        .select([
          "u.id as creator_row_id",
          "u.username as creator_username",
          "u.role as creator_role",
          "u.row_status as creator_row_status",
          "m.id as memo_row_id",
          "m.uid as memo_uid",
          "m.creator_id as memo_creator_id",
          "m.visibility as memo_visibility",
          "m.row_status as memo_row_status",
          "r.related_memo_id as parent_ref",
          "p.id as parent_row_id",
          "p.uid as parent_uid",
          "p.creator_id as parent_creator_id",
          "p.visibility as parent_visibility",
          "p.row_status as parent_row_status",
        ])
        .where("a.uid", "=", uid)
        .orderBy("r.related_memo_id")
        .limit(1)
        .executeTakeFirst();
      if (row === undefined) return undefined;
      const attachment: AttachmentWithContext["attachment"] = {
        id: row.id,
        uid: row.uid,
        creator_id: row.creator_id,
        created_ts: Number(row.created_ts),
        updated_ts: Number(row.updated_ts),
        filename: row.filename,
        type: row.type,
        size: Number(row.size),
        memo_id: row.memo_id,
        storage_type: row.storage_type,
        reference: row.reference,
        payload: row.payload,
        ...("blob" in row ? { blob: (row as { blob: Uint8Array | null }).blob } : {}),
      };
      return {
        attachment,
        creator:
          row.creator_row_id === null
            ? undefined
            : { id: row.creator_row_id, username: row.creator_username!, role: row.creator_role!, row_status: row.creator_row_status! },
        memo:
          row.memo_row_id === null
            ? undefined
            : { id: row.memo_row_id, uid: row.memo_uid!, creator_id: row.memo_creator_id!, visibility: row.memo_visibility!, row_status: row.memo_row_status! },
        isComment: row.parent_ref !== null,
        parent:
          row.parent_row_id === null
            ? undefined
            : { id: row.parent_row_id, uid: row.parent_uid!, creator_id: row.parent_creator_id!, visibility: row.parent_visibility!, row_status: row.parent_row_status! },
      };
    },

    async listByMemoIds(memoIds) {
      if (memoIds.length === 0) return [];
      const rows = await db
        .selectFrom("attachment as a")
        .select(META_COLUMNS)
        .where("a.memo_id", "in", [...new Set(memoIds)])
        .orderBy("a.updated_ts", "desc")
        .orderBy("a.id", "desc")
        .execute();
      return rows.map(metaRow);
    },

    async findByUids(uids) {
      if (uids.length === 0) return [];
      const rows = await db.selectFrom("attachment as a").select(META_COLUMNS).where("a.uid", "in", [...new Set(uids)]).execute();
      return rows.map(metaRow);
    },

    async bindToMemo(memoId, orderedIds, nowSeconds) {
      if (orderedIds.length === 0) return 0;
      const result = await sql`
        UPDATE attachment AS a
        SET memo_id = ${memoId}, updated_ts = ${nowSeconds} - o.ord + 1
        FROM unnest(${[...orderedIds]}::int[]) WITH ORDINALITY AS o(id, ord)
        WHERE a.id = o.id AND (a.memo_id IS NULL OR a.memo_id = ${memoId})`.execute(db);
      return Number(result.numAffectedRows ?? 0n);
    },

    async insert(row) {
      const inserted = await db
        .insertInto("attachment")
        .values(row)
        .returning(["id", "uid", "creator_id", "created_ts", "updated_ts", "filename", "type", "size", "memo_id", "storage_type", "reference", "payload"])
        .executeTakeFirstOrThrow();
      return { ...inserted, created_ts: Number(inserted.created_ts), updated_ts: Number(inserted.updated_ts), size: Number(inserted.size) };
    },

    async deleteByIds(ids) {
      if (ids.length === 0) return 0;
      const result = await db.deleteFrom("attachment").where("id", "in", [...ids]).executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    async listLocations(afterId, limit) {
      return db
        .selectFrom("attachment")
        .select(["id", "uid", "storage_type", "reference", "payload"])
        .where("id", ">", afterId)
        .orderBy("id")
        .limit(limit)
        .execute();
    },

    async isShareValid(token, memoId, nowSeconds) {
      const row = await db
        .selectFrom("memo_share")
        .select("id")
        .where("uid", "=", token)
        .where("memo_id", "=", memoId)
        .where((eb) => eb.or([eb("expires_ts", "is", null), eb("expires_ts", ">", nowSeconds)]))
        .executeTakeFirst();
      return row !== undefined;
    },
  };
}

/** Normalises BIGINT columns (PGlite may answer them as bigint). */
function metaRow(row: AttachmentMetaRow): AttachmentMetaRow {
  return { ...row, created_ts: Number(row.created_ts), updated_ts: Number(row.updated_ts), size: Number(row.size) };
}
