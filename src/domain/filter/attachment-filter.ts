import { sql, type Expression, type SqlBool } from "kysely";
import { compileFilter, type FilterContext, type FilterSchema } from "./cel-sql-compiler.js";

/** The ListAttachments query must expose the attachment row as `attachment`. */
export const ATTACHMENT_FILTER_ALIASES = { attachment: "attachment" } as const;

/**
 * The identifiers of spec §6.7.2 (`now` is built in). `memo_id` is the internal numeric id, useful
 * as `memo_id == null` / `memo_id != null`; the proto comment's `memo` field does not exist (§10 Q9).
 */
export const ATTACHMENT_FILTER_SCHEMA: FilterSchema = {
  filename: {
    kind: "string",
    sql: sql.ref<string>("attachment.filename"),
    ordered: true,
    functions: true,
    matches: true,
    sizable: true,
    bytewise: false,
  },
  mime_type: {
    kind: "string",
    sql: sql.ref<string>("attachment.type"),
    ordered: true,
    functions: true,
    matches: true,
    sizable: true,
    bytewise: false,
  },
  create_time: { kind: "timestamp", sql: sql.ref<number>("attachment.created_ts") },
  memo_id: { kind: "int", sql: sql.ref<number>("attachment.memo_id"), nullable: true },
};

/**
 * Compiles a ListAttachments `filter` (spec §6.7.2) to a parameterised condition over the
 * `attachment` alias. Throws `FilterError` (-> `invalid_argument`); blank text compiles to `TRUE`.
 */
export function compileAttachmentFilter(text: string, ctx: FilterContext): Expression<SqlBool> {
  return compileFilter(text, ATTACHMENT_FILTER_SCHEMA, ctx);
}
