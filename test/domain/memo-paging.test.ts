import {
  createKeysetTokenCodec,
  decodeMemoPageToken,
  type CursorValues,
} from "../../src/domain/keyset-page-token.js";
import { describeMemoOrder, keysetAfter, parseMemoOrderBy, sortValuesOf } from "../../src/domain/memo-order.js";
import { encodeOffsetToken } from "../../src/domain/page-token.js";
import type { Db } from "../../src/store/database.js";
import { DRIVERS, openTestDatabase, type TestDatabase } from "../support/database.js";

describe("order_by (spec §6.7 item 6)", () => {
  /** [order_by, keys as text]. */
  const VALID: Array<[string, string]> = [
    ["", "created_ts desc,id desc"],
    ["   ", "created_ts desc,id desc"],
    ["create_time", "created_ts desc,id desc"],
    ["create_time asc", "created_ts asc,id desc"],
    ["create_time ASC", "created_ts asc,id desc"],
    ["name asc", "created_ts asc,id desc"],
    ["update_time", "updated_ts desc,id desc"],
    ["update_time asc, create_time desc", "updated_ts asc,id desc"],
    ["pinned desc, create_time desc", "pinned desc,created_ts desc,id desc"],
    ["pinned asc", "pinned desc,created_ts desc,id desc"],
    ["create_time asc, pinned", "pinned desc,created_ts asc,id desc"],
    ["pinned desc,", "pinned desc,created_ts desc,id desc"],
    ["  pinned   desc ,  update_time   asc ", "pinned desc,updated_ts asc,id desc"],
  ];
  test.each(VALID)("%j", (orderBy, expected) => {
    expect(describeMemoOrder(parseMemoOrderBy(orderBy))).toBe(expected);
  });

  test("the default order does not float pinned memos", () => {
    expect(parseMemoOrderBy("")).toMatchObject({ pinnedFirst: false, timeColumn: "created_ts", timeDirection: "desc" });
  });

  /** [order_by, message fragment]. */
  const INVALID: Array<[string, string]> = [
    ["display_time", 'invalid order_by: unsupported order field "display_time"'],
    ["create_time desc, display_time", 'unsupported order field "display_time"'],
    ["createTime", 'unsupported order field "createTime"'],
    ["create_time up", 'invalid order_by: unsupported direction "up" for create_time'],
    ["create_time desc nulls", "invalid order_by: cannot parse"],
  ];
  test.each(INVALID)("rejects %j", (orderBy, fragment) => {
    let caught: unknown;
    try {
      parseMemoOrderBy(orderBy);
    } catch (err: unknown) {
      caught = err;
    }
    expect(caught).toMatchObject({ name: "OrderByError", code: "invalid_argument" });
    expect((caught as Error).message).toContain(fragment);
  });
});

describe("keyset page tokens", () => {
  const KEY = "0123456789abcdef0123456789abcdef";
  const codec = createKeysetTokenCodec({ key: KEY });
  const query = { filter: 'creator == "users/alice"', order: "pinned desc,created_ts desc,id desc", state: "NORMAL" };
  const values: CursorValues = [true, 1767225600, 42];

  function pageTokenError(f: () => unknown): Error {
    try {
      f();
    } catch (err: unknown) {
      expect(err).toMatchObject({ name: "PageTokenError", code: "invalid_argument" });
      return err as Error;
    }
    throw new Error("expected a PageTokenError");
  }

  test("round-trips the cursor for the same query, whatever the key order of the query object", () => {
    const token = codec.encode(values, query);
    expect(token).toMatch(/^k1\.[A-Za-z0-9_-]+$/);
    expect(codec.decode(token, { state: "NORMAL", order: query.order, filter: query.filter })).toEqual(values);
  });

  test("the token is opaque: no cursor value or filter text is readable in it", () => {
    const token = codec.encode(["secret-uid"], query);
    expect(token).not.toContain("secret");
    expect(token).not.toContain("alice");
  });

  test("a token reused with a different query is rejected", () => {
    const token = codec.encode(values, query);
    expect(pageTokenError(() => codec.decode(token, { ...query, filter: "pinned" })).message).toContain(
      "invalid page token: it belongs to a different query",
    );
  });

  test("a tampered token is rejected", () => {
    const token = codec.encode(values, query);
    const raw = Buffer.from(token.slice(3), "base64url");
    for (const index of [0, 20, raw.length - 2]) {
      const flipped = Buffer.from(raw);
      flipped[index] = flipped[index]! ^ 0x01;
      const forged = `k1.${flipped.toString("base64url")}`;
      expect(pageTokenError(() => codec.decode(forged, query)).message).toMatch(/^invalid page token: /);
    }
  });

  test("a token signed with another key is rejected", () => {
    const other = createKeysetTokenCodec({ key: "another key, also 32 bytes long!" });
    expect(pageTokenError(() => codec.decode(other.encode(values, query), query)).message).toContain("signature mismatch");
  });

  test.each(["garbage", "k1.", "k1.!!!", "k1.AAAA", "CAIQAg", `k1.${"A".repeat(5000)}`])("garbage %j is rejected", (token) => {
    pageTokenError(() => codec.decode(token, query));
  });

  test("stale tokens are rejected when a maximum age is set", () => {
    let clock = 1_000_000;
    const aging = createKeysetTokenCodec({ key: KEY, maxAgeSeconds: 3600, now: () => clock });
    const token = aging.encode(values, query);
    clock += 3600;
    expect(aging.decode(token, query)).toEqual(values);
    clock += 1;
    expect(pageTokenError(() => aging.decode(token, query)).message).toBe("invalid page token: expired");
  });

  test("short keys and non-scalar cursor values are refused", () => {
    expect(() => createKeysetTokenCodec({ key: "short" })).toThrow("at least 16 bytes");
    expect(() => codec.encode([Number.NaN], query)).toThrow(TypeError);
  });

  test("ListMemos accepts keyset tokens, legacy offset tokens (spec §2.2) and the empty first-page token", () => {
    expect(decodeMemoPageToken("", query, codec)).toEqual({ kind: "first" });
    expect(decodeMemoPageToken(codec.encode(values, query), query, codec)).toEqual({ kind: "keyset", values });
    expect(decodeMemoPageToken("CAIQAg==", query, codec)).toEqual({ kind: "offset", page: { limit: 2, offset: 2 } });
    expect(decodeMemoPageToken(encodeOffsetToken({ limit: 10, offset: 10 }), query, codec)).toEqual({
      kind: "offset",
      page: { limit: 10, offset: 10 },
    });
    expect(pageTokenError(() => decodeMemoPageToken("not a token", query, codec)).message).toContain("invalid page token");
  });
});

describe.each(DRIVERS)("keyset paging on %s", (driver) => {
  let t: TestDatabase;
  let db: Db;
  const codec = createKeysetTokenCodec({ key: "paging test key, 32 bytes long.." });

  beforeAll(async () => {
    t = await openTestDatabase(driver);
    db = t.database.db;
    const user = await db.insertInto("user").values({ username: "pager", password_hash: "x" }).returning("id").executeTakeFirstOrThrow();
    // Ties on created_ts and updated_ts on purpose, so the id tie-breaker matters.
    const rows = Array.from({ length: 23 }, (_, i) => ({
      uid: `p${String(i).padStart(2, "0")}`,
      creator_id: user.id,
      content: `memo ${i}`,
      pinned: i % 5 === 0,
      created_ts: 1_700_000_000 + Math.floor(i / 3) * 60,
      updated_ts: 1_700_000_000 + (i % 4) * 60,
    }));
    await db.insertInto("memo").values(rows).execute();
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  async function allAtOnce(orderBy: string): Promise<string[]> {
    const order = parseMemoOrderBy(orderBy);
    let q = db.selectFrom("memo").select("uid");
    for (const key of order.keys) q = q.orderBy(`memo.${key.column}`, key.direction);
    return (await q.execute()).map((r) => r.uid);
  }

  async function pageByPage(orderBy: string, pageSize: number): Promise<string[]> {
    const order = parseMemoOrderBy(orderBy);
    const query = { order: describeMemoOrder(order) };
    const seen: string[] = [];
    let token = "";
    for (let guard = 0; guard < 100; guard++) {
      const decoded = decodeMemoPageToken(token, query, codec);
      let q = db.selectFrom("memo as memo").select(["uid", "id", "pinned", "created_ts", "updated_ts"]);
      if (decoded.kind === "keyset") q = q.where(keysetAfter(order, decoded.values as Array<boolean | number>));
      for (const key of order.keys) q = q.orderBy(`memo.${key.column}`, key.direction);
      const rows = await q.limit(pageSize + 1).execute();
      const page = rows.slice(0, pageSize);
      seen.push(...page.map((r) => r.uid));
      if (rows.length <= pageSize) return seen;
      token = codec.encode(sortValuesOf(order, page[page.length - 1]!), query);
    }
    throw new Error("paging did not end");
  }

  test.each([
    ["", 5],
    ["pinned desc, create_time desc", 4],
    ["create_time asc", 7],
    ["pinned, update_time asc", 3],
    ["update_time", 1],
  ])("%j in pages of %d visits every memo once, in order", async (orderBy, pageSize) => {
    const expected = await allAtOnce(orderBy);
    expect(expected).toHaveLength(23);
    expect(await pageByPage(orderBy, pageSize)).toEqual(expected);
  });

  test("keysetAfter refuses values that do not fit the keys", () => {
    const order = parseMemoOrderBy("pinned");
    expect(() => keysetAfter(order, [1, 2, 3])).toThrow(TypeError);
    expect(() => keysetAfter(order, [true, 2])).toThrow(TypeError);
  });
});
