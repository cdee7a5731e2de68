/**
 * Constant values of the filter language and the CEL built-ins that fold on them: RFC 3339
 * timestamps, Go-style durations, timestamp accessors (UTC, CEL bases), arithmetic.
 */

/** A constant, already evaluated. Timestamps and durations are seconds (fractions allowed). */
export type Const =
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "int"; readonly value: bigint }
  | { readonly type: "uint"; readonly value: bigint }
  | { readonly type: "double"; readonly value: number }
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "bytes"; readonly value: Uint8Array }
  | { readonly type: "null" }
  | { readonly type: "timestamp"; readonly value: number }
  | { readonly type: "duration"; readonly value: number }
  | { readonly type: "list"; readonly value: readonly Const[] };

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
/** CEL's timestamp range: years 0001 to 9999. */
const MIN_TIMESTAMP = -62135596800;
const MAX_TIMESTAMP = 253402300799;

/** A constant operation that has no meaning; the caller turns it into a `FilterError`. */
export class FoldError extends Error {
  override readonly name = "FoldError";
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses an RFC 3339 timestamp to Unix seconds, or throws `FoldError`. */
export function parseTimestamp(text: string): number {
  const m = RFC3339.exec(text);
  if (m === null) throw new FoldError(`timestamp ${JSON.stringify(text)} is not RFC 3339 (e.g. "2026-01-02T15:04:05Z")`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) {
    throw new FoldError(`timestamp ${JSON.stringify(text)} is out of range`);
  }
  const utc = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear puts them back.
  const date = new Date(utc);
  date.setUTCFullYear(year);
  let seconds = date.getTime() / 1000 + (m[7] === undefined ? 0 : Number(`0${m[7]}`));
  const zone = m[8]!;
  if (zone !== "Z" && zone !== "z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const zh = Number(zone.slice(1, 3));
    const zm = Number(zone.slice(4, 6));
    if (zh > 23 || zm > 59) throw new FoldError(`timestamp ${JSON.stringify(text)} has an invalid offset`);
    seconds -= sign * (zh * 3600 + zm * 60);
  }
  return checkTimestamp(seconds);
}

/** A timestamp in CEL's range, or `FoldError`. */
export function checkTimestamp(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds < MIN_TIMESTAMP || seconds > MAX_TIMESTAMP) {
    throw new FoldError("timestamp out of range");
  }
  return seconds;
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ns: 1e-9,
  us: 1e-6,
  "µs": 1e-6,
  "μs": 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Parses a Go-style duration (`"24h"`, `"1h30m"`, `"-1.5s"`, `"0"`) to seconds, or throws `FoldError`. */
export function parseDuration(text: string): number {
  let rest = text;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    sign = rest.startsWith("-") ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw new FoldError(`duration ${JSON.stringify(text)} is invalid (e.g. "24h", "90m", "1h30m")`);
  let total = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < rest.length) {
    const at = DURATION_PART.lastIndex;
    const m = DURATION_PART.exec(rest);
    if (m === null || m.index !== at) throw new FoldError(`duration ${JSON.stringify(text)} is invalid (e.g. "24h", "90m", "1h30m")`);
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
  }
  // CEL limits durations to about ±10000 years.
  if (total > 315576000000) throw new FoldError(`duration ${JSON.stringify(text)} is out of range`);
  return sign * total;
}

/** The timestamp accessors of spec §6.7.1, UTC, with CEL's bases. */
export const TIMESTAMP_ACCESSORS = [
  "getFullYear",
  "getMonth",
  "getDate",
  "getDayOfMonth",
  "getDayOfWeek",
  "getDayOfYear",
  "getHours",
  "getMinutes",
  "getSeconds",
] as const;
export type TimestampAccessor = (typeof TIMESTAMP_ACCESSORS)[number];

export function isTimestampAccessor(name: string): name is TimestampAccessor {
  return (TIMESTAMP_ACCESSORS as readonly string[]).includes(name);
}

/** Folds an accessor on a constant timestamp (e.g. `now.getFullYear()`). */
export function applyAccessor(accessor: TimestampAccessor, seconds: number): bigint {
  const date = new Date(Math.floor(seconds) * 1000);
  switch (accessor) {
    case "getFullYear":
      return BigInt(date.getUTCFullYear());
    case "getMonth":
      return BigInt(date.getUTCMonth());
    case "getDate":
      return BigInt(date.getUTCDate());
    case "getDayOfMonth":
      return BigInt(date.getUTCDate() - 1);
    case "getDayOfWeek":
      return BigInt(date.getUTCDay());
    case "getDayOfYear": {
      const start = Date.UTC(date.getUTCFullYear(), 0, 1);
      const startOfYear = new Date(start);
      startOfYear.setUTCFullYear(date.getUTCFullYear());
      return BigInt(Math.floor((date.getTime() - startOfYear.getTime()) / 86_400_000));
    }
    case "getHours":
      return BigInt(date.getUTCHours());
    case "getMinutes":
      return BigInt(date.getUTCMinutes());
    case "getSeconds":
      return BigInt(date.getUTCSeconds());
  }
}

function checkInt(value: bigint): Const {
  if (value < INT64_MIN || value > INT64_MAX) throw new FoldError("integer overflow");
  return { type: "int", value };
}

function checkUint(value: bigint): Const {
  if (value < 0n || value > UINT64_MAX) throw new FoldError("unsigned integer overflow");
  return { type: "uint", value };
}

/** Folds `+ - * / %` on constants; `FoldError` when there is no such overload. */
export function foldArithmetic(op: string, a: Const, b: Const): Const {
  if (a.type === "int" && b.type === "int") {
    if ((op === "/" || op === "%") && b.value === 0n) throw new FoldError(op === "/" ? "division by zero" : "modulus by zero");
    switch (op) {
      case "+":
        return checkInt(a.value + b.value);
      case "-":
        return checkInt(a.value - b.value);
      case "*":
        return checkInt(a.value * b.value);
      case "/":
        return checkInt(a.value / b.value);
      case "%":
        return checkInt(a.value % b.value);
    }
  }
  if (a.type === "uint" && b.type === "uint") {
    if ((op === "/" || op === "%") && b.value === 0n) throw new FoldError(op === "/" ? "division by zero" : "modulus by zero");
    switch (op) {
      case "+":
        return checkUint(a.value + b.value);
      case "-":
        return checkUint(a.value - b.value);
      case "*":
        return checkUint(a.value * b.value);
      case "/":
        return checkUint(a.value / b.value);
      case "%":
        return checkUint(a.value % b.value);
    }
  }
  if (a.type === "double" && b.type === "double") {
    switch (op) {
      case "+":
        return { type: "double", value: a.value + b.value };
      case "-":
        return { type: "double", value: a.value - b.value };
      case "*":
        return { type: "double", value: a.value * b.value };
      case "/":
        return { type: "double", value: a.value / b.value };
    }
  }
  if (op === "+" && a.type === "string" && b.type === "string") return { type: "string", value: a.value + b.value };
  if (op === "+" && a.type === "list" && b.type === "list") return { type: "list", value: [...a.value, ...b.value] };
  if (a.type === "timestamp" && b.type === "duration" && (op === "+" || op === "-")) {
    return { type: "timestamp", value: checkTimestamp(op === "+" ? a.value + b.value : a.value - b.value) };
  }
  if (op === "+" && a.type === "duration" && b.type === "timestamp") {
    return { type: "timestamp", value: checkTimestamp(a.value + b.value) };
  }
  if (a.type === "duration" && b.type === "duration" && (op === "+" || op === "-")) {
    return { type: "duration", value: op === "+" ? a.value + b.value : a.value - b.value };
  }
  if (op === "-" && a.type === "timestamp" && b.type === "timestamp") return { type: "duration", value: a.value - b.value };
  throw new FoldError(`no operator ${op} for ${a.type} and ${b.type}`);
}

/** Folds `==`, `!=`, `<`, `<=`, `>`, `>=` on constants; `FoldError` for incomparable types. */
export function foldComparison(op: string, a: Const, b: Const): boolean {
  const order = compareConsts(a, b, op === "==" || op === "!=");
  switch (op) {
    case "==":
      return order === 0;
    case "!=":
      return order !== 0;
    case "<":
      return order !== undefined && order < 0;
    case "<=":
      return order !== undefined && order <= 0;
    case ">":
      return order !== undefined && order > 0;
    case ">=":
      return order !== undefined && order >= 0;
  }
  throw new FoldError(`unknown operator ${op}`);
}

function isNumber(c: Const): c is Extract<Const, { type: "int" | "uint" | "double" }> {
  return c.type === "int" || c.type === "uint" || c.type === "double";
}

/** -1/0/1, `undefined` for unordered equal-typed values (NaN, unequal lists), `FoldError` across types. */
function compareConsts(a: Const, b: Const, equalityOnly: boolean): number | undefined {
  if (isNumber(a) && isNumber(b)) {
    if (a.type !== "double" && b.type !== "double") return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
    const x = Number(a.value);
    const y = Number(b.value);
    if (Number.isNaN(x) || Number.isNaN(y)) return undefined;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.type !== b.type) throw new FoldError(`cannot compare ${a.type} with ${b.type}`);
  switch (a.type) {
    case "bool":
    case "string":
    case "timestamp":
    case "duration": {
      const x = a.value;
      const y = (b as typeof a).value;
      if (!equalityOnly && a.type === "bool") throw new FoldError("booleans are not ordered");
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case "null":
      return 0;
    case "bytes":
    case "list": {
      if (!equalityOnly) throw new FoldError(`${a.type} values are not ordered`);
      return constEquals(a, b) ? 0 : 1;
    }
  }
  return undefined;
}

export function constEquals(a: Const, b: Const): boolean {
  if (a.type === "list" && b.type === "list") {
    return a.value.length === b.value.length && a.value.every((x, i) => constEquals(x, b.value[i]!));
  }
  if (a.type === "bytes" && b.type === "bytes") {
    return a.value.length === b.value.length && a.value.every((x, i) => x === b.value[i]);
  }
  try {
    return compareConsts(a, b, true) === 0;
  } catch {
    return false;
  }
}
