/**
 * Two replicas: two server processes (`src/main.ts`) on one Postgres database and one S3 bucket
 * (s3rver), booted at the same moment against an empty database and bucket. A client moves
 * between them request by request: accounts, access and refresh tokens (with reuse detection),
 * personal access tokens, memo paging cursors, attachments and their thumbnails, and instance
 * settings all work whichever replica answers. (Live events across replicas: test/webapp/sse-replicas.test.ts.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import S3rver from "s3rver";
import sharp from "sharp";
import { startServer, type ServerProcess } from "../../bench/lib/process.js";
import type { BlobStore } from "../../src/blob/blob-store.js";
import { createS3BlobStore } from "../../src/blob/s3-blob-store.js";
import { thumbnailKey } from "../../src/media/thumbnail.js";
import { findPostgresBin, startPostgres, type TestPostgres } from "../support/postgres.js";

const describeIfPostgres = findPostgresBin() !== undefined ? describe : describe.skip;

/** A REST or Connect JSON answer. */
interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
  readonly json: Record<string, any>;
}

/** Options of one call: a bearer token, a `memos_refresh` cookie, a JSON body, more headers. */
interface CallOptions {
  readonly token?: string;
  readonly cookie?: string;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

async function call(server: ServerProcess, method: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const res = await fetch(server.baseUrl + path, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { "content-type": "application/json" }),
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...(options.cookie === undefined ? {} : { cookie: `memos_refresh=${options.cookie}` }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const body = Buffer.from(await res.arrayBuffer());
  let json: Record<string, any> = {};
  if ((res.headers.get("content-type") ?? "").includes("json") && body.length > 0) json = JSON.parse(body.toString("utf8")) as Record<string, any>;
  return { status: res.status, headers: res.headers, body, json };
}

/** The `memos_refresh` value a response sets, or `undefined`. */
const refreshCookieOf = (headers: Headers) => {
  for (const c of headers.getSetCookie()) {
    const m = /^memos_refresh=([^;]+)/.exec(c);
    if (m !== null) return m[1];
  }
  return undefined;
};

/** Environment of a replica: Postgres at `dsn`, S3 bucket `bucket` on s3rver at `s3Port`, its own (unused) data dir. */
function replicaEnv(dsn: string, s3Port: number, bucket: string, dataDir: string): Record<string, string> {
  return {
    MEMOS_DRIVER: "postgres",
    MEMOS_DSN: dsn,
    MEMOS_DATA: dataDir,
    MEMOS_STORAGE: "s3",
    MEMOS_S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
    MEMOS_S3_ACCESS_KEY: "S3RVER",
    MEMOS_S3_SECRET_KEY: "S3RVER",
    MEMOS_S3_BUCKET: bucket,
  };
}

/** Starts replicas A and B at the same moment; stops whichever started if the other did not. */
async function startPair(env: (name: string) => Record<string, string>): Promise<[ServerProcess, ServerProcess]> {
  const started = await Promise.allSettled(["A", "B"].map((n) => startServer(`replica ${n}`, "src/main.ts", env(n), { timeoutMs: 120_000 })));
  const ok = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  if (ok.length < 2) {
    await Promise.all(ok.map((s) => s.stop()));
    throw (started.find((s) => s.status === "rejected") as PromiseRejectedResult).reason;
  }
  return [ok[0]!, ok[1]!];
}

describeIfPostgres("two replicas on one Postgres and one S3 bucket", () => {
  let postgres: TestPostgres | undefined;
  let s3: S3rver | undefined;
  let s3Port = 0;
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), "memos-replicas-"));
    dirs.push(d);
    return d;
  };
  let a: ServerProcess;
  let b: ServerProcess;
  let bucket: BlobStore | undefined;

  beforeAll(async () => {
    try {
      postgres = await startPostgres();
      s3 = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: tempDir() });
      s3Port = (await s3.run()).port;
      // Both boot against the empty database and the missing bucket at once (migrations, the
      // instance secret, the access mode and the bucket are all created by whichever gets there first).
      [a, b] = await startPair(() => replicaEnv(postgres!.dsn, s3Port, "memos-replicas", tempDir()));
      bucket = await createS3BlobStore({
        endPoint: "127.0.0.1",
        port: s3Port,
        useSSL: false,
        accessKey: "S3RVER",
        secretKey: "S3RVER",
        region: "us-east-1",
        bucket: "memos-replicas",
        pathStyle: true,
      });
    } catch (err) {
      await teardown();
      throw err;
    }
  }, 180_000);

  async function teardown(): Promise<void> {
    try {
      await Promise.all([a?.stop(), b?.stop()]);
      await bucket?.close();
      await s3?.close();
    } finally {
      postgres?.stop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  }
  afterAll(teardown);

  /** Reads the database directly (what the replicas share). */
  async function query<R>(dsn: string, text: string): Promise<R[]> {
    const client = new pg.Client({ connectionString: dsn });
    await client.connect();
    try {
      return (await client.query(text)).rows as R[];
    } finally {
      await client.end();
    }
  }

  let admin: { username: string; password: string };

  test("replicas booted at once on an empty database agree: one set of migrations, one instance secret, one access mode", async () => {
    const migrations = await query<{ name: string; n: number }>(postgres!.dsn, "SELECT name, count(*)::int AS n FROM kysely_migration GROUP BY name");
    expect(migrations.length).toBeGreaterThan(0);
    expect(migrations.every((m) => m.n === 1)).toBe(true);
    const settings = await query<{ name: string; value: string }>(postgres!.dsn, "SELECT name, value FROM system_setting WHERE name IN ('BASIC', 'ACCESS') ORDER BY name");
    expect(settings.map((s) => s.name)).toEqual(["ACCESS", "BASIC"]);
    expect(JSON.parse(settings[1]!.value)).toMatchObject({ secretKey: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    for (const replica of [a, b]) {
      const profile = await call(replica, "GET", "/api/v1/instance/profile");
      expect([profile.status, profile.json.needsSetup, profile.json.accessMode]).toEqual([200, true, "INSTANCE_ACCESS_MODE_PRIVATE"]);
      expect((await call(replica, "GET", "/healthz")).status).toBe(200);
    }
  });

  test("sign-up on A makes the admin; sign-in on B; access tokens from either work on the other", async () => {
    admin = { username: "replica-admin", password: "replica-password" };
    const created = await call(a, "POST", "/api/v1/users", { body: admin });
    expect([created.status, created.json.role]).toEqual([200, "ADMIN"]);
    for (const replica of [a, b]) {
      const profile = await call(replica, "GET", "/api/v1/instance/profile");
      expect([profile.json.needsSetup, profile.json.admin?.username]).toEqual([false, admin.username]);
    }

    const onB = await call(b, "POST", "/api/v1/auth/signin", { body: { passwordCredentials: admin } });
    expect(onB.status).toBe(200);
    const onA = await call(a, "POST", "/api/v1/auth/signin", { body: { passwordCredentials: admin } });
    expect(onA.status).toBe(200);
    for (const [token, other] of [
      [onB.json.accessToken as string, a],
      [onA.json.accessToken as string, b],
    ] as const) {
      const me = await call(other, "GET", "/api/v1/auth/me", { token });
      expect([me.status, me.json.user?.username]).toEqual([200, admin.username]);
    }
    // A forged token is refused on both.
    for (const replica of [a, b]) expect((await call(replica, "GET", "/api/v1/auth/me", { token: `${onA.json.accessToken as string}x` })).status).toBe(401);
  });

  test("a refresh cookie from A refreshes on B, the rotated one on A; a spent one is a reuse on the other replica and ends the family", async () => {
    const signIn = await call(a, "POST", "/api/v1/auth/signin", { body: { passwordCredentials: admin } });
    const first = refreshCookieOf(signIn.headers)!;
    expect(first).toBeDefined();

    const onB = await call(b, "POST", "/api/v1/auth/refresh", { cookie: first, body: {} });
    expect(onB.status).toBe(200);
    const second = refreshCookieOf(onB.headers)!;
    expect(second).not.toBe(first);
    expect((await call(a, "GET", "/api/v1/auth/me", { token: onB.json.accessToken as string })).status).toBe(200);

    const onA = await call(a, "POST", "/api/v1/auth/refresh", { cookie: second, body: {} });
    expect(onA.status).toBe(200);
    const third = refreshCookieOf(onA.headers)!;
    expect(third).not.toBe(second);

    // The cookie spent on B, replayed on A: reuse, 401, and the whole family is revoked.
    const reuse = await call(a, "POST", "/api/v1/auth/refresh", { cookie: first, body: {} });
    expect([reuse.status, reuse.json.code]).toEqual([401, 16]);
    expect((await call(b, "POST", "/api/v1/auth/refresh", { cookie: third, body: {} })).status).toBe(401);

    // Sign-out on B ends a session signed in on A.
    const again = await call(a, "POST", "/api/v1/auth/signin", { body: { passwordCredentials: admin } });
    const cookie = refreshCookieOf(again.headers)!;
    expect((await call(b, "POST", "/api/v1/auth/signout", { token: again.json.accessToken as string, cookie })).status).toBe(200);
    expect((await call(a, "POST", "/api/v1/auth/refresh", { cookie, body: {} })).status).toBe(401);
  });

  test("memos created on A are paged through on both replicas in turn: every memo once, newest first", async () => {
    const token = (await call(b, "POST", "/api/v1/auth/signin", { body: { passwordCredentials: admin } })).json.accessToken as string;
    const tag = `paged${Date.now().toString(36)}`;
    const created: string[] = [];
    for (let i = 0; i < 13; i++) {
      const memo = await call(a, "POST", "/api/v1/memos", { token, body: { content: `memo ${i} #${tag}`, visibility: i % 2 === 0 ? "PUBLIC" : "PRIVATE" } });
      expect(memo.status).toBe(200);
      created.push(memo.json.name as string);
    }
    const newestFirst = [...created].reverse();
    const filter = `tag in ["${tag}"]`;

    // REST, from B: page tokens issued by one replica are accepted by the other.
    const viaRest: string[] = [];
    let pageToken = "";
    for (let page = 0; ; page++) {
      const replica = page % 2 === 0 ? b : a;
      const res = await call(replica, "GET", `/api/v1/memos?${new URLSearchParams({ pageSize: "4", filter, ...(pageToken === "" ? {} : { pageToken }) })}`, { token });
      expect([replica.name, res.status]).toEqual([replica.name, 200]);
      viaRest.push(...(res.json.memos as Array<{ name: string }>).map((m) => m.name));
      pageToken = (res.json.nextPageToken as string) ?? "";
      if (pageToken === "") break;
      expect(page).toBeLessThan(10);
    }
    expect(viaRest).toEqual(newestFirst);

    // Connect JSON, from A, with a memo created on B between two pages: it is newer than the
    // cursor, so it is not on a later page, and nothing repeats.
    const viaConnect: string[] = [];
    pageToken = "";
    for (let page = 0; ; page++) {
      const replica = page % 2 === 0 ? a : b;
      const res = await call(replica, "POST", "/memos.api.v1.MemoService/ListMemos", { token, body: { pageSize: 5, filter, pageToken } });
      expect([replica.name, res.status]).toEqual([replica.name, 200]);
      viaConnect.push(...(res.json.memos as Array<{ name: string }>).map((m) => m.name));
      if (page === 0) expect((await call(b, "POST", "/api/v1/memos", { token, body: { content: `late #${tag}` } })).status).toBe(200);
      pageToken = (res.json.nextPageToken as string) ?? "";
      if (pageToken === "") break;
      expect(page).toBeLessThan(10);
    }
    expect(viaConnect).toEqual(newestFirst);

    // A memo created on A is read, updated and deleted through B.
    const name = created[0]!;
    expect((await call(b, "GET", `/api/v1/${name}`, { token })).json.content).toBe(`memo 0 #${tag}`);
    const patched = await call(b, "PATCH", `/api/v1/${name}?updateMask=content`, { token, body: { content: `changed #${tag}` } });
    expect([patched.status, patched.json.content]).toEqual([200, `changed #${tag}`]);
    expect((await call(a, "GET", `/api/v1/${name}`, { token })).json.content).toBe(`changed #${tag}`);
    expect((await call(b, "DELETE", `/api/v1/${name}`, { token })).status).toBe(200);
    expect((await call(a, "GET", `/api/v1/${name}`, { token })).status).toBe(404);
  });

  test("an image uploaded on A downloads on B; its thumbnail, made on B, is served by A from the shared bucket, not made again", async () => {
    const token = (await call(a, "POST", "/api/v1/auth/signin", { body: { passwordCredentials: admin } })).json.accessToken as string;
    const image = await sharp({ create: { width: 900, height: 600, channels: 3, background: "#3080c0", noise: { type: "gaussian", mean: 120, sigma: 25 } } })
      .jpeg({ quality: 85 })
      .toBuffer();
    const uploaded = await call(a, "POST", "/api/v1/attachments", { token, body: { filename: "photo.jpg", type: "image/jpeg", content: image.toString("base64") } });
    expect(uploaded.status).toBe(200);
    const uid = (uploaded.json.name as string).slice("attachments/".length);
    const row = (await query<{ id: number; storage_type: string }>(postgres!.dsn, `SELECT id, storage_type FROM attachment WHERE uid = '${uid}'`))[0]!;
    expect(row.storage_type).toBe("S3");

    const download = await call(b, "GET", `/file/attachments/${uid}/photo.jpg`, { token });
    expect([download.status, download.headers.get("content-type")]).toEqual([200, "image/jpeg"]);
    expect(download.body.equals(image)).toBe(true);
    expect(Number(uploaded.json.size)).toBe(image.length);
    // The refresh cookie from a sign-in on A also opens the file on B (how <img> tags load it),
    // until the session is signed out on A.
    const session = await call(a, "POST", "/api/v1/auth/signin", { body: { passwordCredentials: admin } });
    const cookie = refreshCookieOf(session.headers)!;
    expect((await call(b, "GET", `/file/attachments/${uid}`, { cookie })).status).toBe(200);
    expect((await call(a, "POST", "/api/v1/auth/signout", { token: session.json.accessToken as string, cookie })).status).toBe(200);
    expect((await call(b, "GET", `/file/attachments/${uid}`, { cookie })).status).toBe(401);

    const key = thumbnailKey(uid, row.id);
    expect(await bucket!.stat(key)).toBeUndefined();
    const first = await call(b, "GET", `/file/attachments/${uid}?thumbnail=true`, { token });
    expect([first.status, first.headers.get("content-type")]).toEqual([200, "image/jpeg"]);
    const meta = await sharp(first.body).metadata();
    expect([meta.width, meta.height]).toEqual([600, 400]);
    const stored = await bucket!.stat(key);
    expect(stored).toBeDefined();

    // Past the next second, so a second generation would show in the object's Last-Modified.
    await new Promise((r) => setTimeout(r, 1100));
    const second = await call(a, "GET", `/file/attachments/${uid}?thumbnail=true`, { token });
    expect(second.status).toBe(200);
    expect(second.body.equals(first.body)).toBe(true);
    expect([second.headers.get("etag"), second.headers.get("last-modified")]).toEqual([first.headers.get("etag"), first.headers.get("last-modified")]);
    const after = await bucket!.stat(key);
    expect([after!.etag, after!.lastModified.getTime()]).toEqual([stored!.etag, stored!.lastModified.getTime()]);
    const conditional = await call(a, "GET", `/file/attachments/${uid}?thumbnail=true`, { token, headers: { "if-none-match": first.headers.get("etag")! } });
    expect(conditional.status).toBe(304);
    let derived = 0;
    for await (const k of bucket!.list(`derived/${uid}/`)) derived += k === key ? 1 : 100;
    expect(derived).toBe(1);

    // Deleted through B: gone for A, and its blobs (original and thumbnail) leave the bucket.
    expect((await call(b, "DELETE", `/api/v1/attachments/${uid}`, { token })).status).toBe(200);
    expect((await call(a, "GET", `/file/attachments/${uid}`, { token })).status).toBe(404);
    expect(await bucket!.stat(key)).toBeUndefined();
  });

  test("a personal access token created on B works on A until it is deleted on A", async () => {
    const token = (await call(b, "POST", "/api/v1/auth/signin", { body: { passwordCredentials: admin } })).json.accessToken as string;
    const created = await call(b, "POST", `/api/v1/users/${admin.username}/personalAccessTokens`, { token, body: { description: "replicas", expiresInDays: 1 } });
    expect(created.status).toBe(200);
    const pat = created.json.token as string;
    const me = await call(a, "GET", "/api/v1/auth/me", { token: pat });
    expect([me.status, me.json.user?.username]).toEqual([200, admin.username]);
    expect((await call(a, "DELETE", `/api/v1/${created.json.personalAccessToken.name as string}`, { token: pat })).status).toBe(200);
    expect((await call(b, "GET", "/api/v1/auth/me", { token: pat })).status).toBe(401);
  });

  test("failed sign-ins on A and B count together: the username locks on both", async () => {
    const username = "replica-throttled";
    expect((await call(b, "POST", "/api/v1/users", { body: { username, password: "right-password" } })).status).toBe(200);
    const attempt = (replica: ServerProcess, password: string, i: number) =>
      call(replica, "POST", "/api/v1/auth/signin", { body: { passwordCredentials: { username, password } }, headers: { "x-forwarded-for": `192.0.2.${i}` } });
    for (let i = 0; i < 5; i++) expect((await attempt(i % 2 === 0 ? a : b, "wrong", i)).json.message).toBe("unmatched username and password");
    for (const [i, replica] of [a, b].entries()) {
      const locked = await attempt(replica, "right-password", 10 + i);
      expect([replica.name, locked.status, locked.json.code]).toEqual([replica.name, 429, 8]);
      expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    }
  });

  test("a mention in a memo created on A notifies the user once, read on B", async () => {
    const username = "replica-mentioned";
    expect((await call(a, "POST", "/api/v1/users", { body: { username, password: "pw" } })).status).toBe(200);
    const theirs = (await call(b, "POST", "/api/v1/auth/signin", { body: { passwordCredentials: { username, password: "pw" } } })).json.accessToken as string;
    const token = (await call(a, "POST", "/api/v1/auth/signin", { body: { passwordCredentials: admin } })).json.accessToken as string;
    const memo = await call(a, "POST", "/api/v1/memos", { token, body: { content: `hello @${username}`, visibility: "PROTECTED" } });
    expect(memo.status).toBe(200);
    const mentionsOf = async () => {
      const res = await call(b, "GET", `/api/v1/users/${username}/notifications`, { token: theirs });
      expect(res.status).toBe(200);
      return ((res.json.notifications ?? []) as Array<{ type: string; sender: string }>).filter((n) => n.type === "MEMO_MENTION");
    };
    const deadline = Date.now() + 10_000;
    while ((await mentionsOf()).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    // Handled by the replica that made the change only: B does not notify a second time.
    await new Promise((r) => setTimeout(r, 500));
    expect((await mentionsOf()).map((n) => n.sender)).toEqual([`users/${admin.username}`]);
  });

  test("an instance setting changed on A holds on B at once", async () => {
    const token = (await call(a, "POST", "/api/v1/auth/signin", { body: { passwordCredentials: admin } })).json.accessToken as string;
    const general = (disallow: boolean) => ({
      name: "instance/settings/GENERAL",
      generalSetting: { disallowUserRegistration: disallow, customProfile: { title: disallow ? "Closed" : "Open" } },
    });
    expect((await call(a, "PATCH", "/api/v1/instance/settings/GENERAL", { token, body: general(true) })).status).toBe(200);
    try {
      const read = await call(b, "GET", "/api/v1/instance/settings/GENERAL", { token });
      expect(read.json.generalSetting).toMatchObject({ disallowUserRegistration: true, customProfile: { title: "Closed" } });
      const refused = await call(b, "POST", "/api/v1/users", { body: { username: "replica-late", password: "pw" } });
      expect([refused.status, refused.json.message]).toEqual([403, "user registration is not allowed"]);
    } finally {
      expect((await call(b, "PATCH", "/api/v1/instance/settings/GENERAL", { token, body: general(false) })).status).toBe(200);
    }
    expect((await call(a, "POST", "/api/v1/users", { body: { username: "replica-late", password: "pw" } })).status).toBe(200);
  });

  test("two more replicas booted at once on another empty database and bucket: concurrent first sign-ups make exactly one admin", async () => {
    const dsn = postgres!.createDatabase("memos_race");
    const [c, d] = await startPair(() => replicaEnv(dsn, s3Port, "memos-race", tempDir()));
    try {
      const [one, two] = await Promise.all([
        call(c, "POST", "/api/v1/users", { body: { username: "first-c", password: "pw" } }),
        call(d, "POST", "/api/v1/users", { body: { username: "first-d", password: "pw" } }),
      ]);
      expect([one.status, two.status]).toEqual([200, 200]);
      expect([one.json.role, two.json.role].sort()).toEqual(["ADMIN", "USER"]);
      const adminName = one.json.role === "ADMIN" ? "first-c" : "first-d";
      for (const replica of [c, d]) expect((await call(replica, "GET", "/api/v1/instance/profile")).json.admin?.username).toBe(adminName);
      const secrets = await query<{ n: number }>(dsn, "SELECT count(*)::int AS n FROM system_setting WHERE name = 'BASIC'");
      expect(secrets[0]!.n).toBe(1);
      // A token from one verifies on the other: they read the same instance secret.
      const signIn = await call(c, "POST", "/api/v1/auth/signin", { body: { passwordCredentials: { username: "first-d", password: "pw" } } });
      expect((await call(d, "GET", "/api/v1/auth/me", { token: signIn.json.accessToken as string })).json.user?.username).toBe("first-d");
    } finally {
      await Promise.all([c.stop(), d.stop()]);
    }
  }, 180_000);
});
