import { sql, type Expression, type RawBuilder, type SqlBool } from "kysely";

/**
 * A bad `order_by` (spec §6.7 item 6). The service answers `invalid_argument` with `message`
 * (already `invalid order_by: ...`). Check `.name`, not `instanceof`, across realms.
 */
export class OrderByError extends Error {
  override readonly name = "OrderByError";
  readonly code = "invalid_argument";
}

/** A column ListMemos sorts by, on the `memo` alias. */
export type MemoSortColumn = "pinned" | "created_ts" | "updated_ts" | "id";

/** One sort key: a column and its direction. */
export interface SortKey {
  readonly column: MemoSortColumn;
  readonly direction: "asc" | "desc";
}

/** A validated ListMemos order. */
export interface MemoOrder {
  /** `pinned` was named: pinned memos first (`pinned DESC`, whatever direction was given). */
  readonly pinnedFirst: boolean;
  /** The time column: `created_ts` (`create_time`, `name`, default) or `updated_ts` (`update_time`). */
  readonly timeColumn: "created_ts" | "updated_ts";
  readonly timeDirection: "asc" | "desc";
  /** Every key in order, ending with the `id DESC` tie-breaker. */
  readonly keys: readonly SortKey[];
}

const TIME_FIELDS: Readonly<Record<string, "created_ts" | "updated_ts">> = {
  create_time: "created_ts",
  name: "created_ts",
  update_time: "updated_ts",
};

/**
 * Parses `order_by` (spec §6.7 item 6): comma-separated `field [asc|desc]`, direction default
 * `desc` (case-insensitive). Fields: `pinned`, `create_time`, `name` (= create_time),
 * `update_time`; anything else (e.g. `display_time`) is an error. `pinned` anywhere sorts pinned
 * first; the first time field decides the time sort, later ones are ignored; empty means
 * `created_ts DESC` with pinned memos not floated. The tie-breaker is always `id DESC`.
 * Empty items (`"pinned desc,"`) are skipped.
 */
export function parseMemoOrderBy(orderBy: string): MemoOrder {
  let pinnedFirst = false;
  let time: { column: "created_ts" | "updated_ts"; direction: "asc" | "desc" } | undefined;
  for (const item of orderBy.split(",")) {
    const words = item.trim().split(/\s+/).filter((w) => w !== "");
    if (words.length === 0) continue;
    const [field, dir, ...rest] = words as [string, string | undefined, ...string[]];
    if (rest.length > 0) throw new OrderByError(`invalid order_by: cannot parse ${JSON.stringify(item.trim())}`);
    let direction: "asc" | "desc" = "desc";
    if (dir !== undefined) {
      const lower = dir.toLowerCase();
      if (lower !== "asc" && lower !== "desc") {
        throw new OrderByError(`invalid order_by: unsupported direction ${JSON.stringify(dir)} for ${field} (use asc or desc)`);
      }
      direction = lower;
    }
    if (field === "pinned") {
      pinnedFirst = true;
      continue;
    }
    const column = Object.hasOwn(TIME_FIELDS, field) ? TIME_FIELDS[field] : undefined;
    if (column === undefined) {
      throw new OrderByError(
        `invalid order_by: unsupported order field ${JSON.stringify(field)} (supported: pinned, create_time, name, update_time)`,
      );
    }
    time ??= { column, direction };
  }
  const timeColumn = time?.column ?? "created_ts";
  const timeDirection = time?.direction ?? "desc";
  const keys: SortKey[] = [];
  if (pinnedFirst) keys.push({ column: "pinned", direction: "desc" });
  keys.push({ column: timeColumn, direction: timeDirection });
  keys.push({ column: "id", direction: "desc" });
  return { pinnedFirst, timeColumn, timeDirection, keys };
}

/** A canonical text of an order, for page-token query fingerprints (`pinned desc,created_ts asc,id desc`). */
export function describeMemoOrder(order: MemoOrder): string {
  return order.keys.map((k) => `${k.column} ${k.direction}`).join(",");
}

/** The cursor values of a row, in key order. */
export type SortValues = ReadonlyArray<boolean | number>;

/** A row's values for `order.keys`, e.g. to put in the next page token. */
export function sortValuesOf(
  order: MemoOrder,
  row: { readonly pinned: boolean; readonly created_ts: number; readonly updated_ts: number; readonly id: number },
): SortValues {
  return order.keys.map((k) => row[k.column]);
}

/**
 * The keyset condition "strictly after the row with `values`" for `order.keys`, over the `memo`
 * alias, written so Postgres can start an index scan at the cursor (page N costs what page 1
 * costs). Keys are grouped into runs of one direction; a run compares as a row value
 * (`(pinned, created_ts, id) < ($1, $2, $3)`), which the planner turns into an index bound. A
 * run followed by more keys (only a mixed order such as `created_ts ASC, id DESC`) becomes
 * `run >= v AND (run > v OR <rest>)`: the first half is the index bound, the second drops the
 * few rows that tie with the cursor. Throws `TypeError` when `values` does not fit the keys
 * (callers get them from a verified token).
 */
export function keysetAfter(order: MemoOrder, values: SortValues): Expression<SqlBool> {
  if (values.length !== order.keys.length) throw new TypeError("cursor does not match the sort keys");
  const checkedValues = order.keys.map((key, i) => checked(key, values[i]));
  const after = (from: number): RawBuilder<SqlBool> => {
    let to = from + 1;
    while (to < order.keys.length && order.keys[to]!.direction === order.keys[from]!.direction) to++;
    const run = order.keys.slice(from, to);
    const columns = run.map((k) => sql.ref(`memo.${k.column}`));
    const params = checkedValues.slice(from, to).map((v) => sql`${v}`);
    const lhs = columns.length === 1 ? columns[0]! : sql`(${sql.join(columns)})`;
    const rhs = params.length === 1 ? params[0]! : sql`(${sql.join(params)})`;
    const descending = run[0]!.direction === "desc";
    const strict = sql<SqlBool>`${lhs} ${sql.raw(descending ? "<" : ">")} ${rhs}`;
    if (to === order.keys.length) return strict;
    return sql<SqlBool>`(${lhs} ${sql.raw(descending ? "<=" : ">=")} ${rhs} AND (${strict} OR ${after(to)}))`;
  };
  return sql<SqlBool>`(${after(0)})`;
}

function checked(key: SortKey, value: boolean | number | undefined): boolean | number {
  const ok = key.column === "pinned" ? typeof value === "boolean" : typeof value === "number" && Number.isSafeInteger(value);
  if (!ok) throw new TypeError(`cursor value for ${key.column} has the wrong type`);
  return value!;
}
