import { sql, type Expression, type Selectable, type SqlBool } from "kysely";
import type { Db } from "./database.js";
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

/** Queries over `memo` and `memo_relation`. */
export interface MemoRepository {
  /** The memo with `uid`, with creator username and comment parent. */
  findByUid(uid: string): Promise<MemoRecord | undefined>;
  /** Same, locking the memo row until the transaction ends (call on a transaction). */
  findByUidForUpdate(uid: string): Promise<MemoRecord | undefined>;
  /** The memo with row id `id`, as {@link findByUid}. */
  findById(id: number): Promise<MemoRecord | undefined>;
  /** `uid -> id` for the memos that exist among `uids`. */
  idsByUids(uids: readonly string[]): Promise<Map<string, number>>;
  /** One page of memos with creator usernames (memos whose creator is gone are skipped). */
  list(query: MemoListQuery): Promise<MemoRecord[]>;
  /**
   * One page of the NORMAL comments of `parentId` whose creator exists, by comment id
   * descending, starting below `beforeId` or at `offset`.
   */
  listComments(parentId: number, page: { beforeId?: number; offset?: number; limit: number }): Promise<MemoRecord[]>;
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

const NO_PARENT = {
  parent_id: null,
  parent_uid: null,
  parent_creator_id: null,
  parent_visibility: null,
  parent_row_status: null,
} as const;

export function createMemoRepository(db: Db): MemoRepository {
  const findOne = (key: { uid: string } | { id: number }, lock: boolean) => {
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
    return query.executeTakeFirst() as Promise<MemoRecord | undefined>;
  };

  return {
    findByUid: (uid) => findOne({ uid }, false),
    findByUidForUpdate: (uid) => findOne({ uid }, true),
    findById: (id) => findOne({ id }, false),

    async idsByUids(uids) {
      if (uids.length === 0) return new Map();
      const rows = await db.selectFrom("memo").select(["id", "uid"]).where("uid", "in", [...uids]).execute();
      return new Map(rows.map((r) => [r.uid, r.id]));
    },

    async list(query) {
      let q = db
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
        q = q.where("memo.row_status", "=", "ARCHIVED").where("memo.creator_id", "=", query.rows.archivedOf);
      } else {
        q = q.where("memo.row_status", "=", "NORMAL").where(scopeCondition("memo", query.rows.scope));
      }
      q = q.where(query.filter);
      if (query.after !== undefined) q = q.where(query.after);
      for (const key of query.orderBy) q = q.orderBy(`memo.${key.column}`, key.direction);
      q = q.limit(query.limit);
      if (query.offset !== undefined && query.offset > 0) q = q.offset(query.offset);
      const rows = await q.execute();
      return rows.map((row) => ({ ...row, ...NO_PARENT }) as MemoRecord);
    },

    async listComments(parentId, page) {
      let q = db
        .selectFrom("memo_relation as cr")
        .innerJoin("memo", "memo.id", "cr.memo_id")
        .innerJoin("user as creator", "creator.id", "memo.creator_id")
        .innerJoin("memo as parent", "parent.id", "cr.related_memo_id")
        .select(MEMO_COLUMNS)
        .select([
          "creator.username as creator_username",
          "parent.id as parent_id",
          "parent.uid as parent_uid",
          "parent.creator_id as parent_creator_id",
          "parent.visibility as parent_visibility",
          "parent.row_status as parent_row_status",
        ])
        .where("cr.related_memo_id", "=", parentId)
        .where("cr.type", "=", "COMMENT")
        .where("memo.row_status", "=", "NORMAL");
      if (page.beforeId !== undefined) q = q.where("cr.memo_id", "<", page.beforeId);
      q = q.orderBy("cr.memo_id", "desc").limit(page.limit);
      if (page.offset !== undefined && page.offset > 0) q = q.offset(page.offset);
      return (await q.execute()) as MemoRecord[];
    },

    insert: (memo) => db.insertInto("memo").values(memo).returningAll().executeTakeFirstOrThrow(),

    async update(id, patch) {
      if (Object.keys(patch).length === 0) return;
      await db.updateTable("memo").set(patch).where("id", "=", id).execute();
    },

    async setThreadVisibility(parentId, visibility) {
      await sql`
        WITH RECURSIVE thread(id) AS (
          SELECT memo_id FROM memo_relation WHERE related_memo_id = ${parentId} AND type = 'COMMENT'
          UNION
          SELECT r.memo_id FROM memo_relation r JOIN thread t ON r.related_memo_id = t.id WHERE r.type = 'COMMENT'
        )
        UPDATE memo SET visibility = ${visibility} WHERE id IN (SELECT id FROM thread) AND visibility <> ${visibility}`.execute(db);
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
        .where(scopeCondition("m", scope))
        .where(scopeCondition("rm", scope))
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
      const result = await sql<{ id: number }>`
        WITH RECURSIVE thread(id) AS (
          SELECT memo_id FROM memo_relation WHERE related_memo_id = ${memoId} AND type = 'COMMENT'
          UNION
          SELECT r.memo_id FROM memo_relation r JOIN thread t ON r.related_memo_id = t.id WHERE r.type = 'COMMENT'
        )
        SELECT id FROM thread WHERE id <> ${memoId}`.execute(db);
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
