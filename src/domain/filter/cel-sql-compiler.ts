import { Environment, type ASTNode } from "@marcbachmann/cel-js";
import { sql, type Expression, type RawBuilder, type SqlBool } from "kysely";
import { FilterError } from "./filter-error.js";
import {
  applyAccessor,
  checkTimestamp,
  constEquals,
  foldArithmetic,
  foldComparison,
  FoldError,
  INT64_MAX,
  INT64_MIN,
  isTimestampAccessor,
  parseDuration,
  parseTimestamp,
  type Const,
  type TimestampAccessor,
} from "./filter-values.js";

/**
 * One identifier of a filter language and what it may be used with (spec §6.7.1 table).
 * `sql` expressions are written by us (column references and fixed SQL), never from user text.
 */
export type FilterField =
  | {
      readonly kind: "string";
      readonly sql: Expression<string>;
      /** `<`, `<=`, `>`, `>=` allowed (else only `==`, `!=`, `in`). */
      readonly ordered: boolean;
      /** `.contains`, `.startsWith`, `.endsWith` allowed (ILIKE, or LIKE when `bytewise`). */
      readonly functions: boolean;
      /** `.matches` allowed (Postgres `~`). */
      readonly matches: boolean;
      /** `size(x)` allowed (character count). */
      readonly sizable: boolean;
      /** Byte-wise (`COLLATE "C"`), case-sensitive comparisons and matching. */
      readonly bytewise: boolean;
    }
  | { readonly kind: "int"; readonly sql: Expression<number>; /** `== null`, `!= null` allowed. */ readonly nullable: boolean }
  | { readonly kind: "timestamp"; /** Unix seconds. */ readonly sql: Expression<number> }
  | { readonly kind: "bool"; readonly sql: Expression<SqlBool> }
  /** A JSONB array of strings (`payload->'tags'`); a missing key counts as empty. */
  | { readonly kind: "tags"; readonly sql: Expression<unknown> }
  /** `tag`: only `tag in [...]`, meaning any of. */
  | { readonly kind: "tagAlias"; readonly sql: Expression<unknown> };

/** The identifiers of one filter language (`now` is always there). */
export type FilterSchema = Readonly<Record<string, FilterField>>;

/** Per-request inputs of a compilation. */
export interface FilterContext {
  /** Evaluation time in Unix seconds, frozen per request (the value of `now`). */
  readonly now: number;
}

/** Parser limits: far above any real filter, low enough that a hostile one stays cheap. */
const PARSER = new Environment({
  limits: { maxAstNodes: 4096, maxDepth: 64, maxListElements: 1000, maxCallArguments: 8 },
});

/** Longest filter text accepted. */
export const MAX_FILTER_LENGTH = 64 * 1024;

/**
 * Parses a CEL filter and compiles it to a parameterised boolean SQL expression for `schema`.
 * Every literal becomes a bound parameter. Throws `FilterError` for anything invalid.
 * Empty (or blank) text means "no filter" and compiles to `TRUE`.
 */
export function compileFilter(text: string, schema: FilterSchema, ctx: FilterContext): Expression<SqlBool> {
  if (text.trim() === "") return sql<SqlBool>`TRUE`;
  if (text.length > MAX_FILTER_LENGTH) throw new FilterError(`filter is longer than ${MAX_FILTER_LENGTH} characters`);
  let ast: ASTNode;
  try {
    ast = PARSER.parse(text).ast;
  } catch (err: unknown) {
    throw syntaxError(err, text);
  }
  const compiler = new Compiler(text, schema, ctx.now);
  const result = compiler.compile(ast);
  const bool = compiler.boolOf(result);
  if (bool === undefined) throw compiler.error(`the filter must be a boolean expression, not ${compiler.describe(result)}`, ast);
  return typeof bool === "boolean" ? (bool ? sql<SqlBool>`TRUE` : sql<SqlBool>`FALSE`) : bool;
}

function syntaxError(err: unknown, text: string): FilterError {
  const e = err as { name?: unknown; message?: unknown; code?: unknown; range?: { start?: unknown; end?: unknown } };
  if (e?.name === "RangeError") return new FilterError("the filter is nested too deeply");
  const first = typeof e?.message === "string" ? e.message.split("\n")[0]! : "syntax error";
  const start = typeof e?.range?.start === "number" ? e.range.start : undefined;
  const end = typeof e?.range?.end === "number" ? e.range.end : undefined;
  let detail: string;
  if (e?.code === "unexpected_token" || e?.code === "unexpected_character") {
    const token = start === undefined ? "" : text.slice(start, Math.max(end ?? start, start + 1));
    detail = token === "" ? "syntax error: unexpected end of filter" : `syntax error: unexpected ${JSON.stringify(token)}`;
  } else if (e?.code === "limit_exceeded") {
    detail = `the filter is too large (${first.replace(/^Exceeded /, "")})`;
  } else {
    detail = `syntax error: ${first.charAt(0).toLowerCase()}${first.slice(1)}`;
  }
  return new FilterError(detail, start, text);
}

/** A compiled sub-expression. */
type Val =
  | { readonly k: "const"; readonly c: Const }
  | { readonly k: "field"; readonly name: string; readonly f: FilterField }
  | { readonly k: "bool"; readonly sql: RawBuilder<SqlBool> }
  | { readonly k: "int"; readonly sql: RawBuilder<number>; readonly label: string };

const TRUE_SQL = sql<SqlBool>`TRUE`;
const FALSE_SQL = sql<SqlBool>`FALSE`;
const COMPARISONS = new Set(["==", "!=", "<", "<=", ">", ">="]);
const ARITHMETIC = new Set(["+", "-", "*", "/", "%"]);
const SQL_OP: Readonly<Record<string, string>> = { "==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=" };
const FLIPPED: Readonly<Record<string, string>> = { "==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<=" };
const ELEMENT_SQL = sql<string>`tag_elem.tag`;

/** The SQL operator for a comparison; from a fixed table, so it is safe to inline. */
function opSql(op: string): RawBuilder<unknown> {
  return sql.raw(SQL_OP[op]!);
}

function constant(c: Const): Val {
  return { k: "const", c };
}

class Compiler {
  /** Comprehension variable in scope (only one level: comprehensions do not nest). */
  private element: string | undefined;

  constructor(
    private readonly text: string,
    private readonly schema: FilterSchema,
    private readonly now: number,
  ) {}

  error(detail: string, node?: ASTNode): FilterError {
    return new FilterError(detail, node?.start, this.text);
  }

  private source(node: ASTNode): string {
    const s = this.text.slice(node.start, node.end);
    return s.length > 40 ? `${s.slice(0, 37)}...` : s;
  }

  describe(v: Val): string {
    switch (v.k) {
      case "const":
        return v.c.type === "int" ? "an int" : `a ${v.c.type}`;
      case "field":
        return `${v.name} (${fieldType(v.f)})`;
      case "bool":
        return "a boolean";
      case "int":
        return "an int";
    }
  }

  /** A boolean value as a constant or SQL, or `undefined` when `v` is not boolean. */
  boolOf(v: Val): boolean | RawBuilder<SqlBool> | undefined {
    if (v.k === "const") return v.c.type === "bool" ? v.c.value : undefined;
    if (v.k === "bool") return v.sql;
    if (v.k === "field" && v.f.kind === "bool") return sql<SqlBool>`${v.f.sql}`;
    return undefined;
  }

  private boolVal(b: boolean | RawBuilder<SqlBool>): Val {
    return typeof b === "boolean" ? constant({ type: "bool", value: b }) : { k: "bool", sql: b };
  }

  private requireBool(node: ASTNode): boolean | RawBuilder<SqlBool> {
    const v = this.compile(node);
    const b = this.boolOf(v);
    if (b === undefined) throw this.error(`expected a boolean, got ${this.describe(v)}: ${this.source(node)}`, node);
    return b;
  }

  private requireConst(node: ASTNode, what: string): Const {
    const v = this.compile(node);
    if (v.k !== "const") throw this.error(`${what} must be a constant, got ${this.describe(v)}`, node);
    return v.c;
  }

  private requireString(node: ASTNode, what: string): string {
    const c = this.requireConst(node, what);
    if (c.type !== "string") throw this.error(`${what} must be a string, got ${this.describe(constant(c))}`, node);
    return c.value;
  }

  private fold<T>(node: ASTNode, f: () => T): T {
    try {
      return f();
    } catch (err: unknown) {
      if ((err as { name?: unknown })?.name === "FoldError") throw this.error((err as FoldError).message, node);
      throw err;
    }
  }

  compile(node: ASTNode): Val {
    switch (node.op) {
      case "value":
        return constant(this.literal(node));
      case "id":
        return this.identifier(node.args, node);
      case "list": {
        const items = node.args.map((item) => this.requireConst(item, "a list element"));
        return constant({ type: "list", value: items });
      }
      case "map":
        throw this.error("map literals are not supported", node);
      case ".":
      case ".?":
        throw this.error(`field selection is not supported: ${this.source(node)}`, node);
      case "[]":
      case "[?]":
        throw this.error(`indexing is not supported: ${this.source(node)}`, node);
      case "!_": {
        const b = this.requireBool(node.args);
        return this.boolVal(typeof b === "boolean" ? !b : sql<SqlBool>`(NOT ${b})`);
      }
      case "-_": {
        const c = this.requireConst(node.args, "the operand of unary -");
        return constant(this.fold(node, () => negate(c)));
      }
      case "&&":
      case "||":
        return this.logical(node.op, node.args[0], node.args[1]);
      case "?:": {
        const cond = this.requireBool(node.args[0]);
        if (typeof cond !== "boolean") throw this.error("the condition of ?: must be a constant", node.args[0]);
        return this.compile(cond ? node.args[1] : node.args[2]);
      }
      case "in":
        return this.membership(node.args[0], node.args[1], node);
      case "call":
        return this.call(node.args[0], node.args[1], node);
      case "rcall":
        return this.method(node.args[0], node.args[1], node.args[2], node);
      default:
        if (COMPARISONS.has(node.op)) {
          const [a, b] = node.args as [ASTNode, ASTNode];
          return this.comparison(node.op, a, b, node);
        }
        if (ARITHMETIC.has(node.op)) {
          const [a, b] = node.args as [ASTNode, ASTNode];
          const left = this.compile(a);
          const right = this.compile(b);
          if (left.k !== "const" || right.k !== "const") {
            throw this.error(`arithmetic is only supported on constants: ${this.source(node)}`, node);
          }
          return constant(this.fold(node, () => foldArithmetic(node.op, left.c, right.c)));
        }
        throw this.error(`unsupported expression: ${this.source(node)}`, node);
    }
  }

  private literal(node: Extract<ASTNode, { op: "value" }>): Const {
    const v = node.args as unknown;
    if (typeof v === "boolean") return { type: "bool", value: v };
    if (typeof v === "bigint") return { type: "int", value: v };
    if (typeof v === "number") return { type: "double", value: v };
    if (typeof v === "string") return { type: "string", value: v };
    if (v === null) return { type: "null" };
    if (v instanceof Uint8Array) return { type: "bytes", value: v };
    if (typeof v === "object" && typeof (v as { value?: unknown }).value === "bigint") {
      return { type: "uint", value: (v as { value: bigint }).value };
    }
    throw this.error(`unsupported literal: ${this.source(node)}`, node);
  }

  private identifier(name: string, node: ASTNode): Val {
    if (this.element !== undefined && name === this.element) {
      return { k: "field", name, f: ELEMENT_FIELD };
    }
    if (name === "now") return constant({ type: "timestamp", value: this.now });
    const f = Object.hasOwn(this.schema, name) ? this.schema[name] : undefined;
    if (f === undefined) {
      const known = ["now", ...Object.keys(this.schema)].sort().join(", ");
      throw this.error(`unknown identifier ${JSON.stringify(name)} (known: ${known})`, node);
    }
    return { k: "field", name, f };
  }

  private logical(op: "&&" | "||", a: ASTNode, b: ASTNode): Val {
    const left = this.requireBool(a);
    const right = this.requireBool(b);
    const absorbing = op === "||";
    if (left === absorbing || right === absorbing) return this.boolVal(absorbing);
    if (typeof left === "boolean") return this.boolVal(right);
    if (typeof right === "boolean") return this.boolVal(left);
    return this.boolVal(op === "&&" ? sql<SqlBool>`(${left} AND ${right})` : sql<SqlBool>`(${left} OR ${right})`);
  }

  private comparison(op: string, a: ASTNode, b: ASTNode, node: ASTNode): Val {
    let left = this.compile(a);
    let right = this.compile(b);
    if (left.k === "const" && right.k === "const") {
      const l = left.c;
      const r = right.c;
      return constant({ type: "bool", value: this.fold(node, () => foldComparison(op, l, r)) });
    }
    if (left.k === "const") {
      [left, right] = [right, left];
      op = FLIPPED[op]!;
    }
    if (right.k !== "const") {
      // Two non-constant booleans may be compared for (in)equality; nothing else.
      const l = this.boolOf(left);
      const r = this.boolOf(right);
      if ((op === "==" || op === "!=") && l !== undefined && r !== undefined) {
        return this.boolVal(sql<SqlBool>`(${l} ${opSql(op)} ${r})`);
      }
      throw this.error(`a comparison needs a constant on one side: ${this.source(node)}`, node);
    }
    const c = right.c;
    const mismatch = (): FilterError =>
      this.error(`cannot compare ${this.describe(left)} with ${this.describe(right)}: ${this.source(node)}`, node);
    const equality = op === "==" || op === "!=";

    if (left.k === "int") {
      if (c.type !== "int" && c.type !== "uint") throw mismatch();
      return this.boolVal(sql<SqlBool>`(${left.sql} ${opSql(op)} ${this.intParam(c.value, node)})`);
    }
    const bool = this.boolOf(left);
    if (bool !== undefined) {
      if (c.type !== "bool") throw mismatch();
      if (!equality) throw this.error(`booleans support only == and !=: ${this.source(node)}`, node);
      if (typeof bool === "boolean") return this.boolVal((bool === c.value) === (op === "=="));
      return this.boolVal(c.value === (op === "==") ? bool : sql<SqlBool>`(NOT ${bool})`);
    }
    if (left.k !== "field") throw mismatch();
    const { f, name } = left;
    switch (f.kind) {
      case "string": {
        if (c.type !== "string") throw mismatch();
        if (!equality && !f.ordered) throw this.error(`${name} supports only ==, != and in: ${this.source(node)}`, node);
        return this.boolVal(sql<SqlBool>`(${stringColumn(f)} ${opSql(op)} ${c.value})`);
      }
      case "int": {
        if (c.type === "null") {
          if (!f.nullable) throw this.error(`${name} is never null: ${this.source(node)}`, node);
          if (!equality) throw this.error(`null supports only == and !=: ${this.source(node)}`, node);
          return this.boolVal(op === "==" ? sql<SqlBool>`(${f.sql} IS NULL)` : sql<SqlBool>`(${f.sql} IS NOT NULL)`);
        }
        if (c.type !== "int" && c.type !== "uint") throw mismatch();
        if (!equality) throw this.error(`${name} supports only ==, != and in: ${this.source(node)}`, node);
        return this.boolVal(sql<SqlBool>`(${f.sql} ${opSql(op)} ${this.intParam(c.value, node)})`);
      }
      case "timestamp": {
        if (c.type === "int" || c.type === "uint" || c.type === "double") {
          throw this.error(
            `${name} is a timestamp; compare it with timestamp("2006-01-02T15:04:05Z"), timestamp(<epoch seconds>), now or now - duration("24h"), not a number: ${this.source(node)}`,
            node,
          );
        }
        if (c.type !== "timestamp") throw mismatch();
        return this.boolVal(timestampComparison(f.sql, op, c.value));
      }
      case "tags":
        throw this.error(
          `${name} is a list; use "x" in ${name}, ${name}.exists(t, ...), size(${name}) or sets.contains(${name}, [...]): ${this.source(node)}`,
          node,
        );
      case "tagAlias":
        throw this.error(`${name} supports only ${name} in ["a", "b"]: ${this.source(node)}`, node);
      case "bool":
        throw mismatch();
    }
  }

  private membership(a: ASTNode, b: ASTNode, node: ASTNode): Val {
    const left = this.compile(a);
    const right = this.compile(b);
    if (right.k === "field" && right.f.kind === "tags") {
      if (left.k !== "const" || left.c.type !== "string") {
        throw this.error(`only a constant string can be tested with in ${right.name}: ${this.source(node)}`, node);
      }
      return this.boolVal(tagsIntersect(right.f.sql, [left.c.value]));
    }
    if (right.k !== "const" || right.c.type !== "list") {
      throw this.error(`in needs a list literal on the right: ${this.source(node)}`, node);
    }
    const items = right.c.value;
    if (left.k === "const") {
      const l = left.c;
      return constant({ type: "bool", value: items.some((item) => constEquals(l, item)) });
    }
    const strings = (): string[] =>
      items.map((item) => {
        if (item.type !== "string") throw this.error(`the list for ${this.source(a)} must hold strings`, b);
        return item.value;
      });
    if (left.k === "int") {
      if (items.length === 0) return this.boolVal(false);
      const params = items.map((item) => {
        if (item.type !== "int" && item.type !== "uint") throw this.error(`the list must hold ints`, b);
        return this.intParam(item.value, b);
      });
      return this.boolVal(sql<SqlBool>`(${left.sql} IN (${sql.join(params)}))`);
    }
    if (left.k !== "field") throw this.error(`in is not supported for ${this.describe(left)}: ${this.source(node)}`, node);
    const { f } = left;
    switch (f.kind) {
      case "string": {
        const values = strings();
        if (values.length === 0) return this.boolVal(false);
        return this.boolVal(sql<SqlBool>`(${stringColumn(f)} IN (${sql.join(values)}))`);
      }
      case "int": {
        if (items.length === 0) return this.boolVal(false);
        const params = items.map((item) => {
          if (item.type !== "int" && item.type !== "uint") throw this.error(`the list for ${left.name} must hold ints`, b);
          return this.intParam(item.value, b);
        });
        return this.boolVal(sql<SqlBool>`(${f.sql} IN (${sql.join(params)}))`);
      }
      case "tagAlias":
        return this.boolVal(tagsIntersect(f.sql, strings()));
      default:
        throw this.error(`in is not supported for ${this.describe(left)}: ${this.source(node)}`, node);
    }
  }

  private call(name: string, args: readonly ASTNode[], node: ASTNode): Val {
    const arity = (n: number): void => {
      if (args.length !== n) throw this.error(`${name}() takes ${n} argument${n === 1 ? "" : "s"}`, node);
    };
    switch (name) {
      case "size": {
        arity(1);
        const v = this.compile(args[0]!);
        if (v.k === "const") {
          const c = v.c;
          if (c.type === "string") return constant({ type: "int", value: BigInt(Array.from(c.value).length) });
          if (c.type === "list" || c.type === "bytes") return constant({ type: "int", value: BigInt(c.value.length) });
        }
        if (v.k === "field" && v.f.kind === "string" && v.f.sizable) {
          return { k: "int", sql: sql<number>`char_length(${v.f.sql})`, label: `size(${v.name})` };
        }
        if (v.k === "field" && v.f.kind === "tags") {
          return { k: "int", sql: sql<number>`jsonb_array_length(${tagsArray(v.f.sql)})`, label: `size(${v.name})` };
        }
        throw this.error(`size() is not supported for ${this.describe(v)}`, node);
      }
      case "timestamp": {
        arity(1);
        const c = this.requireConst(args[0]!, "the argument of timestamp()");
        if (c.type === "string") return constant({ type: "timestamp", value: this.fold(node, () => parseTimestamp(c.value)) });
        if (c.type === "int") return constant({ type: "timestamp", value: this.fold(node, () => checkTimestamp(Number(c.value))) });
        if (c.type === "timestamp") return constant(c);
        throw this.error(`timestamp() takes an RFC 3339 string or epoch seconds, got ${this.describe(constant(c))}`, node);
      }
      case "duration": {
        arity(1);
        const c = this.requireConst(args[0]!, "the argument of duration()");
        if (c.type === "string") return constant({ type: "duration", value: this.fold(node, () => parseDuration(c.value)) });
        if (c.type === "duration") return constant(c);
        throw this.error(`duration() takes a string such as "24h", got ${this.describe(constant(c))}`, node);
      }
      default:
        throw this.error(`unsupported function ${JSON.stringify(name)}`, node);
    }
  }

  private method(name: string, receiverNode: ASTNode, args: readonly ASTNode[], node: ASTNode): Val {
    if (
      receiverNode.op === "id" &&
      receiverNode.args === "sets" &&
      !Object.hasOwn(this.schema, "sets") &&
      this.element !== "sets"
    ) {
      return this.setsFunction(name, args, node);
    }
    if (name === "exists" || name === "all" || name === "exists_one") {
      return this.comprehension(name, receiverNode, args, node);
    }
    const receiver = this.compile(receiverNode);
    if (name === "contains" || name === "startsWith" || name === "endsWith" || name === "matches") {
      if (args.length !== 1) throw this.error(`${name}() takes 1 argument`, node);
      const arg = this.requireString(args[0]!, `the argument of ${name}()`);
      if (receiver.k === "const" && receiver.c.type === "string") {
        const s = receiver.c.value;
        return constant({ type: "bool", value: this.foldStringFunction(name, s, arg, node) });
      }
      if (receiver.k !== "field" || receiver.f.kind !== "string" || !receiver.f.functions) {
        throw this.error(`${name}() is not supported on ${this.describe(receiver)}`, node);
      }
      const f = receiver.f;
      if (name === "matches") {
        if (!f.matches) throw this.error(`matches() is not supported on ${receiver.name}`, node);
        this.checkRegex(arg, args[0]!);
        return this.boolVal(sql<SqlBool>`(${f.sql} ~ ${arg})`);
      }
      const escaped = escapeLike(arg);
      const pattern = name === "contains" ? `%${escaped}%` : name === "startsWith" ? `${escaped}%` : `%${escaped}`;
      return this.boolVal(
        f.bytewise ? sql<SqlBool>`(${stringColumn(f)} LIKE ${pattern})` : sql<SqlBool>`(${f.sql} ILIKE ${pattern})`,
      );
    }
    if (isTimestampAccessor(name)) {
      if (args.length > 0) throw this.error(`${name}() takes no arguments (time zones are not supported; UTC is used)`, node);
      if (receiver.k === "const" && receiver.c.type === "timestamp") {
        const seconds = receiver.c.value;
        return constant({ type: "int", value: applyAccessor(name, seconds) });
      }
      if (receiver.k === "field" && receiver.f.kind === "timestamp") {
        return { k: "int", sql: accessorSql(name, receiver.f.sql), label: `${receiver.name}.${name}()` };
      }
      throw this.error(`${name}() is not supported on ${this.describe(receiver)}`, node);
    }
    throw this.error(`unsupported function ${JSON.stringify(name)}`, node);
  }

  private foldStringFunction(name: string, s: string, arg: string, node: ASTNode): boolean {
    switch (name) {
      case "contains":
        return s.includes(arg);
      case "startsWith":
        return s.startsWith(arg);
      case "endsWith":
        return s.endsWith(arg);
      default:
        return this.checkRegex(arg, node).test(s);
    }
  }

  /**
   * Postgres would fail the query on a malformed pattern; reject it up front. JavaScript's
   * syntax is a close stand-in for POSIX ERE on the usual mistakes (unbalanced groups, bad
   * quantifiers); Postgres still has the final word on what matches.
   */
  private checkRegex(pattern: string, node: ASTNode): RegExp {
    try {
      return new RegExp(pattern);
    } catch (err: unknown) {
      throw this.error(`invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`, node);
    }
  }

  private setsFunction(name: string, args: readonly ASTNode[], node: ASTNode): Val {
    if (name !== "contains" && name !== "intersects" && name !== "equivalent") {
      throw this.error(`unsupported function "sets.${name}"`, node);
    }
    if (args.length !== 2) throw this.error(`sets.${name}() takes 2 arguments`, node);
    const list = this.compile(args[0]!);
    if (list.k !== "field" || list.f.kind !== "tags") {
      throw this.error(`sets.${name}() is supported only with tags as its first argument`, args[0]);
    }
    const values = this.requireConst(args[1]!, `the second argument of sets.${name}()`);
    if (values.type !== "list" || values.value.some((v) => v.type !== "string")) {
      throw this.error(`the second argument of sets.${name}() must be a list of strings`, args[1]);
    }
    const strings = values.value.map((v) => (v as { value: string }).value);
    const tags = tagsArray(list.f.sql);
    const json = JSON.stringify(strings);
    switch (name) {
      case "contains":
        return this.boolVal(sql<SqlBool>`(${tags} @> ${json}::jsonb)`);
      case "intersects":
        return this.boolVal(tagsIntersect(list.f.sql, strings));
      case "equivalent":
        return this.boolVal(sql<SqlBool>`(${tags} @> ${json}::jsonb AND ${tags} <@ ${json}::jsonb)`);
    }
  }

  private comprehension(name: "exists" | "all" | "exists_one", receiverNode: ASTNode, args: readonly ASTNode[], node: ASTNode): Val {
    const receiver = this.compile(receiverNode);
    if (receiver.k !== "field" || receiver.f.kind !== "tags") {
      throw this.error(`${name}() is supported only on tags, not on ${this.describe(receiver)}`, node);
    }
    if (args.length !== 2 || args[0]!.op !== "id") {
      throw this.error(`${name}() takes a variable and a predicate, e.g. tags.${name}(t, t.startsWith("a"))`, node);
    }
    if (this.element !== undefined) throw this.error("nested comprehensions are not supported", node);
    this.element = args[0]!.args as string;
    let predicate: boolean | RawBuilder<SqlBool>;
    try {
      predicate = this.requireBool(args[1]!);
    } finally {
      this.element = undefined;
    }
    const tags = tagsArray(receiver.f.sql);
    const count = sql<number>`jsonb_array_length(${tags})`;
    const elements = sql`jsonb_array_elements_text(${tags}) AS tag_elem(tag)`;
    if (predicate === false) return this.boolVal(false);
    switch (name) {
      case "exists":
        return this.boolVal(
          predicate === true ? sql<SqlBool>`(${count} > 0)` : sql<SqlBool>`EXISTS (SELECT 1 FROM ${elements} WHERE ${predicate})`,
        );
      case "all":
        // CEL's all() is true on an empty list; spec §6.7.1 makes it true only for non-empty tag lists.
        return this.boolVal(
          predicate === true
            ? sql<SqlBool>`(${count} > 0)`
            : sql<SqlBool>`(${count} > 0 AND NOT EXISTS (SELECT 1 FROM ${elements} WHERE NOT ${predicate}))`,
        );
      case "exists_one":
        return this.boolVal(
          predicate === true
            ? sql<SqlBool>`(${count} = 1)`
            : sql<SqlBool>`((SELECT count(*) FROM ${elements} WHERE ${predicate}) = 1)`,
        );
    }
  }

  private intParam(value: bigint, node: ASTNode): number {
    if (value < INT64_MIN || value > INT64_MAX || value < BigInt(Number.MIN_SAFE_INTEGER) || value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw this.error(`integer ${value} is out of range`, node);
    }
    return Number(value);
  }
}

/** The comprehension variable: one tag, compared byte-wise and case-sensitively. */
const ELEMENT_FIELD: FilterField = {
  kind: "string",
  sql: ELEMENT_SQL,
  ordered: false,
  functions: true,
  matches: false,
  sizable: false,
  bytewise: true,
};

function fieldType(f: FilterField): string {
  switch (f.kind) {
    case "tags":
      return "list of strings";
    case "tagAlias":
      return "tag alias";
    default:
      return f.kind;
  }
}

function negate(c: Const): Const {
  switch (c.type) {
    case "int":
      if (-c.value > INT64_MAX) throw new FoldError("integer overflow");
      return { type: "int", value: -c.value };
    case "double":
      return { type: "double", value: -c.value };
    case "duration":
      return { type: "duration", value: -c.value };
    default:
      throw new FoldError(`no operator - for ${c.type}`);
  }
}

function stringColumn(f: Extract<FilterField, { kind: "string" }>): RawBuilder<string> {
  return f.bytewise ? sql<string>`${f.sql} COLLATE "C"` : sql<string>`${f.sql}`;
}

/** `%`, `_` and the escape character `\` made literal for LIKE/ILIKE (default escape `\`). */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

/**
 * The tags JSONB with a missing key (SQL NULL) read as `[]`. The store writes tags only as a
 * JSON array of strings or leaves the key out (spec §7).
 */
function tagsArray(tags: Expression<unknown>): RawBuilder<unknown> {
  return sql`COALESCE(${tags}, '[]'::jsonb)`;
}

/** Any of `values` among the tags; JSONB containment compares strings byte-wise. */
function tagsIntersect(tags: Expression<unknown>, values: readonly string[]): RawBuilder<SqlBool> {
  if (values.length === 0) return FALSE_SQL;
  const array = tagsArray(tags);
  const tests = values.map((v) => sql<SqlBool>`${array} @> jsonb_build_array(${v}::text)`);
  return sql<SqlBool>`(${sql.join(tests, sql` OR `)})`;
}

/**
 * A seconds column against a timestamp that may have a fraction: integer columns compare with
 * the rounded bound, so no fractional parameter reaches a BIGINT comparison.
 */
function timestampComparison(column: Expression<number>, op: string, t: number): RawBuilder<SqlBool> {
  const whole = Number.isInteger(t);
  switch (op) {
    case "==":
      return whole ? sql<SqlBool>`(${column} = ${t})` : FALSE_SQL;
    case "!=":
      return whole ? sql<SqlBool>`(${column} <> ${t})` : TRUE_SQL;
    case "<":
      return sql<SqlBool>`(${column} < ${Math.ceil(t)})`;
    case "<=":
      return sql<SqlBool>`(${column} <= ${Math.floor(t)})`;
    case ">":
      return sql<SqlBool>`(${column} > ${Math.floor(t)})`;
    default:
      return sql<SqlBool>`(${column} >= ${Math.ceil(t)})`;
  }
}

/** UTC calendar fields of a seconds column, with CEL's bases (month, day of week/year 0-based). */
function accessorSql(accessor: TimestampAccessor, column: Expression<number>): RawBuilder<number> {
  const at = sql`(to_timestamp(${column}) AT TIME ZONE 'UTC')`;
  switch (accessor) {
    case "getFullYear":
      return sql<number>`CAST(EXTRACT(YEAR FROM ${at}) AS integer)`;
    case "getMonth":
      return sql<number>`(CAST(EXTRACT(MONTH FROM ${at}) AS integer) - 1)`;
    case "getDate":
      return sql<number>`CAST(EXTRACT(DAY FROM ${at}) AS integer)`;
    case "getDayOfMonth":
      return sql<number>`(CAST(EXTRACT(DAY FROM ${at}) AS integer) - 1)`;
    case "getDayOfWeek":
      return sql<number>`CAST(EXTRACT(DOW FROM ${at}) AS integer)`;
    case "getDayOfYear":
      return sql<number>`(CAST(EXTRACT(DOY FROM ${at}) AS integer) - 1)`;
    case "getHours":
      return sql<number>`CAST(EXTRACT(HOUR FROM ${at}) AS integer)`;
    case "getMinutes":
      return sql<number>`CAST(EXTRACT(MINUTE FROM ${at}) AS integer)`;
    case "getSeconds":
      return sql<number>`CAST(floor(EXTRACT(SECOND FROM ${at})) AS integer)`;
  }
}
