import { sql, type AliasedRawBuilder, type Expression, type Selectable, type SqlBool } from "kysely";
import type { AttachmentMetaRow } from "./attachment-repository.js";
import type { Db } from "./database.js";
import type { ReactionRecord } from "./reaction-repository.js";
import type { MemoTable } from "./schema.js";

/** A memo row as stored. `payload` is the parsed JSONB object. */
export type MemoRow = Selectable<MemoTable>;

/**
 * A memo as the API reads it: the row, its creator's username (`null` when the creator row is
 * gone) and, for a comment, its parent (the `related_memo_id` of its COMMENT relation).
 */
export interface MemoRecord extends MemoRow {
  readonly creator_username: string | null;
  readonly parent_id: number | null;
  readonly parent_uid: string | null;
  readonly parent_creator_id: number | null;
  readonly parent_visibility: string | null;
  readonly parent_row_status: string | null;
}

/** Which memos a viewer may see in lists and relations (spec §6.2, §6.7). */
export type MemoScope =
  /** Anonymous: PUBLIC memos only. */
  | { readonly kind: "public" }
  /** Signed in: own memos plus everyone's PUBLIC and PROTECTED. */
  | { readonly kind: "viewer"; readonly userId: number };

/** One ListMemos page request (comments are always left out). */
export interface MemoListQuery {
  /** NORMAL memos within `scope`, or the ARCHIVED memos of `archivedOf` (any visibility). */
  readonly rows: { readonly state: "NORMAL"; readonly scope: MemoScope } | { readonly state: "ARCHIVED"; readonly archivedOf: number };
  /** The compiled filter, over the `memo` and `creator` aliases. */
  readonly filter: Expression<SqlBool>;
  /** ORDER BY keys, in order, ending with the tie-breaker. */
  readonly orderBy: ReadonlyArray<{ readonly column: "pinned" | "created_ts" | "updated_ts" | "id"; readonly direction: "asc" | "desc" }>;
  /** The keyset condition "after the cursor", when not on the first page. */
  readonly after?: Expression<SqlBool>;
  /** A legacy offset (spec §2.2 tokens), when paging by one. */
  readonly offset?: number;
  readonly limit: number;
}

/** Columns a new memo is inserted with. */
export interface NewMemo {
  readonly uid: string;
  readonly creator_id: number;
  readonly content: string;
  readonly visibility: string;
  /** JSON text of the payload. */
  readonly payload: string;
  readonly created_ts?: number;
  readonly updated_ts?: number;
}

/** Columns an update may change. */
export interface MemoPatch {
  content?: string;
  visibility?: string;
  pinned?: boolean;
  row_status?: string;
  created_ts?: number;
  updated_ts?: number;
  /** JSON text of the payload. */
  payload?: string;
}

/** A relation with both endpoints' names (and content, for snippets, when asked for). */
export interface RelationRecord {
  readonly memo_id: number;
  readonly memo_uid: string;
  readonly related_memo_id: number;
  readonly related_uid: string;
  readonly type: string;
  /** Payload and content of both endpoints; only when `withContent` was asked for. */
  readonly memo_payload?: unknown;
  readonly memo_content?: string;
  readonly related_payload?: unknown;
  readonly related_content?: string;
}

/** What a memo message carries besides its row (spec §6.2), read in the same statement as the memo. */
export interface MemoParts {
  /** By `updated_ts` descending, then id descending. */
  readonly attachments: AttachmentMetaRow[];
  /** Outgoing (by related memo, type), then incoming (by source memo, type); both ends in scope. */
  readonly relations: RelationRecord[];
  /** By id; reactions whose creator is gone are left out. */
  readonly reactions: ReactionRecord[];
}

/** A memo record with its parts. */
export type MemoWithParts = MemoRecord & MemoParts;

/** Which parts to read along with memos. */
export interface PartsOptions {
  /** Relations are limited to those whose both ends this viewer may see. */
  readonly scope: MemoScope;
  /** Read relations at all (GetSharedMemo has none). */
  readonly relations: boolean;
  /** Carry what relation snippets need (Get/Create/Update responses; lists leave them empty). */
  readonly snippets: boolean;
}

/** Queries over `memo` and `memo_relation`. */
export interface MemoRepository {
  /** The memo with `uid`, with creator username and comment parent. */
  findByUid(uid: string): Promise<MemoRecord | undefined>;
  /** The same plus its parts, in one statement. */
  findByUid(uid: string, parts: PartsOptions): Promise<MemoWithParts | undefined>;
  /** Same as {@link findByUid}, locking the memo row until the transaction ends (call on a transaction). */
  findByUidForUpdate(uid: string): Promise<MemoRecord | undefined>;
  /** The memo with row id `id` and its parts, in one statement. */
  findById(id: number, parts: PartsOptions): Promise<MemoWithParts | undefined>;
  /** `uid -> id` for the memos that exist among `uids`. */
  idsByUids(uids: readonly string[]): Promise<Map<string, number>>;
  /**
   * One page of memos with creator usernames (memos whose creator is gone are skipped) and their
   * parts: one statement for the whole page.
   */
  list(query: MemoListQuery, parts: PartsOptions): Promise<MemoWithParts[]>;
  /**
   * One page of the NORMAL comments of `parentId` whose creator exists, by comment id
   * descending, starting below `beforeId` or at `offset`.
   */
  listComments(parentId: number, page: { beforeId?: number; offset?: number; limit: number }, parts: PartsOptions): Promise<MemoWithParts[]>;
  /** Inserts a memo; a taken uid raises a unique violation. */
  insert(memo: NewMemo): Promise<MemoRow>;
  update(id: number, patch: MemoPatch): Promise<void>;
  /**
   * Sets the stored visibility of every comment below `parentId` (comments of comments too), so
   * a comment's row always carries its thread's visibility (spec §6.2: shown as the parent's).
   */
  setThreadVisibility(parentId: number, visibility: string): Promise<void>;
  /**
   * Relations touching any of `memoIds` (as source or target), both endpoints within `scope`,
   * ordered by (memo_id, related_memo_id, type).
   */
  relationsOf(memoIds: readonly number[], scope: MemoScope, withContent: boolean): Promise<RelationRecord[]>;
  /** Adds a relation; an existing identical one is kept. */
  addRelation(memoId: number, relatedMemoId: number, type: "REFERENCE" | "COMMENT"): Promise<void>;
  /** Replaces the outgoing REFERENCE relations of `memoId` with `relatedIds`. */
  replaceReferences(memoId: number, relatedIds: readonly number[]): Promise<void>;
  /** The ids of every comment below `memoId` (comments of comments too). */
  threadIds(memoId: number): Promise<number[]>;
  /**
   * Deletes the memos `ids` with their relations (both directions), reactions and shares.
   * Attachments are the caller's business.
   */
  deleteMemos(ids: readonly number[]): Promise<void>;
}

const MEMO_COLUMNS = [
  "memo.id",
  "memo.uid",
  "memo.creator_id",
  "memo.created_ts",
  "memo.updated_ts",
  "memo.row_status",
  "memo.content",
  "memo.visibility",
  "memo.pinned",
  "memo.payload",
] as const;

/** Memos within `scope`, over alias `alias`. */
function scopeCondition(alias: string, scope: MemoScope): Expression<SqlBool> {
  const visibility = sql.ref(`${alias}.visibility`);
  if (scope.kind === "public") return sql<SqlBool>`${visibility} = 'PUBLIC'`;
  return sql<SqlBool>`(${sql.ref(`${alias}.creator_id`)} = ${scope.userId} OR ${visibility} IN ('PUBLIC', 'PROTECTED'))`;
}

/**
 * A relation endpoint the scope's viewer may see: the viewer's own memo, or one within the scope
 * that is NORMAL and, for a comment, whose parent is NORMAL or the viewer's (an archived memo is
 * its creator's alone, and a comment is read through its parent, spec §6.3; so neither shows its
 * snippet to anybody else).
 */
function endpointCondition(alias: string, scope: MemoScope): Expression<SqlBool> {
  const status = sql.ref(`${alias}.row_status`);
  const ownParent = scope.kind === "public" ? sql`FALSE` : sql`p.creator_id = ${scope.userId}`;
  const readable = sql<SqlBool>`(${scopeCondition(alias, scope)} AND ${status} = 'NORMAL' AND NOT EXISTS (
      SELECT 1 FROM memo_relation pr JOIN memo p ON p.id = pr.related_memo_id
      WHERE pr.memo_id = ${sql.ref(`${alias}.id`)} AND pr.type = 'COMMENT' AND p.row_status <> 'NORMAL' AND NOT (${ownParent})))`;
  if (scope.kind === "public") return readable;
  return sql<SqlBool>`(${sql.ref(`${alias}.creator_id`)} = ${scope.userId} OR ${readable})`;
}

const NO_PARENT = {
  parent_id: null,
  parent_uid: null,
  parent_creator_id: null,
  parent_visibility: null,
  parent_row_status: null,
} as const;

/**
 * The parts of the memo aliased `memo` in the enclosing query, as correlated JSON subqueries
 * (each an index lookup per memo), so a memo or a page of memos is one statement.
 */
function partsColumns(parts: PartsOptions): Array<AliasedRawBuilder<unknown, string>> {
  const outer = endpointCondition("memo", parts.scope);
  const endpoint = (alias: string, prefix: string) =>
    parts.snippets
      ? sql`, ${sql.lit(`${prefix}_payload`)}, json_build_object('snippet', ${sql.ref(`${alias}.payload`)}->'snippet'),
            ${sql.lit(`${prefix}_content`)}, CASE WHEN ${sql.ref(`${alias}.payload`)}->'snippet' IS NULL THEN ${sql.ref(`${alias}.content`)} ELSE '' END`
      : sql``;
  const columns: Array<AliasedRawBuilder<unknown, string>> = [
    sql`(SELECT coalesce(json_agg(json_build_object(
          'id', a.id, 'uid', a.uid, 'creator_id', a.creator_id, 'created_ts', a.created_ts, 'updated_ts', a.updated_ts,
          'filename', a.filename, 'type', a.type, 'size', a.size, 'memo_id', a.memo_id, 'storage_type', a.storage_type,
          'reference', a.reference, 'payload', a.payload) ORDER BY a.updated_ts DESC, a.id DESC), '[]'::json)
        FROM attachment a WHERE a.memo_id = memo.id)`.as("attachments"),
    sql`(SELECT coalesce(json_agg(json_build_object(
          'id', r.id, 'created_ts', r.created_ts, 'creator_id', r.creator_id, 'memo_id', r.memo_id,
          'reaction_type', r.reaction_type, 'creator_username', u.username) ORDER BY r.id), '[]'::json)
        FROM reaction r JOIN "user" u ON u.id = r.creator_id WHERE r.memo_id = memo.id)`.as("reactions"),
  ];
  if (!parts.relations) return columns;
  return [
    ...columns,
    sql`(SELECT coalesce(json_agg(json_build_object(
          'memo_id', memo.id, 'memo_uid', memo.uid, 'related_memo_id', x.id, 'related_uid', x.uid, 'type', r.type
          ${endpoint("memo", "memo")} ${endpoint("x", "related")}) ORDER BY r.related_memo_id, r.type), '[]'::json)
        FROM memo_relation r JOIN memo x ON x.id = r.related_memo_id
        WHERE r.memo_id = memo.id AND ${outer} AND ${endpointCondition("x", parts.scope)})`.as("relations_out"),
    sql`(SELECT coalesce(json_agg(json_build_object(
          'memo_id', x.id, 'memo_uid', x.uid, 'related_memo_id', memo.id, 'related_uid', memo.uid, 'type', r.type
          ${endpoint("x", "memo")} ${endpoint("memo", "related")}) ORDER BY r.memo_id, r.type), '[]'::json)
        FROM memo_relation r JOIN memo x ON x.id = r.memo_id
        WHERE r.related_memo_id = memo.id AND r.memo_id <> memo.id AND ${outer} AND ${endpointCondition("x", parts.scope)})`.as("relations_in"),
  ];
}

/** `WITH RECURSIVE thread(id)`: every comment below `memoId`, comments of comments too (UNION stops cycles). */
function threadOf(memoId: number) {
  return sql`
    WITH RECURSIVE thread(id) AS (
      SELECT memo_id FROM memo_relation WHERE related_memo_id = ${memoId} AND type = 'COMMENT'
      UNION
      SELECT r.memo_id FROM memo_relation r JOIN thread t ON r.related_memo_id = t.id WHERE r.type = 'COMMENT'
    )`;
}

/** Folds the JSON part columns of a row into {@link MemoParts}. */
function withParts<R extends object>(row: R): R & MemoParts {
  const raw = row as R & { attachments?: AttachmentMetaRow[]; reactions?: ReactionRecord[]; relations_out?: RelationRecord[]; relations_in?: RelationRecord[] };
  const { relations_out, relations_in, ...rest } = raw;
  return {
    ...(rest as R),
    attachments: raw.attachments ?? [],
    reactions: raw.reactions ?? [],
    relations: [...(relations_out ?? []), ...(relations_in ?? [])],
  };
}

export function createMemoRepository(db: Db): MemoRepository {
  const findOne = async (key: { uid: string } | { id: number }, lock: boolean, parts?: PartsOptions) => {
    let query = db
      .selectFrom("memo")
      .leftJoin("user as creator", "creator.id", "memo.creator_id")
      .leftJoin("memo_relation as cr", (join) => join.onRef("cr.memo_id", "=", "memo.id").on("cr.type", "=", "COMMENT"))
      .leftJoin("memo as parent", "parent.id", "cr.related_memo_id")
      .select(MEMO_COLUMNS)
      .select([
        "creator.username as creator_username",
        "parent.id as parent_id",
        "parent.uid as parent_uid",
        "parent.creator_id as parent_creator_id",
        "parent.visibility as parent_visibility",
        "parent.row_status as parent_row_status",
      ])
      .where((eb) => ("uid" in key ? eb("memo.uid", "=", key.uid) : eb("memo.id", "=", key.id)))
      .limit(1);
    if (lock) query = query.forUpdate("memo");
    if (parts !== undefined) query = query.select(partsColumns(parts));
    const row = await query.executeTakeFirst();
    if (row === undefined) return undefined;
    return parts === undefined ? (row as MemoRecord) : (withParts(row) as MemoWithParts);
  };

  return {
    findByUid: ((uid: string, parts?: PartsOptions) => findOne({ uid }, false, parts)) as MemoRepository["findByUid"],
    findByUidForUpdate: (uid) => findOne({ uid }, true) as Promise<MemoRecord | undefined>,
    findById: (id, parts) => findOne({ id }, false, parts) as Promise<MemoWithParts | undefined>,

    async idsByUids(uids) {
      if (uids.length === 0) return new Map();
      const rows = await db.selectFrom("memo").select(["id", "uid"]).where("uid", "in", [...uids]).execute();
      return new Map(rows.map((r) => [r.uid, r.id]));
    },

    async list(query, parts) {
      let page = db
        .selectFrom("memo")
        .innerJoin("user as creator", "creator.id", "memo.creator_id")
        .select(MEMO_COLUMNS)
        .select("creator.username as creator_username")
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom("memo_relation as cr")
                .select(sql.lit(1).as("one"))
                .whereRef("cr.memo_id", "=", "memo.id")
                .where("cr.type", "=", "COMMENT"),
            ),
          ),
        );
      if (query.rows.state === "ARCHIVED") {
        page = page.where("memo.row_status", "=", "ARCHIVED").where("memo.creator_id", "=", query.rows.archivedOf);
      } else {
        page = page.where("memo.row_status", "=", "NORMAL").where(scopeCondition("memo", query.rows.scope));
      }
      page = page.where(query.filter);
      if (query.after !== undefined) page = page.where(query.after);
      for (const key of query.orderBy) page = page.orderBy(`memo.${key.column}`, key.direction);
      page = page.limit(query.limit);
      if (query.offset !== undefined && query.offset > 0) page = page.offset(query.offset);
      // Parts are computed for the page's rows only: rows skipped by an OFFSET never pay for them.
      let q = db.selectFrom(page.as("memo")).selectAll("memo").select(partsColumns(parts));
      for (const key of query.orderBy) q = q.orderBy(sql.ref(`memo.${key.column}`), key.direction);
      const rows = await q.execute();
      return rows.map((row) => withParts({ ...row, ...NO_PARENT }) as MemoWithParts);
    },

    async listComments(parentId, page, parts) {
      let ids = db
        .selectFrom("memo_relation as cr")
        .innerJoin("memo", "memo.id", "cr.memo_id")
        .innerJoin("user as creator", "creator.id", "memo.creator_id")
        .select("cr.memo_id as id")
        .where("cr.related_memo_id", "=", parentId)
        .where("cr.type", "=", "COMMENT")
        .where("memo.row_status", "=", "NORMAL");
      if (page.beforeId !== undefined) ids = ids.where("cr.memo_id", "<", page.beforeId);
      ids = ids.orderBy("cr.memo_id", "desc").limit(page.limit);
      if (page.offset !== undefined && page.offset > 0) ids = ids.offset(page.offset);
      // The page is chosen first; its rows, creators, parent and parts are read for it only.
      const rows = await db
        .selectFrom(ids.as("page"))
        .innerJoin("memo", "memo.id", "page.id")
        .innerJoin("user as creator", "creator.id", "memo.creator_id")
        .innerJoin("memo as parent", (join) => join.on("parent.id", "=", parentId))
        .select(MEMO_COLUMNS)
        .select([
          "creator.username as creator_username",
          "parent.id as parent_id",
          "parent.uid as parent_uid",
          "parent.creator_id as parent_creator_id",
          "parent.visibility as parent_visibility",
          "parent.row_status as parent_row_status",
        ])
        .select(partsColumns(parts))
        .orderBy("memo.id", "desc")
        .execute();
      return rows.map((row) => withParts(row) as MemoWithParts);
    },

    insert: (memo) => db.insertInto("memo").values(memo).returningAll().executeTakeFirstOrThrow(),

    async update(id, patch) {
      if (Object.keys(patch).length === 0) return;
      await db.updateTable("memo").set(patch).where("id", "=", id).execute();
    },

    async setThreadVisibility(parentId, visibility) {
      await sql`${threadOf(parentId)} UPDATE memo SET visibility = ${visibility} WHERE id IN (SELECT id FROM thread) AND visibility <> ${visibility}`.execute(db);
    },

    async relationsOf(memoIds, scope, withContent) {
      if (memoIds.length === 0) return [];
      const ids = [...new Set(memoIds)];
      let q = db
        .selectFrom("memo_relation as r")
        .innerJoin("memo as m", "m.id", "r.memo_id")
        .innerJoin("memo as rm", "rm.id", "r.related_memo_id")
        .select(["r.memo_id", "m.uid as memo_uid", "r.related_memo_id", "rm.uid as related_uid", "r.type"])
        .where((eb) => eb.or([eb("r.memo_id", "in", ids), eb("r.related_memo_id", "in", ids)]))
        .where(endpointCondition("m", scope))
        .where(endpointCondition("rm", scope))
        .orderBy("r.memo_id")
        .orderBy("r.related_memo_id")
        .orderBy("r.type");
      if (withContent) {
        q = q.select(["m.payload as memo_payload", "m.content as memo_content", "rm.payload as related_payload", "rm.content as related_content"]) as typeof q;
      }
      return (await q.execute()) as RelationRecord[];
    },

    async addRelation(memoId, relatedMemoId, type) {
      await db
        .insertInto("memo_relation")
        .values({ memo_id: memoId, related_memo_id: relatedMemoId, type })
        .onConflict((oc) => oc.columns(["memo_id", "related_memo_id", "type"]).doNothing())
        .execute();
    },

    async replaceReferences(memoId, relatedIds) {
      let del = db.deleteFrom("memo_relation").where("memo_id", "=", memoId).where("type", "=", "REFERENCE");
      if (relatedIds.length > 0) del = del.where("related_memo_id", "not in", [...relatedIds]);
      await del.execute();
      if (relatedIds.length === 0) return;
      await db
        .insertInto("memo_relation")
        .values(relatedIds.map((id) => ({ memo_id: memoId, related_memo_id: id, type: "REFERENCE" })))
        .onConflict((oc) => oc.columns(["memo_id", "related_memo_id", "type"]).doNothing())
        .execute();
    },

    async threadIds(memoId) {
      const result = await sql<{ id: number }>`${threadOf(memoId)} SELECT id FROM thread WHERE id <> ${memoId}`.execute(db);
      return result.rows.map((r) => r.id);
    },

    async deleteMemos(ids) {
      if (ids.length === 0) return;
      const list = [...ids];
      await db
        .deleteFrom("memo_relation")
        .where((eb) => eb.or([eb("memo_id", "in", list), eb("related_memo_id", "in", list)]))
        .execute();
      await db.deleteFrom("reaction").where("memo_id", "in", list).execute();
      await db.deleteFrom("memo_share").where("memo_id", "in", list).execute();
      await db.deleteFrom("memo").where("id", "in", list).execute();
    },
  };
}
