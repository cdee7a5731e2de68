import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from "kysely";
import { compileAttachmentFilter } from "../../src/domain/filter/attachment-filter.js";
import { compileMemoFilter } from "../../src/domain/filter/memo-filter.js";
import type { Database } from "../../src/store/schema.js";

/** A Postgres-dialect Kysely that only compiles (no connection). */
const db = new Kysely<Database>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (k) => new PostgresIntrospector(k),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

/** 2026-01-01T00:00:00Z */
const NOW = 1767225600;

function memoWhere(filter: string): { sql: string; parameters: readonly unknown[] } {
  const compiled = db.selectFrom("memo").select("memo.id").where(compileMemoFilter(filter, { now: NOW })).compile();
  return { sql: compiled.sql.replace(/^select "memo"\."id" from "memo" where /, ""), parameters: compiled.parameters };
}

function attachmentWhere(filter: string): { sql: string; parameters: readonly unknown[] } {
  const compiled = db
    .selectFrom("attachment")
    .select("attachment.id")
    .where(compileAttachmentFilter(filter, { now: NOW }))
    .compile();
  return { sql: compiled.sql.replace(/^select "attachment"\."id" from "attachment" where /, ""), parameters: compiled.parameters };
}

/** [filter, expected WHERE text, expected parameters]: the SQL shape of every construct of spec §6.7.1. */
const MEMO_SQL: Array<[string, string, unknown[]]> = [
  ["content == \"x\"","(\"memo\".\"content\" = $1)",["x"]],
  ["content != \"x\"","(\"memo\".\"content\" <> $1)",["x"]],
  ["content < \"m\"","(\"memo\".\"content\" < $1)",["m"]],
  ["content in [\"a\", \"b\"]","(\"memo\".\"content\" IN ($1, $2))",["a","b"]],
  ["content.contains(\"50%_off\\\\\")","(\"memo\".\"content\" ILIKE $1)",["%50\\%\\_off\\\\%"]],
  ["content.startsWith(\"Hi\")","(\"memo\".\"content\" ILIKE $1)",["Hi%"]],
  ["content.endsWith(\"!\")","(\"memo\".\"content\" ILIKE $1)",["%!"]],
  ["content.matches(\"^a+$\")","(\"memo\".\"content\" ~ $1)",["^a+$"]],
  ["size(content) >= 10","(char_length(\"memo\".\"content\") >= $1)",[10]],
  ["creator == \"users/alice\"","(('users/' || \"creator\".\"username\") COLLATE \"C\" = $1)",["users/alice"]],
  ["creator in [\"users/a\", \"users/b\"]","(('users/' || \"creator\".\"username\") COLLATE \"C\" IN ($1, $2))",["users/a","users/b"]],
  ["creator_id != 7","(\"memo\".\"creator_id\" <> $1)",[7]],
  ["creator_id in [1, 2]","(\"memo\".\"creator_id\" IN ($1, $2))",[1,2]],
  ["created_ts >= now - duration(\"168h\")","(\"memo\".\"created_ts\" >= $1)",[1766620800]],
  ["updated_ts < timestamp(\"2026-01-01T00:00:00Z\")","(\"memo\".\"updated_ts\" < $1)",[1767225600]],
  ["created_ts == timestamp(1700000000)","(\"memo\".\"created_ts\" = $1)",[1700000000]],
  ["created_ts > timestamp(\"2026-01-01T00:00:00.5Z\")","(\"memo\".\"created_ts\" > $1)",[1767225600]],
  ["created_ts.getMonth() == 0","((CAST(EXTRACT(MONTH FROM (to_timestamp(\"memo\".\"created_ts\") AT TIME ZONE 'UTC')) AS integer) - 1) = $1)",[0]],
  ["updated_ts.getDayOfWeek() == 0","(CAST(EXTRACT(DOW FROM (to_timestamp(\"memo\".\"updated_ts\") AT TIME ZONE 'UTC')) AS integer) = $1)",[0]],
  ["pinned","\"memo\".\"pinned\"",[]],
  ["!pinned","(NOT \"memo\".\"pinned\")",[]],
  ["pinned == false","(NOT \"memo\".\"pinned\")",[]],
  ["pinned != false","\"memo\".\"pinned\"",[]],
  ["visibility in [\"PUBLIC\", \"PROTECTED\"]","(\"memo\".\"visibility\" COLLATE \"C\" IN ($1, $2))",["PUBLIC","PROTECTED"]],
  ["visibility == \"PRIVATE\"","(\"memo\".\"visibility\" COLLATE \"C\" = $1)",["PRIVATE"]],
  ["\"book\" in tags","(COALESCE(\"memo\".\"payload\"->'tags', '[]'::jsonb) @> jsonb_build_array($1::text))",["book"]],
  ["tags.exists(t, t == \"book\")","EXISTS (SELECT 1 FROM jsonb_array_elements_text(COALESCE(\"memo\".\"payload\"->'tags', '[]'::jsonb)) AS tag_elem(tag) WHERE (tag_elem.tag COLLATE \"C\" = $1))",["book"]],
  ["tags.exists(t, t.startsWith(\"bo\"))","EXISTS (SELECT 1 FROM jsonb_array_elements_text(COALESCE(\"memo\".\"payload\"->'tags', '[]'::jsonb)) AS tag_elem(tag) WHERE (tag_elem.tag COLLATE \"C\" LIKE $1))",["bo%"]],
  ["tags.all(t, t.endsWith(\"x\"))","(jsonb_array_length(COALESCE(\"memo\".\"payload\"->'tags', '[]'::jsonb)) > 0 AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(COALESCE(\"memo\".\"payload\"->'tags', '[]'::jsonb)) AS tag_elem(tag) WHERE NOT (tag_elem.tag COLLATE \"C\" LIKE $1)))",["%x"]],
  ["tags.exists_one(t, t.contains(\"o\"))","((SELECT count(*) FROM jsonb_array_elements_text(COALESCE(\"memo\".\"payload\"->'tags', '[]'::jsonb)) AS tag_elem(tag) WHERE (tag_elem.tag COLLATE \"C\" LIKE $1)) = 1)",["%o%"]],
  ["size(tags) > 1","(jsonb_array_length(COALESCE(\"memo\".\"payload\"->'tags', '[]'::jsonb)) > $1)",[1]],
  ["sets.contains(tags, [\"a\", \"b\"])","(COALESCE(\"memo\".\"payload\"->'tags', '[]'::jsonb) @> $1::jsonb)",["[\"a\",\"b\"]"]],
  ["sets.intersects(tags, [\"a\", \"b\"])","(COALESCE(\"memo\".\"payload\"->'tags', '[]'::jsonb) @> jsonb_build_array($1::text) OR COALESCE(\"memo\".\"payload\"->'tags', '[]'::jsonb) @> jsonb_build_array($2::text))",["a","b"]],
  ["sets.equivalent(tags, [\"a\"])","(COALESCE(\"memo\".\"payload\"->'tags', '[]'::jsonb) @> $1::jsonb AND COALESCE(\"memo\".\"payload\"->'tags', '[]'::jsonb) <@ $2::jsonb)",["[\"a\"]","[\"a\"]"]],
  ["tag in [\"book\", \"work\"]","(COALESCE(\"memo\".\"payload\"->'tags', '[]'::jsonb) @> jsonb_build_array($1::text) OR COALESCE(\"memo\".\"payload\"->'tags', '[]'::jsonb) @> jsonb_build_array($2::text))",["book","work"]],
  ["has_task_list","COALESCE((\"memo\".\"payload\"->'property'->>'hasTaskList')::boolean, FALSE)",[]],
  ["!has_link","(NOT COALESCE((\"memo\".\"payload\"->'property'->>'hasLink')::boolean, FALSE))",[]],
  ["has_code == true","COALESCE((\"memo\".\"payload\"->'property'->>'hasCode')::boolean, FALSE)",[]],
  ["has_incomplete_tasks != true","(NOT COALESCE((\"memo\".\"payload\"->'property'->>'hasIncompleteTasks')::boolean, FALSE))",[]],
  ["has_location","COALESCE(jsonb_typeof(\"memo\".\"payload\"->'location') <> 'null', FALSE)",[]],
  ["true","TRUE",[]],
  ["1 == 1 && pinned","\"memo\".\"pinned\"",[]],
  ["now.getFullYear() >= 2026 || pinned","TRUE",[]],
  ["false || !true","FALSE",[]],
  ["tag in []","FALSE",[]],
];

/** The same for spec §6.7.2. */
const ATTACHMENT_SQL: Array<[string, string, unknown[]]> = [
  ["mime_type == \"image/png\"","(\"attachment\".\"type\" = $1)",["image/png"]],
  ["filename.contains(\"report\")","(\"attachment\".\"filename\" ILIKE $1)",["%report%"]],
  ["mime_type in [\"image/png\", \"image/jpeg\"]","(\"attachment\".\"type\" IN ($1, $2))",["image/png","image/jpeg"]],
  ["create_time >= now - duration(\"1h\")","(\"attachment\".\"created_ts\" >= $1)",[1767222000]],
  ["memo_id == null","(\"attachment\".\"memo_id\" IS NULL)",[]],
  ["memo_id != null","(\"attachment\".\"memo_id\" IS NOT NULL)",[]],
  ["memo_id == 3","(\"attachment\".\"memo_id\" = $1)",[3]],
];

describe("memo filter SQL (spec §6.7.1)", () => {
  test.each(MEMO_SQL)("%s", (filter, expectedSql, expectedParameters) => {
    const { sql, parameters } = memoWhere(filter);
    expect(sql).toBe(expectedSql);
    expect(parameters).toEqual(expectedParameters);
  });

  test("blank filter is no condition", () => {
    expect(memoWhere("  ").sql).toBe("TRUE");
  });

  test("user text only ever reaches SQL as parameters", () => {
    const hostile = `'); DROP TABLE memo; -- %_\\ "\u00e9`;
    const { sql, parameters } = memoWhere(`content.contains(${JSON.stringify(hostile)}) || creator == ${JSON.stringify(hostile)} || ${JSON.stringify(hostile)} in tags`);
    expect(sql).not.toContain("DROP");
    expect(parameters).toContain(hostile);
    expect(parameters).toContain(`%'); DROP TABLE memo; -- \\%\\_\\\\ "\u00e9%`);
  });
});

describe("attachment filter SQL (spec §6.7.2)", () => {
  test.each(ATTACHMENT_SQL)("%s", (filter, expectedSql, expectedParameters) => {
    const { sql, parameters } = attachmentWhere(filter);
    expect(sql).toBe(expectedSql);
    expect(parameters).toEqual(expectedParameters);
  });
});

/** [filter, a fragment the message must contain]. */
const MEMO_ERRORS: Array<[string, string]> = [
  // syntax, with position and token
  ["content ==", "invalid filter: syntax error: unexpected end of filter at column 11"],
  ["pinned &&& has_code", 'invalid filter: syntax error: unexpected "&" at column 10'],
  ['content == "open', "invalid filter: syntax error: unterminated string at column 12"],
  ["(pinned", "invalid filter: syntax error"],
  ['content.contains("\\q")', "invalid filter: syntax error: invalid escape sequence"],
  // unknown identifiers and functions
  ["foo == 1", 'invalid filter: unknown identifier "foo"'],
  ["pinned && display_time > now", 'unknown identifier "display_time" (known: content, created_ts, creator'],
  ["create_time > now", 'unknown identifier "create_time"'],
  ['content.lowerAscii() == "x"', 'unsupported function "lowerAscii"'],
  ["has(content)", 'unsupported function "has"'],
  ['tags.map(t, t == "x")', 'unsupported function "map"'],
  ["sets.union(tags, [])", 'unsupported function "sets.union"'],
  ['memo.content == "x"', "field selection is not supported"],
  ["tags[0] == \"x\"", "indexing is not supported"],
  ['{"a": 1} == {"a": 1}', "map literals are not supported"],
  // types
  ["content == 1", "cannot compare content (string) with an int"],
  ["pinned == \"yes\"", "cannot compare pinned (bool) with a string"],
  ["created_ts > 5", "created_ts is a timestamp; compare it with timestamp("],
  ["created_ts > \"2026-01-01\"", "cannot compare created_ts (timestamp) with a string"],
  ['timestamp("yesterday") < now', 'timestamp "yesterday" is not RFC 3339'],
  ['created_ts > now - duration("1 day")', 'duration "1 day" is invalid'],
  ['tag == "x"', 'tag supports only tag in ["a", "b"]'],
  ['tags == ["x"]', "tags is a list"],
  ['creator < "users/b"', "creator supports only ==, != and in"],
  ['visibility.contains("PUB")', "contains() is not supported on visibility (string)"],
  ["creator_id > 3", "creator_id supports only ==, != and in"],
  ["creator_id == null", "creator_id is never null"],
  ["size(pinned) > 1", "size() is not supported for pinned (bool)"],
  ["content", "the filter must be a boolean expression, not content (string)"],
  ['"a" + "b"', "the filter must be a boolean expression, not a string"],
  ["pinned && 1", "expected a boolean, got an int: 1"],
  ["created_ts > now - created_ts", "arithmetic is only supported on constants"],
  ["content == content", "a comparison needs a constant on one side"],
  ['tags.exists(t, tags.exists(u, u == t))', "nested comprehensions are not supported"],
  ['content.exists(c, c == "x")', "exists() is supported only on tags"],
  ['created_ts.getFullYear("America/New_York") == 2025', "takes no arguments (time zones are not supported"],
  ['content.matches("(unclosed")', 'invalid regular expression "(unclosed"'],
  ["1 / 0 == 1", "division by zero"],
  ["9223372036854775807 + 1 > 0", "integer overflow"],
  ['pinned ? true : false', "the condition of ?: must be a constant"],
];

describe("memo filter errors", () => {
  test.each(MEMO_ERRORS)("%s", (filter, fragment) => {
    let caught: unknown;
    try {
      compileMemoFilter(filter, { now: NOW });
    } catch (err: unknown) {
      caught = err;
    }
    expect(caught).toMatchObject({ name: "FilterError", code: "invalid_argument" });
    expect((caught as Error).message).toContain(fragment);
  });

  test("errors point at the offending expression", () => {
    expect(() => compileMemoFilter("pinned &&\n  nope", { now: NOW })).toThrow(
      'invalid filter: unknown identifier "nope" (known: content, created_ts, creator, creator_id, has_code, has_incomplete_tasks, has_link, has_location, has_task_list, now, pinned, tag, tags, updated_ts, visibility) at line 2, column 3',
    );
  });

  test("attachment filters know only their own identifiers", () => {
    expect(() => compileAttachmentFilter("memo == \"memos/x\"", { now: NOW })).toThrow(
      'unknown identifier "memo" (known: create_time, filename, memo_id, mime_type, now)',
    );
    expect(() => compileAttachmentFilter("pinned", { now: NOW })).toThrow('unknown identifier "pinned"');
  });
});
