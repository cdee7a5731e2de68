import { sql, type Expression, type SqlBool } from "kysely";
import type { Db } from "./database.js";

/** Which memos count (comments never do). */
export interface MemoStatsQuery {
  /**
   * NORMAL memos a viewer may read: `viewerId` undefined means anonymous (PUBLIC only), else the
   * viewer's own memos plus everyone's PUBLIC and PROTECTED (spec §6.7 scope). Or the ARCHIVED
   * memos of `archivedOf` (any visibility).
   */
  readonly rows: { readonly state: "NORMAL"; readonly viewerId: number | undefined } | { readonly state: "ARCHIVED"; readonly archivedOf: number };
  /** A compiled memo filter over the `memo` and `creator` aliases (spec §6.7.1); none: every memo. */
  readonly filter?: Expression<SqlBool>;
  /** Only this creator's memos. */
  readonly creatorId?: number;
}

/** Aggregates of one creator's counted memos. */
export interface CreatorMemoStats {
  readonly creatorId: number;
  readonly username: string;
  readonly total: number;
  readonly linkCount: number;
  readonly codeCount: number;
  readonly todoCount: number;
  readonly undoCount: number;
  /** Unix seconds of every memo's creation, ascending. */
  readonly createdTs: number[];
  /** Unix seconds of every memo's last update, in the order of `createdTs`. */
  readonly updatedTs: number[];
  /** UIDs of the pinned memos, newest first. */
  readonly pinnedUids: string[];
  /** Memos per tag (ancestors count too, as they are stored expanded). */
  readonly tagCount: Record<string, number>;
}

/** Memo statistics, aggregated by the database. */
export interface MemoStatsRepository {
  /**
   * Per-creator aggregates of the memos `query` selects, one row per creator who has any, in
   * creator id order. Creators who are not NORMAL users are left out. One statement.
   */
  byCreator(query: MemoStatsQuery): Promise<CreatorMemoStats[]>;
}

const prop = (name: string) => sql`COALESCE((m.payload->'property'->>${sql.lit(name)})::boolean, FALSE)`;

export function createMemoStatsRepository(db: Db): MemoStatsRepository {
  return {
    async byCreator(query) {
      const rows = query.rows;
      const scope =
        rows.state === "ARCHIVED"
          ? sql`memo.row_status = 'ARCHIVED' AND memo.creator_id = ${rows.archivedOf}`
          : rows.viewerId === undefined
            ? sql`memo.row_status = 'NORMAL' AND memo.visibility = 'PUBLIC'`
            : sql`memo.row_status = 'NORMAL' AND (memo.creator_id = ${rows.viewerId} OR memo.visibility IN ('PUBLIC', 'PROTECTED'))`;
      const creator = query.creatorId === undefined ? sql`TRUE` : sql`memo.creator_id = ${query.creatorId}`;
      // The filtered memos are read once (MATERIALIZED) and aggregated twice: counts and
      // timestamps per creator, and tag counts per (creator, tag).
      const result = await sql<{
        creator_id: number;
        username: string;
        total: number;
        link_count: number;
        code_count: number;
        todo_count: number;
        undo_count: number;
        created: Array<number | string | bigint>;
        updated: Array<number | string | bigint>;
        pinned: string[] | null;
        tag_count: Record<string, number> | string | null;
      }>`
        WITH m AS MATERIALIZED (
          SELECT memo.creator_id, memo.uid, memo.created_ts, memo.updated_ts, memo.pinned, memo.payload
          FROM memo
          JOIN "user" AS creator ON creator.id = memo.creator_id
          WHERE ${scope}
            AND ${creator}
            AND creator.row_status = 'NORMAL'
            AND NOT EXISTS (SELECT 1 FROM memo_relation AS cr WHERE cr.memo_id = memo.id AND cr.type = 'COMMENT')
            AND ${query.filter ?? sql`TRUE`}
        ),
        counts AS (
          SELECT m.creator_id,
                 count(*)::int AS total,
                 (count(*) FILTER (WHERE ${prop("hasLink")}))::int AS link_count,
                 (count(*) FILTER (WHERE ${prop("hasCode")}))::int AS code_count,
                 (count(*) FILTER (WHERE ${prop("hasTaskList")}))::int AS todo_count,
                 (count(*) FILTER (WHERE ${prop("hasIncompleteTasks")}))::int AS undo_count,
                 array_agg(m.created_ts ORDER BY m.created_ts, m.uid) AS created,
                 array_agg(m.updated_ts ORDER BY m.created_ts, m.uid) AS updated,
                 array_agg(m.uid ORDER BY m.created_ts DESC, m.uid) FILTER (WHERE m.pinned) AS pinned
          FROM m
          GROUP BY m.creator_id
        ),
        tags AS (
          SELECT t.creator_id, jsonb_object_agg(t.tag, t.n) AS tag_count
          FROM (
            SELECT m.creator_id, tag.value AS tag, count(*)::int AS n
            FROM m
            CROSS JOIN LATERAL jsonb_array_elements_text(
              CASE WHEN jsonb_typeof(m.payload->'tags') = 'array' THEN m.payload->'tags' ELSE '[]'::jsonb END
            ) AS tag(value)
            GROUP BY m.creator_id, tag.value
          ) AS t
          GROUP BY t.creator_id
        )
        SELECT counts.*, u.username, tags.tag_count
        FROM counts
        JOIN "user" AS u ON u.id = counts.creator_id
        LEFT JOIN tags ON tags.creator_id = counts.creator_id
        ORDER BY counts.creator_id`.execute(db);
      return result.rows.map((r) => ({
        creatorId: Number(r.creator_id),
        username: r.username,
        total: Number(r.total),
        linkCount: Number(r.link_count),
        codeCount: Number(r.code_count),
        todoCount: Number(r.todo_count),
        undoCount: Number(r.undo_count),
        createdTs: r.created.map(Number),
        updatedTs: r.updated.map(Number),
        pinnedUids: r.pinned ?? [],
        tagCount: (typeof r.tag_count === "string" ? JSON.parse(r.tag_count) : r.tag_count ?? {}) as Record<string, number>,
      }));
    },
  };
}
