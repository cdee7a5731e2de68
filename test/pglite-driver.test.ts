import { PGlite } from "@electric-sql/pglite";
import fc from "fast-check";
import { Kysely, sql } from "kysely";
import { isDatabaseUnavailable, dataExceptionMessage } from "../src/store/database-errors.js";
import { PGliteDialect } from "../src/store/pglite-driver.js";

/** The driver against PGlite's own `query()`: same rows, same errors, one statement cache. */
describe("PGlite driver", () => {
  let pg: PGlite;
  let db: Kysely<any>;

  beforeAll(async () => {
    pg = new PGlite();
    db = new Kysely<any>({ dialect: new PGliteDialect(pg) });
    await sql`create table t (id serial primary key, name text unique, n int8, ok boolean, doc jsonb, bytes bytea, at timestamptz, tags text[])`.execute(db);
  }, 60_000);
  afterAll(async () => {
    await db?.destroy();
  });

  const run = async (text: string, params: unknown[] = []) => (await db.executeQuery({ sql: text, parameters: params } as never)).rows;

  test("rows are exactly what PGlite's query() returns, for every type the schema uses", async () => {
    const insert = "insert into t (name, n, ok, doc, bytes, at, tags) values ($1, $2, $3, $4, $5, $6, $7) returning *";
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: "grapheme", minLength: 1 }).filter((s) => !s.includes("\0")),
        fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
        fc.boolean(),
        fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.boolean())),
        fc.uint8Array({ maxLength: 40 }),
        fc.array(fc.string({ unit: "grapheme" }), { maxLength: 4 }),
        async (name, n, ok, doc, bytes, tags) => {
          const at = new Date(1_700_000_000_000 + n);
          const params = [name, n, ok, doc, bytes, at, tags];
          const [ours] = await run(insert, params);
          const theirs = (await pg.query("select * from t where id = $1", [(ours as { id: number }).id])).rows[0];
          expect(ours).toEqual(theirs);
          expect(ours).toMatchObject({ name, ok, doc, tags });
          expect(Buffer.from((ours as { bytes: Uint8Array }).bytes)).toEqual(Buffer.from(bytes));
          await run("delete from t where id = $1", [(ours as { id: number }).id]);
        },
      ),
      { numRuns: 60 },
    );
    const [nulls] = await run("insert into t (name) values (null) returning name, n, doc, bytes, tags");
    expect(nulls).toEqual({ name: null, n: null, doc: null, bytes: null, tags: null });
  });

  test("counts the rows an insert, update or delete touched", async () => {
    await run("delete from t");
    const insert = await db.insertInto("t").values([{ name: "a" }, { name: "b" }, { name: "c" }]).executeTakeFirst();
    expect(insert.numInsertedOrUpdatedRows).toBe(3n);
    const update = await db.updateTable("t").set({ ok: true }).where("name", "in", ["a", "b"]).executeTakeFirst();
    expect(update.numUpdatedRows).toBe(2n);
    const none = await db.updateTable("t").set({ ok: true }).where("name", "=", "zzz").executeTakeFirst();
    expect(none.numUpdatedRows).toBe(0n);
    const removed = await db.deleteFrom("t").where("name", "=", "c").executeTakeFirst();
    expect(removed.numDeletedRows).toBe(1n);
  });

  test("errors carry the server's SQLSTATE and fields, and the connection goes on after them", async () => {
    await run("insert into t (name) values ('dup')");
    const dup = await run("insert into t (name) values ($1)", ["dup"]).catch((e: unknown) => e);
    expect(dup).toMatchObject({ code: "23505", constraint: "t_name_key", table: "t", severity: "ERROR" });
    expect((dup as Error).message).toMatch(/duplicate key/);
    const nul = await run("insert into t (name) values ($1)", ["a\0b"]).catch((e: unknown) => e);
    expect(dataExceptionMessage(nul)).toBeDefined();
    const syntax = await run("selec 1").catch((e: unknown) => e);
    expect(syntax).toMatchObject({ code: "42601" });
    // The connection is usable after each failure.
    expect(await run("select $1::int + 1 as two", [1])).toEqual([{ two: 2 }]);
  });

  test("a transaction holds the connection: other statements wait, and a rollback undoes it", async () => {
    await run("delete from t");
    let outside: Promise<unknown[]> | undefined;
    await db.transaction().execute(async (tx) => {
      await tx.insertInto("t").values({ name: "in-tx" }).execute();
      outside = run("select name from t");
      await new Promise((r) => setTimeout(r, 50));
    });
    expect(await outside).toEqual([{ name: "in-tx" }]);

    const failed = await db
      .transaction()
      .execute(async (tx) => {
        await tx.insertInto("t").values({ name: "rolled-back" }).execute();
        await tx.insertInto("t").values({ name: "in-tx" }).execute(); // unique violation
      })
      .catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: "23505" });
    expect(await run("select name from t order by name")).toEqual([{ name: "in-tx" }]);
  });

  test("keeps a bounded number of prepared statements and still answers evicted ones", async () => {
    for (let i = 0; i < 300; i++) expect(await run(`select ${i} as v`)).toEqual([{ v: i }]);
    expect(await run("select 7 as v")).toEqual([{ v: 7 }]);
    const [{ count }] = (await run("select count(*)::int as count from pg_prepared_statements")) as Array<{ count: number }>;
    expect(count).toBeGreaterThan(100);
    expect(count).toBeLessThanOrEqual(257);
  });

  test("a statement prepared before its table changed shape answers with the new shape", async () => {
    await run("create table shape (a int)");
    await run("insert into shape values (1)");
    expect(await run("select * from shape")).toEqual([{ a: 1 }]);
    await run("alter table shape add column b text default 'x'");
    expect(await run("select * from shape")).toEqual([{ a: 1, b: "x" }]);
  });

  test("once closed, statements fail as an unavailable database", async () => {
    const client = new PGlite();
    const other = new Kysely<any>({ dialect: new PGliteDialect(client) });
    expect(await sql`select 1 as one`.execute(other)).toMatchObject({ rows: [{ one: 1 }] });
    await client.close();
    const err = await sql`select 1`.execute(other).catch((e: unknown) => e);
    expect(isDatabaseUnavailable(err)).toBe(true);
    await other.destroy();
  });
});
