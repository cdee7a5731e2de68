import { sql, type Expression, type SqlBool } from "kysely";
import { compileFilter, type FilterContext, type FilterField, type FilterSchema } from "./cel-sql-compiler.js";

/**
 * Table aliases the memo filter SQL refers to. The ListMemos query must expose the memo row as
 * `memo` and its creator (a join of `"user"`) as `creator`, e.g.
 * `db.selectFrom("memo").innerJoin("user as creator", "creator.id", "memo.creator_id")`.
 */
export const MEMO_FILTER_ALIASES = { memo: "memo", creator: "creator" } as const;

const payload = sql.ref("memo.payload");

/** `payload.property.<camelName>` as a boolean; missing (false is never stored) means false. */
function property(camelName: string): FilterField {
  return { kind: "bool", sql: sql<SqlBool>`COALESCE((${payload}->'property'->>${sql.lit(camelName)})::boolean, FALSE)` };
}

const tags = sql`${payload}->'tags'`;

/** The identifiers of spec §6.7.1 (`now` is built in). */
export const MEMO_FILTER_SCHEMA: FilterSchema = {
  content: {
    kind: "string",
    sql: sql.ref<string>("memo.content"),
    ordered: true,
    functions: true,
    matches: true,
    sizable: true,
    bytewise: false,
  },
  creator: {
    kind: "string",
    sql: sql<string>`('users/' || ${sql.ref("creator.username")})`,
    ordered: false,
    functions: false,
    matches: false,
    sizable: false,
    bytewise: true,
  },
  creator_id: { kind: "int", sql: sql.ref<number>("memo.creator_id"), nullable: false },
  created_ts: { kind: "timestamp", sql: sql.ref<number>("memo.created_ts") },
  updated_ts: { kind: "timestamp", sql: sql.ref<number>("memo.updated_ts") },
  pinned: { kind: "bool", sql: sql.ref<SqlBool>("memo.pinned") },
  visibility: {
    kind: "string",
    sql: sql.ref<string>("memo.visibility"),
    ordered: false,
    functions: false,
    matches: false,
    sizable: false,
    bytewise: true,
  },
  tags: { kind: "tags", sql: tags },
  tag: { kind: "tagAlias", sql: tags },
  has_task_list: property("hasTaskList"),
  has_link: property("hasLink"),
  has_code: property("hasCode"),
  has_incomplete_tasks: property("hasIncompleteTasks"),
  has_location: {
    kind: "bool",
    sql: sql<SqlBool>`COALESCE(jsonb_typeof(${payload}->'location') <> 'null', FALSE)`,
  },
};

/**
 * Compiles a ListMemos `filter` (spec §6.7.1) to a parameterised condition over the aliases of
 * `MEMO_FILTER_ALIASES`. Throws `FilterError` (-> `invalid_argument`) for an invalid filter;
 * blank text compiles to `TRUE`.
 */
export function compileMemoFilter(text: string, ctx: FilterContext): Expression<SqlBool> {
  return compileFilter(text, MEMO_FILTER_SCHEMA, ctx);
}
