/** Live events across replicas: two apps on one real Postgres server, LISTEN/NOTIFY in between. */
import { sql } from "kysely";
import { Visibility } from "../../gen/memos/api/v1/memo_service_pb.js";
import { openDatabase } from "../../src/store/database.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { findPostgresBin, startPostgres, type TestPostgres } from "../support/postgres.js";
import { openSse, type LiveEvent, type SseStream } from "./sse-client.js";
import { eventually, newMemo, newUser, type WebUser } from "./support.js";

const describeIfPostgres = findPostgresBin() !== undefined ? describe : describe.skip;

describeIfPostgres("live events on two replicas sharing one Postgres", () => {
  let pg: TestPostgres;
  let a: TestApp;
  let b: TestApp;
  const streams: SseStream[] = [];
  const open = async (app: TestApp, user: WebUser) => {
    const s = await openSse(app.baseUrl, user.token);
    streams.push(s);
    expect(s.status).toBe(200);
    return s;
  };
  const replica = async () => startTestApp({ MEMOS_SSE_HEARTBEAT_MS: "1000" }, { database: await openDatabase({ driver: "postgres", dsn: pg.dsn }) });
  beforeAll(async () => {
    pg = await startPostgres();
    try {
      a = await replica();
      b = await replica();
    } catch (err) {
      await a?.close();
      pg.stop();
      throw err;
    }
  }, 60_000);
  afterEach(() => {
    for (const s of streams.splice(0)) s.close();
  });
  afterAll(async () => {
    try {
      await Promise.all([a?.close(), b?.close()]);
    } finally {
      pg?.stop();
    }
  });

  const is = (type: string, name: string) => (e: LiveEvent) => e.type === type && e.name === name;

  test("a change made through one replica reaches the readers connected to the other, filtered by visibility", async () => {
    const alice = await newUser(a.baseUrl, "alice");
    const bob = await newUser(a.baseUrl, "bob");
    const onB = await open(b, bob);
    const aliceOnB = await open(b, alice);
    const aliceOnA = await open(a, alice);
    const secret = await newMemo(alice, { visibility: Visibility.PRIVATE });
    await aliceOnB.next(is("memo.created", secret.name));
    const shared = await newMemo(alice, { visibility: Visibility.PUBLIC });
    await onB.next(is("memo.created", shared.name));
    await aliceOnA.next(is("memo.created", shared.name));
    // Delivered once per client: the origin replica skips its own change coming back.
    await b.app.liveEvents.idle();
    await eventually(async () => (aliceOnA.events.filter((e) => e.name === shared.name).length === 1 ? true : undefined));
    await new Promise((r) => setTimeout(r, 200));
    expect(aliceOnA.events.filter((e) => e.name === shared.name)).toHaveLength(1);
    expect(onB.events.some((e) => e.name === secret.name)).toBe(false);
    // A change made on B reaches A.
    const bobOnA = await open(a, bob);
    const viaB = await newUser(b.baseUrl, "carol");
    const fromB = await newMemo(viaB, { visibility: Visibility.PROTECTED });
    await bobOnA.next(is("memo.created", fromB.name));
  });

  test("when the LISTEN connection drops, clients are sent away to resync, and events flow again after reconnecting", async () => {
    const alice = await newUser(a.baseUrl, "alice");
    const onB = await open(b, alice);
    // Kill every LISTEN connection on the server (both replicas').
    await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`.execute(a.app.database.db);
    await onB.ended;
    // Reconnected with back-off: a new stream hears of a change made on the other replica again.
    await eventually(async () => {
      const rows = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'LISTEN %'`.execute(a.app.database.db);
      return rows.rows[0]!.n >= 2 ? true : undefined;
    }, 15_000);
    // Either replica may still be between attempts when the count is reached (one may have
    // reconnected twice): a change made while B is not listening is not replayed, so try again on
    // a new stream until one arrives.
    await eventually(async () => {
      const again = await open(b, alice);
      const memo = await newMemo(alice, { visibility: Visibility.PRIVATE });
      return again.next(is("memo.created", memo.name), 3_000).then(
        () => true,
        () => undefined,
      );
    }, 30_000);
  }, 60_000);
});
