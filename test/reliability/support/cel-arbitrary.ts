/**
 * Random CEL filter expressions: a small grammar over the memo, attachment and user-stats
 * identifiers (spec §6.7.1, §6.7.2) that yields both supported and unsupported expressions,
 * plus character-level mutations of them.
 */
import fc from "fast-check";

const IDENTS = [
  "content",
  "creator",
  "creator_id",
  "created_ts",
  "updated_ts",
  "pinned",
  "visibility",
  "tags",
  "tag",
  "has_task_list",
  "has_link",
  "has_code",
  "has_incomplete_tasks",
  "has_location",
  "now",
  "filename",
  "mime_type",
  "create_time",
  "memo_id",
  "state",
  "row_status",
  "username",
  "nope",
];

const stringLit = fc
  .oneof(
    fc.constantFrom("", "x", "%", "_", "\\\\", "users/x", "PUBLIC", "PROTECTED", "image/png", "book", "2024-01-01T00:00:00Z", "(", "[a-z]+", "(a+)+$", "🙂"),
    fc.string({ maxLength: 10 }).map((s) => s.replace(/["\\]/g, "")),
  )
  .map((s) => JSON.stringify(s));

const intLit = fc.oneof(fc.integer({ min: -5, max: 5000 }).map(String), fc.constantFrom("9223372036854775807", "-9223372036854775808", "99999999999999999999", "0x7f", "1u"));
const literal = fc.oneof(
  stringLit,
  intLit,
  fc.constantFrom("true", "false", "null", "1.5", "-0.0", "b\"x\"", "[]", "{}"),
  fc.tuple(fc.constantFrom("timestamp", "duration"), stringLit).map(([f, s]) => `${f}(${s})`),
  fc.constantFrom('timestamp("2024-01-01T00:00:00Z")', "timestamp(0)", 'duration("24h")', 'duration("-1s")', 'timestamp("10000-01-01T00:00:00Z")', "timestamp(99999999999999)"),
);

const comparison = fc.constantFrom("==", "!=", "<", "<=", ">", ">=", "in");
const method = fc.constantFrom("contains", "startsWith", "endsWith", "matches", "getFullYear", "getMonth", "getDate", "getDayOfWeek", "getHours", "size", "exists", "all", "exists_one", "nope");
const ident = fc.constantFrom(...IDENTS);

type Expr = string;

/** A CEL expression built from the grammar, depth-limited. */
export const celExprArb: fc.Arbitrary<Expr> = fc.letrec<{ expr: Expr; atom: Expr }>((tie) => ({
  atom: fc.oneof(
    { weight: 3, arbitrary: fc.tuple(ident, comparison, literal).map(([i, op, l]) => `${i} ${op} ${l}`) },
    { weight: 2, arbitrary: fc.tuple(ident, method, stringLit).map(([i, m, l]) => `${i}.${m}(${l})`) },
    { weight: 1, arbitrary: fc.tuple(ident, method).map(([i, m]) => `${i}.${m}()`) },
    { weight: 1, arbitrary: fc.tuple(literal, ident).map(([l, i]) => `${l} in ${i}`) },
    { weight: 1, arbitrary: fc.tuple(ident, fc.array(literal, { maxLength: 3 })).map(([i, ls]) => `${i} in [${ls.join(", ")}]`) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom("size"), ident, comparison, intLit).map(([f, i, op, n]) => `${f}(${i}) ${op} ${n}`) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom("exists", "all", "exists_one", "map", "filter"), fc.constantFrom("t", "x"), stringLit).map(([m, v, s]) => `tags.${m}(${v}, ${v} == ${s})`) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom("contains", "intersects", "equivalent"), fc.array(stringLit, { maxLength: 3 })).map(([m, ls]) => `sets.${m}(tags, [${ls.join(",")}])`) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom("created_ts", "updated_ts", "create_time", "now"), comparison, fc.constantFrom("now", "now - duration(\"168h\")", "now + duration(\"1h\")", "timestamp(1700000000)"))
      .map(([i, op, r]) => `${i} ${op} ${r}`) },
    { weight: 1, arbitrary: ident },
    { weight: 1, arbitrary: literal },
  ),
  expr: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { weight: 4, arbitrary: tie("atom") },
    { weight: 1, arbitrary: fc.tuple(tie("expr"), fc.constantFrom("&&", "||", "+", "-", "*", "/", "%", "?"), tie("expr")).map(([a, op, b]) => (op === "?" ? `${a} ? ${b} : ${a}` : `${a} ${op} ${b}`)) },
    { weight: 1, arbitrary: tie("expr").map((e) => `!(${e})`) },
    { weight: 1, arbitrary: tie("expr").map((e) => `(${e})`) },
  ),
})).expr;

/** An expression with a few characters inserted, deleted or swapped. */
const mutatedExprArb: fc.Arbitrary<string> = fc
  .tuple(celExprArb, fc.array(fc.tuple(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.constantFrom("", "(", ")", "\"", "'", ".", "[", "]", "&&", "||", "!", "\\", "\u0000", "\n", "${", "`", "%", ",")), { minLength: 1, maxLength: 3 }))
  .map(([expr, edits]) =>
    edits.reduce((s, [at, text]) => {
      const i = Math.floor(at * (s.length + 1));
      return text === "" ? s.slice(0, i) + s.slice(i + 1) : s.slice(0, i) + text + s.slice(i);
    }, expr),
  );

/** Pathological inputs: very deep or very long expressions, and plain garbage. */
const extremeExprArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(2_000, 50_000).map((n) => "(".repeat(n) + "pinned" + ")".repeat(n)),
  fc.constantFrom(1_000, 20_000).map((n) => Array.from({ length: n }, () => "pinned").join(" && ")),
  fc.constantFrom(500, 10_000).map((n) => "!".repeat(n) + "pinned"),
  fc.constantFrom(1_000).map((n) => `content in [${Array.from({ length: n }, (_, i) => `"${i}"`).join(",")}]`),
  fc.constant(`content.matches("${"(a+)+".repeat(20)}$")`),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 40 }),
);

/** Filter strings for every filterable List RPC. */
export const filterArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: celExprArb },
  { weight: 3, arbitrary: mutatedExprArb },
  { weight: 1, arbitrary: extremeExprArb },
);

/** A fixed sample of filters, used to seed string pools of other generators. */
export const SAMPLE_FILTERS = [
  'content.contains("fuzz")',
  "pinned",
  '"tag1" in tags',
  "created_ts >= now - duration(\"24h\")",
  'mime_type == "text/plain"',
  'filename.contains("")',
  "memo_id == null",
  "visibility in [\"PUBLIC\",\"PROTECTED\"]",
  "creator_id == 1",
  "content.matches(\"(\")",
  "((",
  "nope == 1",
];
