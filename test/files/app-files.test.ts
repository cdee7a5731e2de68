/**
 * The file route as the real app serves it: composition root, PGlite, local blobs, the real
 * identity resolver (tokens from REST sign-in) and the §5.2 rules over real rows.
 */
import { connect, type ClientHttp2Session } from "node:http2";
import sharp from "sharp";
import { ACCESS_SETTING, formatAccessMode } from "../../src/auth/access-mode-store.js";
import { createAttachmentRepository, type AttachmentRepository } from "../../src/store/attachment-repository.js";
import type { Db } from "../../src/store/database.js";
import { createSystemSettingRepository } from "../../src/store/system-setting-repository.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { insertComment, insertMemo, newAttachment } from "./factories.js";

let t: TestApp;
let db: Db;
let repo: AttachmentRepository;
const users: Record<"admin" | "alice" | "bob", { id: number; token: string }> = {} as never;

async function json(path: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const res = await fetch(t.baseUrl + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
  });
  const parsed = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(parsed)}`);
  return parsed;
}

async function signUp(username: string, adminToken?: string): Promise<{ id: number; token: string }> {
  await json("/api/v1/users", { username, password: "secret-password" }, adminToken);
  const signIn = await json("/api/v1/auth/signin", { passwordCredentials: { username, password: "secret-password" } });
  const row = await db.selectFrom("user").select("id").where("username", "=", username).executeTakeFirstOrThrow();
  return { id: row.id, token: signIn.accessToken as string };
}

async function setInstancePublic(isPublic: boolean): Promise<void> {
  await createSystemSettingRepository(db).upsert(ACCESS_SETTING, formatAccessMode(isPublic ? "PUBLIC" : "PRIVATE"));
}

/** Stores `bytes` in the app's blob store and inserts a LOCAL attachment row for them. */
async function attachment(creatorId: number, bytes: Buffer | string, over: Parameters<typeof newAttachment>[1] = {}): Promise<string> {
  const row = newAttachment(creatorId, over);
  const key = `assets/${row.uid}`;
  const data = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
  await t.app.blobs.put(key, data);
  await repo.insert({ ...row, reference: key, size: data.length });
  return row.uid;
}

async function fetchFile(path: string, token?: string, headers: Record<string, string> = {}) {
  return fetch(t.baseUrl + path, { headers: { ...headers, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) } });
}

beforeAll(async () => {
  t = await startTestApp();
  try {
    db = t.app.database.db;
    repo = createAttachmentRepository(db);
    users.admin = await signUp("admin");
    users.alice = await signUp("alice", users.admin.token);
    users.bob = await signUp("bob", users.admin.token);
  } catch (err) {
    await t.close();
    throw err;
  }
});

afterAll(async () => {
  await t?.close();
});

describe("file route in the app (spec §5.2)", () => {
  test("unlinked: anonymous 401, another user 403, the creator and admins get it privately", async () => {
    const uid = await attachment(users.alice.id, "alice's bytes", { type: "text/plain", filename: "a.txt" });
    expect((await fetchFile(`/file/attachments/${uid}`)).status).toBe(401);
    expect((await fetchFile(`/file/attachments/${uid}`, users.bob.token)).status).toBe(403);
    const own = await fetchFile(`/file/attachments/${uid}/a.txt`, users.alice.token);
    expect(own.status).toBe(200);
    expect(await own.text()).toBe("alice's bytes");
    expect(own.headers.get("cache-control")).toBe("private, no-store");
    expect(own.headers.get("content-disposition")).toBe('attachment; filename="a.txt"');
    expect((await fetchFile(`/file/attachments/${uid}`, users.admin.token)).status).toBe(200);
    // An invalid token is anonymous, not an error.
    expect((await fetchFile(`/file/attachments/${uid}`, "garbage")).status).toBe(401);
  });

  test("public memo: anonymous on a public instance with public caching; signed-in only on a private one", async () => {
    const memo = await insertMemo(db, users.alice.id, "PUBLIC");
    const uid = await attachment(users.alice.id, "public bytes", { memo_id: memo.id, type: "image/png" });
    await setInstancePublic(false);
    expect((await fetchFile(`/file/attachments/${uid}`)).status).toBe(401);
    const signedIn = await fetchFile(`/file/attachments/${uid}`, users.bob.token);
    expect([signedIn.status, signedIn.headers.get("cache-control")]).toEqual([200, "private, no-store"]);
    await setInstancePublic(true);
    try {
      const anonymous = await fetchFile(`/file/attachments/${uid}`);
      expect([anonymous.status, anonymous.headers.get("cache-control")]).toEqual([200, "public, no-cache"]);
      expect((await fetchFile(`/file/attachments/${uid}`, "stale-token")).status).toBe(200);
    } finally {
      await setInstancePublic(false);
    }
  });

  test("private memo: creator only, admins included in the refusal; protected: any signed-in user", async () => {
    const priv = await attachment(users.alice.id, "x", { memo_id: (await insertMemo(db, users.alice.id, "PRIVATE")).id });
    expect((await fetchFile(`/file/attachments/${priv}`, users.alice.token)).status).toBe(200);
    expect((await fetchFile(`/file/attachments/${priv}`, users.bob.token)).status).toBe(403);
    expect((await fetchFile(`/file/attachments/${priv}`, users.admin.token)).status).toBe(403);
    const prot = await attachment(users.alice.id, "x", { memo_id: (await insertMemo(db, users.alice.id, "PROTECTED")).id });
    expect((await fetchFile(`/file/attachments/${prot}`, users.bob.token)).status).toBe(200);
    expect((await fetchFile(`/file/attachments/${prot}`)).status).toBe(401);
  });

  test("archived memo, comment under a private parent, missing memo", async () => {
    const archived = await attachment(users.alice.id, "x", { memo_id: (await insertMemo(db, users.alice.id, "PROTECTED", "ARCHIVED")).id });
    expect((await fetchFile(`/file/attachments/${archived}`, users.alice.token)).status).toBe(200);
    expect((await fetchFile(`/file/attachments/${archived}`, users.bob.token)).status).toBe(404);
    const parent = await insertMemo(db, users.alice.id, "PRIVATE");
    const comment = await insertComment(db, users.bob.id, parent.id, "PUBLIC");
    const onComment = await attachment(users.bob.id, "x", { memo_id: comment.id });
    expect((await fetchFile(`/file/attachments/${onComment}`, users.bob.token)).status).toBe(403);
    expect((await fetchFile(`/file/attachments/${onComment}`, users.alice.token)).status).toBe(200);
    const orphan = await attachment(users.alice.id, "x", { memo_id: 987_654 });
    expect((await fetchFile(`/file/attachments/${orphan}`, users.alice.token)).status).toBe(404);
  });

  test("share tokens open exactly the shared memo while unexpired", async () => {
    const memo = await insertMemo(db, users.alice.id, "PRIVATE");
    const uid = await attachment(users.alice.id, "shared", { memo_id: memo.id });
    const now = Math.floor(Date.now() / 1000);
    await db
      .insertInto("memo_share")
      .values([
        { uid: `live-${uid}`, memo_id: memo.id, creator_id: users.alice.id, expires_ts: now + 3600 },
        { uid: `dead-${uid}`, memo_id: memo.id, creator_id: users.alice.id, expires_ts: now - 1 },
      ])
      .execute();
    const shared = await fetchFile(`/file/attachments/${uid}?share_token=live-${uid}`);
    expect([shared.status, await shared.text(), shared.headers.get("cache-control")]).toEqual([200, "shared", "private, no-store"]);
    expect((await fetchFile(`/file/attachments/${uid}?share_token=dead-${uid}`)).status).toBe(401);
    const other = await attachment(users.alice.id, "x", { memo_id: (await insertMemo(db, users.alice.id, "PRIVATE")).id });
    expect((await fetchFile(`/file/attachments/${other}?share_token=live-${uid}`)).status).toBe(401);
  });

  test("database-stored bytes, ranges and a thumbnail through the app", async () => {
    const row = newAttachment(users.alice.id, { storage_type: "", reference: "", blob: Buffer.from("0123456789"), type: "text/plain", size: 10 });
    await repo.insert(row);
    const part = await fetchFile(`/file/attachments/${row.uid}`, users.alice.token, { range: "bytes=3-5" });
    expect([part.status, await part.text()]).toEqual([206, "345"]);

    const png = await sharp({ create: { width: 1000, height: 500, channels: 3, background: "#abc" } }).png().toBuffer();
    const uid = await attachment(users.alice.id, png, { type: "image/png" });
    const thumb = await fetchFile(`/file/attachments/${uid}?thumbnail=true`, users.alice.token);
    expect(thumb.headers.get("content-type")).toBe("image/jpeg");
    const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([600, 300]);
  });

  test("over HTTP/2 (h2c) on the same port: ranges, and a stream reset mid-download leaves the server serving", async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    const uid = await attachment(users.alice.id, big, { type: "video/mp4" });
    const session: ClientHttp2Session = connect(t.baseUrl);
    try {
      const get = (headers: Record<string, string>) =>
        new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
          const stream = session.request({ ":path": `/file/attachments/${uid}`, authorization: `Bearer ${users.alice.token}`, ...headers });
          const chunks: Buffer[] = [];
          let head: Record<string, unknown> = {};
          stream.on("response", (h) => (head = h));
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("end", () => resolve({ status: Number(head[":status"]), headers: head, body: Buffer.concat(chunks) }));
          stream.on("error", reject);
        });
      const part = await get({ range: "bytes=-5" });
      expect([part.status, part.headers["content-range"], part.body.length]).toEqual([206, `bytes ${big.length - 5}-${big.length - 1}/${big.length}`, 5]);
      await new Promise<void>((resolve) => {
        const stream = session.request({ ":path": `/file/attachments/${uid}`, authorization: `Bearer ${users.alice.token}` });
        stream.once("data", () => {
          stream.close();
          resolve();
        });
        stream.on("error", () => {});
      });
      const whole = await get({});
      expect([whole.status, whole.body.length]).toEqual([200, big.length]);
    } finally {
      session.close();
    }
  });

  test("unknown UIDs and odd paths are 404; the rest of the server is untouched", async () => {
    expect((await fetchFile("/file/attachments/nope", users.alice.token)).status).toBe(404);
    expect((await fetchFile("/file/attachments/..%2F..%2Fpglite", users.alice.token)).status).toBe(404);
    expect((await fetch(t.baseUrl + "/healthz")).status).toBe(200);
    expect((await fetch(t.baseUrl + "/api/v1/instance/profile")).status).toBe(200);
  });
});
