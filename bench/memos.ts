// npx tsx bench/memos.ts
// MemoService figures beside their baselines, from one run:
//  1. keyset paging on 100,000 memos (Postgres): ListMemos page 1000 vs page 1 latency (target
//     <= 1.3x), for the explore order and the home order, with an offset-token page 1000 beside;
//  2. GetMemo over Connect vs a bare node:http + pg handler running the same three statements and
//     answering the same JSON (target >= 0.6x its requests/s);
//  3. CreateMemo/s and ListMemos/s (50 per page, tag filter) on Postgres and on PGlite.
// The data set is seeded with INSERT ... SELECT generate_series before each server starts.
//   BENCH_MEMOS_SECONDS (8)  BENCH_MEMOS_CONNECTIONS (16)  BENCH_MEMOS_ROUNDS (2)  BENCH_MEMOS_COUNT (100000)
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { sql } from "kysely";
import { MemoService } from "../gen/memos/api/v1/memo_service_pb.js";
import { encodeOffsetToken } from "../src/domain/page-token.js";
import { openDatabase, pgliteDir, type DatabaseOptions } from "../src/store/database.js";
import { findPostgresBin, startPostgres, type TestPostgres } from "../test/support/postgres.js";
import { runLoad, type LoadResult, type LoadTarget } from "./lib/load.js";
import { ROOT, startServer, type ServerProcess } from "./lib/process.js";
import { median, printTable } from "./lib/report.js";

const SECONDS = Number(process.env.BENCH_MEMOS_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_MEMOS_CONNECTIONS ?? 16);
const ROUNDS = Number(process.env.BENCH_MEMOS_ROUNDS ?? 2);
const COUNT = Number(process.env.BENCH_MEMOS_COUNT ?? 100_000);
const PAGE_SIZE = 50;
const FAR_PAGE = 1000;
const TIMED_FETCHES = 200;
const SERVER = "dist/main.js";

const tempDirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "bench-memos-"));
  tempDirs.push(dir);
  return dir;
};

/**
 * 10 users and `COUNT` memos (a quarter each PRIVATE and PROTECTED, half PUBLIC; 20 tags; every
 * three share a creation second; one in 997 pinned), plus a comment on every 20th, an attachment on
 * every 10th, two reactions on every 5th and a reference on every 7th (memo 42 has them all).
 */
async function seed(options: DatabaseOptions): Promise<void> {
  const { db, close } = await openDatabase(options);
  try {
    await sql`INSERT INTO "user" (username, password_hash) SELECT 'seed-' || g, 'x' FROM generate_series(1, 10) g`.execute(db);
    await sql`
      INSERT INTO memo (uid, creator_id, created_ts, updated_ts, content, visibility, pinned, payload)
      SELECT 'seed-' || g, 1 + g % 10, 1600000000 + (g / 3) * 90, 1600000000 + g * 30,
             'Seeded memo ' || g || ' #tag' || (g % 20) || ' with a few words of text, as notes have.',
             CASE g % 4 WHEN 0 THEN 'PRIVATE' WHEN 1 THEN 'PROTECTED' ELSE 'PUBLIC' END,
             g % 997 = 0,
             jsonb_build_object('tags', jsonb_build_array('tag' || (g % 20)),
                                'snippet', 'Seeded memo ' || g || ' #tag' || (g % 20) || ' with a few words of text, as ...')
      FROM generate_series(1, ${COUNT}) g`.execute(db);
    await sql`
      INSERT INTO memo (uid, creator_id, created_ts, updated_ts, content, visibility, payload)
      SELECT 'seed-c-' || g, 1 + (g + 1) % 10, 1600000000 + (g / 3) * 90 + 5, 1600000000 + g * 30 + 5, 'A comment',
             CASE g % 4 WHEN 0 THEN 'PRIVATE' WHEN 1 THEN 'PROTECTED' ELSE 'PUBLIC' END, '{"snippet":"A comment"}'
      FROM generate_series(2, ${COUNT}, 20) g`.execute(db);
    await sql`
      INSERT INTO memo_relation (memo_id, related_memo_id, type)
      SELECT c.id, m.id, 'COMMENT' FROM memo m JOIN memo c ON c.uid = 'seed-c-' || substr(m.uid, 6) WHERE m.uid LIKE 'seed-%' AND m.uid NOT LIKE 'seed-c-%'`.execute(db);
    await sql`
      INSERT INTO memo_relation (memo_id, related_memo_id, type)
      SELECT m.id, m.id - 1, 'REFERENCE' FROM memo m WHERE m.id % 7 = 0 AND m.id > 1 AND m.uid NOT LIKE 'seed-c-%'`.execute(db);
    await sql`
      INSERT INTO attachment (uid, creator_id, filename, type, size, memo_id, storage_type, reference)
      SELECT 'seed-a-' || m.id, m.creator_id, 'photo.jpg', 'image/jpeg', 123456, m.id, 'LOCAL', 'assets/seed-' || m.id || '.jpg'
      FROM memo m WHERE m.id % 10 = 2`.execute(db);
    await sql`
      INSERT INTO reaction (creator_id, memo_id, reaction_type)
      SELECT u, m.id, '👍' FROM memo m, LATERAL (VALUES (1 + m.id % 10), (1 + (m.id + 3) % 10)) AS r(u) WHERE m.id % 5 = 2`.execute(db);
    await sql`ANALYZE`.execute(db);
  } finally {
    await close();
  }
}

/** Signs up a user and signs in; answers its bearer token. */
async function signUp(baseUrl: string, username: string): Promise<string> {
  const call = async (path: string, body: unknown) => {
    const res = await fetch(baseUrl + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, unknown>;
  };
  await call("/memos.api.v1.UserService/CreateUser", { user: { username, password: "bench-password" } }).catch(() => undefined);
  const signIn = await call("/memos.api.v1.AuthService/SignIn", { passwordCredentials: { username, password: "bench-password" } });
  return signIn.accessToken as string;
}

function memoClient(baseUrl: string, token: string): Client<typeof MemoService> {
  return createClient(
    MemoService,
    createConnectTransport({
      baseUrl,
      httpVersion: "1.1",
      useBinaryFormat: true,
      interceptors: [(next) => (req) => (req.header.set("Authorization", `Bearer ${token}`), next(req))],
    }),
  );
}

const connectJson = (baseUrl: string, method: string, token: string, body: unknown): LoadTarget => ({
  url: `${baseUrl}/memos.api.v1.MemoService/${method}`,
  method: "POST",
  headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
  body: JSON.stringify(body),
});

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** Scenario 1: walk to page 1000 once, then time page 1 and page 1000 alternately. */
async function paging(baseUrl: string, token: string, orderBy: string): Promise<Array<[string, number, number, string]>> {
  const client = memoClient(baseUrl, token);
  const req = { pageSize: PAGE_SIZE, orderBy };
  let pageToken = "";
  const seen = new Set<string>();
  for (let page = 1; page < FAR_PAGE; page++) {
    const res = await client.listMemos({ ...req, pageToken });
    for (const m of res.memos) seen.add(m.name);
    pageToken = res.nextPageToken;
    if (pageToken === "") throw new Error(`only ${page} pages`);
  }
  if (seen.size !== (FAR_PAGE - 1) * PAGE_SIZE) throw new Error(`the walk saw ${seen.size} distinct memos`);
  const offsetToken = encodeOffsetToken({ limit: PAGE_SIZE, offset: (FAR_PAGE - 1) * PAGE_SIZE });
  const times: Record<"first" | "far" | "offset", number[]> = { first: [], far: [], offset: [] };
  const timeOne = async (which: keyof typeof times, token: string) => {
    const start = performance.now();
    const res = await client.listMemos({ ...req, pageToken: token });
    times[which].push(performance.now() - start);
    if (res.memos.length !== PAGE_SIZE) throw new Error("short page");
  };
  for (let i = 0; i < 20; i++) await timeOne("first", ""), await timeOne("far", pageToken); // warm-up
  times.first.length = 0;
  times.far.length = 0;
  for (let i = 0; i < TIMED_FETCHES; i++) {
    await timeOne("first", "");
    await timeOne("far", pageToken);
    if (i % 4 === 0) await timeOne("offset", offsetToken);
  }
  const first = [...times.first].sort((a, b) => a - b);
  const far = [...times.far].sort((a, b) => a - b);
  const offset = [...times.offset].sort((a, b) => a - b);
  const ratio = median(far) / median(first);
  return [
    [`"${orderBy}" page 1 (ms)`, median(first), percentile(first, 99), ""],
    [`"${orderBy}" page ${FAR_PAGE}, keyset token (ms)`, median(far), percentile(far, 99), `${ratio.toFixed(2)}x page 1 (target <= 1.3x): ${ratio <= 1.3 ? "met" : "NOT met"}`],
    [`"${orderBy}" page ${FAR_PAGE}, offset token (ms)`, median(offset), percentile(offset, 99), `${(median(offset) / median(first)).toFixed(2)}x page 1 (reference-style paging)`],
  ];
}

/** Runs every target for SECONDS, ROUNDS times, alternating; answers the median per target. */
async function compare(targets: readonly LoadTarget[]): Promise<LoadResult[]> {
  for (const t of targets) await runLoad(t, { connections: CONNECTIONS, seconds: 1 }); // warm-up
  const results: LoadResult[][] = targets.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, t] of targets.entries()) results[i]!.push(await runLoad(t, { connections: CONNECTIONS, seconds: SECONDS }));
  }
  return results.map((rs) => ({
    rps: median(rs.map((r) => r.rps)),
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
    errors: rs.reduce((n, r) => n + r.errors, 0),
    non2xx: rs.reduce((n, r) => n + r.non2xx, 0),
  }));
}

/** Scenario 3 on one server: CreateMemo/s, then ListMemos/s with a tag filter. */
async function throughput(baseUrl: string, token: string, driver: string): Promise<Array<[string, number, number, number, string]>> {
  const create = connectJson(baseUrl, "CreateMemo", token, { memo: { content: "Bench memo #tag7 with a little text", visibility: "PUBLIC" } });
  const list = connectJson(baseUrl, "ListMemos", token, { pageSize: PAGE_SIZE, filter: 'tag in ["tag7"]' });
  const [c] = await compare([create]);
  const [l] = await compare([list]);
  const row = (name: string, r: LoadResult): [string, number, number, number, string] => [
    `${name} (${driver})`,
    r.rps,
    r.p50,
    r.p99,
    r.errors + r.non2xx > 0 ? `${r.errors} errors, ${r.non2xx} non-2xx` : "",
  ];
  return [row("CreateMemo", c!), row("ListMemos, 50/page, tag filter", l!)];
}

async function main(): Promise<void> {
  if (findPostgresBin() === undefined) throw new Error("bench/memos.ts needs a PostgreSQL server installation (postgresql-15)");
  execFileSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { stdio: "inherit" });
  console.log(`MemoService bench: ${COUNT} memos, ${ROUNDS} rounds x ${SECONDS} s at ${CONNECTIONS} connections for throughput\n`);
  let postgres: TestPostgres | undefined;
  const servers: ServerProcess[] = [];
  const started = async (name: string, script: string, env: Record<string, string>) => {
    const s = await startServer(name, script, { MEMOS_LOG_LEVEL: "warn", ...env });
    servers.push(s);
    return s;
  };
  const stop = async (s: ServerProcess) => {
    await s.stop();
    servers.splice(servers.indexOf(s), 1);
  };
  try {
    postgres = await startPostgres();
    const dsn = postgres.createDatabase("bench_memos");
    let t = performance.now();
    await seed({ driver: "postgres", dsn });
    console.log(`seeded Postgres in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const ours = await started("memos-connect", SERVER, { MEMOS_DATA: tempDir(), MEMOS_DRIVER: "postgres", MEMOS_DSN: dsn });

    // 1. Paging.
    let token = await signUp(ours.baseUrl, "bench");
    const pagingRows = [...(await paging(ours.baseUrl, token, "create_time desc")), ...(await paging(ours.baseUrl, token, "pinned desc, create_time desc"))];
    console.log(`\n1. ListMemos latency, ${PAGE_SIZE} per page, ${TIMED_FETCHES} timed fetches each, Postgres, signed in`);
    printTable(["fetch", "p50 ms", "p99 ms", "vs page 1"], pagingRows);

    // 2. GetMemo vs the bare handler.
    const secretRow = await (async () => {
      const { db, close } = await openDatabase({ driver: "postgres", dsn });
      try {
        return await db.selectFrom("system_setting").select("value").where("name", "=", "BASIC").executeTakeFirstOrThrow();
      } finally {
        await close();
      }
    })();
    const bare = await started("bare node:http + pg", "bench/servers/bare-get-memo.ts", {
      BARE_DSN: dsn,
      BARE_SECRET: (JSON.parse(secretRow.value) as { secretKey: string }).secretKey,
    });
    token = await signUp(ours.baseUrl, "bench");
    // A PUBLIC memo with an attachment, two reactions, a comment and a reference: full hydration.
    const target = { name: "memos/seed-42" };
    const bodies = await Promise.all(
      [ours, bare].map(async (s) => {
        const res = await fetch(connectJson(s.baseUrl, "GetMemo", token, target).url, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify(target),
        });
        return (await res.json()) as Record<string, unknown>;
      }),
    );
    if (!isDeepStrictEqual(bodies[0], bodies[1])) {
      throw new Error(`the baseline answers differently:\n${JSON.stringify(bodies[0])}\n${JSON.stringify(bodies[1])}`);
    }
    const [o, b] = await compare([connectJson(ours.baseUrl, "GetMemo", token, target), connectJson(bare.baseUrl, "GetMemo", token, target)]);
    await stop(bare);
    const getRatio = o!.rps / b!.rps;
    console.log(`\n2. GetMemo (Connect JSON, signed in, memo with attachment, reactions, comment, reference), Postgres`);
    printTable(
      ["server", "req/s", "p50 ms", "p99 ms", "note"],
      [
        ["memos-connect", o!.rps, o!.p50, o!.p99, `${getRatio.toFixed(2)}x bare (target >= 0.6x): ${getRatio >= 0.6 ? "met" : "NOT met"}`],
        ["bare node:http + pg (same 3 statements, same JSON)", b!.rps, b!.p50, b!.p99, ""],
      ],
    );

    // 3. Throughput on both drivers.
    token = await signUp(ours.baseUrl, "bench");
    const rows = await throughput(ours.baseUrl, token, "Postgres");
    await stop(ours);
    const dataDir = tempDir();
    t = performance.now();
    await seed({ driver: "pglite", dataDir: pgliteDir(dataDir) });
    console.log(`\nseeded PGlite in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const embedded = await started("memos-connect (PGlite)", SERVER, { MEMOS_DATA: dataDir });
    rows.push(...(await throughput(embedded.baseUrl, await signUp(embedded.baseUrl, "bench"), "PGlite")));
    await stop(embedded);
    console.log(`\n3. Throughput (Connect JSON, ${CONNECTIONS} connections, ${COUNT} seeded memos)`);
    printTable(["call", "req/s", "p50 ms", "p99 ms", "note"], rows);
  } finally {
    for (const s of [...servers]) await s.stop().catch(() => {});
    postgres?.stop();
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
