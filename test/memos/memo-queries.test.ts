/** No N+1: a page of memos costs the same number of SQL statements whatever its size. */
import { randomBytes } from "node:crypto";
import { sql } from "kysely";
import { Visibility } from "../../gen/memos/api/v1/memo_service_pb.js";
import { newMemo, newUser, startMemoApp, type MemoTestApp, type TestUser } from "./support.js";

let t: MemoTestApp;
let alice: TestUser;
let bob: TestUser;
const tag = `q${randomBytes(4).toString("hex")}`;
let parentName = "";

beforeAll(async () => {
  t = await startMemoApp();
  await newUser(t.baseUrl, "admin");
  alice = await newUser(t.baseUrl, "alice");
  bob = await newUser(t.baseUrl, "bob");
  const parent = await newMemo(alice, { content: `#${tag} parent`, visibility: Visibility.PUBLIC });
  parentName = parent.name;
  const db = t.app.database.db;
  // 60 memos, each with 2 attachments, a reference to the parent, a comment and 2 reactions.
  await sql`
    INSERT INTO memo (uid, creator_id, content, visibility, payload)
    SELECT ${tag} || '-' || g, ${alice.userId}, '#' || ${tag} || ' memo ' || g, 'PUBLIC', jsonb_build_object('tags', jsonb_build_array(${tag}::text))
    FROM generate_series(1, 60) g`.execute(db);
  const ids = sql`(SELECT id FROM memo WHERE uid LIKE ${`${tag}-%`})`;
  await sql`
    INSERT INTO attachment (uid, creator_id, filename, type, size, memo_id, storage_type, reference)
    SELECT 'a' || m.id || '-' || k, ${alice.userId}, 'f.png', 'image/png', 1, m.id, 'LOCAL', 'assets/f' || m.id || '-' || k
    FROM memo m, generate_series(1, 2) k WHERE m.id IN ${ids}`.execute(db);
  await sql`
    INSERT INTO memo_relation (memo_id, related_memo_id, type)
    SELECT m.id, p.id, 'REFERENCE' FROM memo m, memo p WHERE m.id IN ${ids} AND p.uid = ${parent.name.slice(6)}`.execute(db);
  await sql`
    INSERT INTO memo (uid, creator_id, content, visibility, payload)
    SELECT 'c-' || m.uid, ${bob.userId}, 'comment', 'PUBLIC', '{}' FROM memo m WHERE m.id IN ${ids}`.execute(db);
  await sql`
    INSERT INTO memo_relation (memo_id, related_memo_id, type)
    SELECT c.id, m.id, 'COMMENT' FROM memo m JOIN memo c ON c.uid = 'c-' || m.uid WHERE m.id IN ${ids}`.execute(db);
  // And 40 more comments on one of them.
  await sql`
    INSERT INTO memo (uid, creator_id, content, visibility, payload)
    SELECT 'more-' || ${tag} || '-' || g, ${bob.userId}, 'more', 'PUBLIC', '{}' FROM generate_series(1, 40) g`.execute(db);
  await sql`
    INSERT INTO memo_relation (memo_id, related_memo_id, type)
    SELECT c.id, m.id, 'COMMENT' FROM memo m, memo c WHERE m.uid = ${`${tag}-2`} AND c.uid LIKE ${`more-${tag}-%`}`.execute(db);
  await sql`
    INSERT INTO reaction (creator_id, memo_id, reaction_type)
    SELECT u, m.id, '👍' FROM memo m, unnest(ARRAY[${alice.userId}::int, ${bob.userId}::int]) u WHERE m.id IN ${ids}`.execute(db);
}, 60_000);
afterAll(async () => {
  await t?.close();
});

/** Runs `call` and answers the SQL statements it caused. */
async function statementsOf(call: () => Promise<unknown>): Promise<string[]> {
  const before = t.queries.log.length;
  await call();
  return t.queries.log.slice(before);
}

test("ListMemos: a page of 50 fully populated memos costs what a page of 5 costs: two statements", async () => {
  const filter = `tag in ["${tag}"]`;
  const page = (pageSize: number) => bob.memos.listMemos({ filter, pageSize });
  const big = await page(50);
  expect(big.memos).toHaveLength(50);
  expect(big.memos.every((m) => m.attachments.length === 2 && m.reactions.length === 2 && m.relations.length === 2)).toBe(true);
  const small = await statementsOf(() => page(5));
  const large = await statementsOf(() => page(50));
  const next = await statementsOf(() => bob.memos.listMemos({ filter, pageSize: 50, pageToken: big.nextPageToken }));
  expect(large.length).toBe(small.length);
  expect(next.length).toBe(small.length);
  // The caller's row (read by the auth gate, taken by the service) and one statement for the
  // page with every memo's attachments, relations and reactions.
  expect(large.length).toBe(2);
});

test("GetMemo and ListMemoComments cost a constant number of statements", async () => {
  const get = await statementsOf(() => bob.memos.getMemo({ name: parentName }));
  expect(get.length).toBe(2);
  const comments = await statementsOf(() => bob.memos.listMemoComments({ name: `memos/${tag}-1` }));
  const many = await bob.memos.listMemoComments({ name: `memos/${tag}-2` });
  expect(many.memos).toHaveLength(41);
  const manyComments = await statementsOf(() => bob.memos.listMemoComments({ name: `memos/${tag}-2` }));
  // The caller once, the parent (for the read check), the page of comments with their parts.
  expect(comments.length).toBe(3);
  expect(manyComments.length).toBe(comments.length);
});
