/** Pure memo rules: the stored payload, attachment-set planning, and the keyset condition's SQL. */
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from "kysely";
import { analyzeMemoMarkdown } from "../../src/domain/markdown/memo-markdown.js";
import { checkManagedImages, planAttachmentSet, type AttachmentFacts } from "../../src/domain/memo-attachments.js";
import { keysetAfter, parseMemoOrderBy } from "../../src/domain/memo-order.js";
import { formatMemoPayload, readMemoPayload } from "../../src/domain/memo-payload.js";

describe("memo payload (spec §7)", () => {
  test("false flags, empty title and empty tags are left out; the snippet is stored; reading gives the fields back", () => {
    const derived = analyzeMemoMarkdown("Hello #a/b");
    const json = formatMemoPayload(derived, undefined);
    expect(JSON.parse(json)).toEqual({ tags: ["a", "a/b"], snippet: "Hello #a/b" });
    expect(readMemoPayload(JSON.parse(json), "ignored")).toEqual({ ...derived });
  });

  test("location is kept even when all zero (has_location is true), zero fields left out", () => {
    const json = formatMemoPayload(analyzeMemoMarkdown(""), { placeholder: "", latitude: 0, longitude: 0 });
    expect(JSON.parse(json)).toEqual({ location: {}, snippet: "" });
    expect(readMemoPayload(JSON.parse(json), "").location).toEqual({ placeholder: "", latitude: 0, longitude: 0 });
  });

  test("a payload written elsewhere (no snippet, odd values) still reads", () => {
    const read = readMemoPayload({ property: { hasLink: true, title: 7 }, tags: ["x", 3] }, "# T\n\nbody");
    expect(read).toEqual({ tags: ["x"], property: { hasLink: true, hasTaskList: false, hasCode: false, hasIncompleteTasks: false, title: "" }, snippet: "T body" });
    expect(readMemoPayload("not json", "")).toMatchObject({ tags: [], snippet: "" });
  });
});

describe("attachment set (spec §6.9)", () => {
  const facts = (id: number, over: Partial<AttachmentFacts> = {}): AttachmentFacts => ({
    id,
    uid: `a${id}`,
    creatorId: 1,
    memoId: null,
    type: "image/png",
    storageType: "LOCAL",
    ...over,
  });
  const plan = (requested: string[], all: AttachmentFacts[], current: AttachmentFacts[] = [], memoId: number | undefined = 9) =>
    planAttachmentSet({ requestedUids: requested, found: new Map(all.map((a) => [a.uid, a])), memoId, memoCreatorId: 1, current });

  test("order kept, duplicates collapsed, current ones not named are removed", () => {
    const bound = facts(1, { memoId: 9 });
    const free = facts(2);
    const result = plan(["a2", "a1", "a2"], [bound, free], [bound, facts(3, { memoId: 9 })]);
    expect(result.result.map((a) => a.uid)).toEqual(["a2", "a1"]);
    expect(result.removed.map((a) => a.uid)).toEqual(["a3"]);
  });

  test("another creator's unbound attachment is hidden; one bound elsewhere cannot move", () => {
    expect(() => plan(["a1"], [facts(1, { creatorId: 2 })])).toThrow(expect.objectContaining({ code: "not_found" }));
    expect(() => plan(["a1"], [facts(1, { memoId: 5 })])).toThrow(expect.objectContaining({ code: "failed_precondition" }));
    // Already on this memo: kept even when made by someone else.
    expect(plan(["a1"], [facts(1, { creatorId: 2, memoId: 9 })], [facts(1, { creatorId: 2, memoId: 9 })]).result).toHaveLength(1);
    // But it cannot be removed by the memo's side.
    expect(() => plan([], [], [facts(1, { creatorId: 2, memoId: 9 })])).toThrow(expect.objectContaining({ code: "failed_precondition" }));
  });

  test("motion groups: together at the first member; partly named current groups go whole", () => {
    const g = (id: number, memoId: number | null = null) => facts(id, { motionGroupId: "g", memoId });
    expect(plan(["a1", "a3", "a2"], [g(1), facts(3), g(2)]).result.map((a) => a.uid)).toEqual(["a1", "a2", "a3"]);
    const current = [g(1, 9), g(2, 9), facts(3, { memoId: 9 })];
    const partial = plan(["a3", "a1"], current, current);
    expect(partial.result.map((a) => a.uid)).toEqual(["a3"]);
    expect(partial.removed.map((a) => a.uid)).toEqual(["a1", "a2"]);
  });

  test("managed images must be bound images stored here", () => {
    expect(() => checkManagedImages(["a1"], [])).toThrow(expect.objectContaining({ code: "failed_precondition" }));
    expect(() => checkManagedImages(["a1"], [facts(1, { type: "text/plain" })])).toThrow(expect.objectContaining({ code: "invalid_argument" }));
    expect(() => checkManagedImages(["a1"], [facts(1, { storageType: "EXTERNAL" })])).toThrow(expect.objectContaining({ code: "invalid_argument" }));
    expect(() => checkManagedImages(["a1"], [facts(1)])).not.toThrow();
  });
});

describe("keyset condition SQL", () => {
  const db = new Kysely<any>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (k) => new PostgresIntrospector(k),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  const where = (orderBy: string, values: Array<boolean | number>) =>
    db.selectFrom("memo").selectAll().where(keysetAfter(parseMemoOrderBy(orderBy), values)).compile();

  test("one direction throughout: a single row-value comparison (an index bound)", () => {
    const q = where("pinned desc, create_time desc", [false, 100, 7]);
    expect(q.sql).toContain(`(("memo"."pinned", "memo"."created_ts", "memo"."id") < ($1, $2, $3))`);
    expect(q.parameters).toEqual([false, 100, 7]);
  });

  test("mixed directions: the leading run as a bound, the rest as a tie filter", () => {
    const q = where("create_time asc", [100, 7]);
    expect(q.sql).toContain(`(("memo"."created_ts" >= $1 AND ("memo"."created_ts" > $2 OR "memo"."id" < $3)))`);
  });
});
