import { sql, type Expression, type SqlBool } from "kysely";

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
 * alias: `(k1 > v1) OR (k1 = v1 AND k2 > v2) OR ...` with `<` for descending keys. Throws
 * `TypeError` when `values` does not fit the keys (callers get them from a verified token).
 */
export function keysetAfter(order: MemoOrder, values: SortValues): Expression<SqlBool> {
  if (values.length !== order.keys.length) throw new TypeError("cursor does not match the sort keys");
  const branches = order.keys.map((key, i) => {
    const equalities = order.keys.slice(0, i).map((prev, j) => sql<SqlBool>`${sql.ref(`memo.${prev.column}`)} = ${checked(prev, values[j])}`);
    const step = sql<SqlBool>`${sql.ref(`memo.${key.column}`)} ${sql.raw(key.direction === "desc" ? "<" : ">")} ${checked(key, values[i])}`;
    return sql<SqlBool>`(${sql.join([...equalities, step], sql` AND `)})`;
  });
  return sql<SqlBool>`(${sql.join(branches, sql` OR `)})`;
}

function checked(key: SortKey, value: boolean | number | undefined): boolean | number {
  const ok = key.column === "pinned" ? typeof value === "boolean" : typeof value === "number" && Number.isSafeInteger(value);
  if (!ok) throw new TypeError(`cursor value for ${key.column} has the wrong type`);
  return value!;
}
