/**
 * AttachmentService end to end (spec §4): every RPC over binary Connect and REST, on the real app
 * (PGlite, local blob store), users signed up through the real RPCs.
 */
import { Code } from "@connectrpc/connect";
import sharp from "sharp";
import { Visibility } from "../../gen/memos/api/v1/memo_service_pb.js";
import type { Db } from "../../src/store/database.js";
import { signUpAndIn } from "../auth/support.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { codeOf, errorOf } from "../auth/support.js";
import { attachmentClients, attachmentCount, blobKeys, PIXEL_GIF, PIXEL_GIF_BASE64, rest, type AttachmentClients } from "./support.js";

let t: TestApp;
let db: Db;
type User = Awaited<ReturnType<typeof signUpAndIn>> & { c: AttachmentClients };
let admin: User;
let alice: User;
let bob: User;

async function user(): Promise<User> {
  const u = await signUpAndIn(t.baseUrl);
  return { ...u, c: attachmentClients(t.baseUrl, u.accessToken) };
}

beforeAll(async () => {
  t = await startTestApp();
  try {
    db = t.app.database.db;
    admin = await user();
    alice = await user();
    bob = await user();
  } catch (err) {
    await t.close();
    throw err;
  }
});

afterAll(async () => {
  await t?.close();
});

const text = (s: string) => new TextEncoder().encode(s);

describe("CreateAttachment (spec §4.3)", () => {
  test("REST example exchange of §9: pixel.gif -> size 42", async () => {
    const res = await rest(t.baseUrl, "POST", "/api/v1/attachments?attachmentId=pixel", {
      token: alice.accessToken,
      body: { filename: "pixel.gif", type: "image/gif", content: PIXEL_GIF_BASE64 },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ name: "attachments/pixel", filename: "pixel.gif", content: "", externalLink: "", type: "image/gif", size: "42" });
    expect(res.json.memo).toBeUndefined();
    expect(res.json.mediaMetadata).toEqual({ width: 1, height: 1 });
    const file = await fetch(`${t.baseUrl}/file/attachments/pixel/pixel.gif`, { headers: { authorization: `Bearer ${alice.accessToken}` } });
    expect(file.status).toBe(200);
    expect(Buffer.from(await file.arrayBuffer()).equals(PIXEL_GIF)).toBe(true);
    const row = await db.selectFrom("attachment").selectAll().where("uid", "=", "pixel").executeTakeFirstOrThrow();
    expect(row.storage_type).toBe("LOCAL");
    expect(row.reference).toMatch(/^assets\/\d+_[0-9a-f-]{36}_pixel\.gif$/);
    expect(row.blob).toBeNull();
  });

  test("duplicate attachment id -> 409 already_exists; no orphan blob", async () => {
    const before = await blobKeys(t.app.blobs);
    const res = await rest(t.baseUrl, "POST", "/api/v1/attachments?attachmentId=pixel", {
      token: alice.accessToken,
      body: { filename: "p.gif", content: PIXEL_GIF_BASE64 },
    });
    expect(res.status).toBe(409);
    expect(res.json.code).toBe(Code.AlreadyExists);
    expect(await blobKeys(t.app.blobs)).toEqual(before);
  });

  test("web app flow F: inline bytes over binary Connect, then CreateMemo naming it", async () => {
    const a = await alice.c.attachments.createAttachment({ attachment: { filename: "note.txt", type: "text/plain", content: text("hello") } });
    expect(a.name).toMatch(/^attachments\/[A-Za-z0-9]{22}$/);
    expect(a.size).toBe(5n);
    expect(a.content.length).toBe(0);
    const memo = await alice.c.memos.createMemo({ memo: { content: "with file", visibility: Visibility.PRIVATE, attachments: [{ name: a.name }] } });
    expect(memo.attachments.map((x) => x.name)).toEqual([a.name]);
    const got = await alice.c.attachments.getAttachment({ name: a.name });
    expect(got.memo).toBe(memo.name);
  });

  test("filename rules: empty, path traversal, separators, control chars, dots and spaces", async () => {
    expect((await errorOf(alice.c.attachments.createAttachment({ attachment: { filename: "", content: text("x") } }))).rawMessage).toBe("filename is required");
    for (const filename of ["../etc/passwd", "..", "a/b", "a\\b", ".hidden", "name.", " x", "x ", "nul\0.txt"]) {
      const err = await errorOf(alice.c.attachments.createAttachment({ attachment: { filename, content: text("x") } }));
      expect([filename, err.code, err.rawMessage]).toEqual([filename, Code.InvalidArgument, "filename contains invalid characters or format"]);
    }
    // Control characters other than NUL are allowed (as upstream) but never reach a blob key raw.
    const ok = await alice.c.attachments.createAttachment({ attachment: { filename: "tab\there\u0001.txt", content: text("x") } });
    const row = await db.selectFrom("attachment").select("reference").where("uid", "=", ok.name.slice(12)).executeTakeFirstOrThrow();
    expect(row.reference).not.toMatch(/[\u0000-\u001f]/);
    expect(ok.filename).toBe("tab\there\u0001.txt");
  });

  test("missing attachment, unauthenticated", async () => {
    expect(await codeOf(alice.c.attachments.createAttachment({}))).toBe(Code.InvalidArgument);
    expect(await codeOf(attachmentClients(t.baseUrl).attachments.createAttachment({ attachment: { filename: "a.txt" } }))).toBe(Code.Unauthenticated);
  });

  test("MIME: normalised, guessed from the extension, sniffed, malformed", async () => {
    const c = alice.c.attachments;
    expect((await c.createAttachment({ attachment: { filename: "a.webm", type: "audio/webm;codecs=opus", content: text("x") } })).type).toBe("audio/webm");
    expect((await c.createAttachment({ attachment: { filename: "a.bin", type: "IMAGE/PNG", content: text("x") } })).type).toBe("image/png");
    expect((await c.createAttachment({ attachment: { filename: "a.pdf", content: text("x") } })).type).toBe("application/pdf");
    const png = await sharp({ create: { width: 3, height: 2, channels: 3, background: "red" } }).png().toBuffer();
    expect((await c.createAttachment({ attachment: { filename: "noext", content: png } })).type).toBe("image/png");
    expect((await c.createAttachment({ attachment: { filename: "readme", content: text("plain words") } })).type).toBe("text/plain");
    expect((await c.createAttachment({ attachment: { filename: "blob", content: new Uint8Array([0, 1, 2, 3, 0xff]) } })).type).toBe("application/octet-stream");
    const err = await errorOf(c.createAttachment({ attachment: { filename: "a.txt", type: 'text/plain; x="unterminated', content: text("x") } }));
    expect([err.code, err.rawMessage]).toEqual([Code.InvalidArgument, "invalid MIME type format"]);
  });

  test("a MIME type that lies about the bytes is stored as declared and served inert", async () => {
    const html = text("<html><script>alert(1)</script></html>");
    const a = await alice.c.attachments.createAttachment({ attachment: { filename: "x.png", type: "text/html", content: html } });
    expect(a.type).toBe("text/html");
    const res = await fetch(`${t.baseUrl}/file/attachments/${a.name.slice(12)}`, { headers: { authorization: `Bearer ${alice.accessToken}` } });
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(res.headers.get("content-disposition")).toMatch(/^attachment/);
    // A "PNG" that is not one: stripping fails softly and the bytes are kept.
    const fake = await alice.c.attachments.createAttachment({ attachment: { filename: "fake.jpg", type: "image/jpeg", content: text("not a jpeg") } });
    expect(fake.size).toBe(10n);
    expect(fake.mediaMetadata).toBeUndefined();
  });

  test("empty file is stored with size 0", async () => {
    const a = await alice.c.attachments.createAttachment({ attachment: { filename: "empty.txt", content: new Uint8Array() } });
    expect(a.size).toBe(0n);
    const res = await fetch(`${t.baseUrl}/file/attachments/${a.name.slice(12)}`, { headers: { authorization: `Bearer ${alice.accessToken}` } });
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  test("decompression bomb header (30000x30000) is stored undecoded, dimensions from the header", async () => {
    // A PNG header claiming 30000x30000 over a few bytes of data.
    const small = await sharp({ create: { width: 1, height: 1, channels: 3, background: "blue" } }).png().toBuffer();
    const bomb = Buffer.from(small);
    bomb.writeUInt32BE(30000, 16);
    bomb.writeUInt32BE(30000, 20);
    const a = await alice.c.attachments.createAttachment({ attachment: { filename: "bomb.png", content: bomb } });
    expect(a.type).toBe("image/png");
    expect(a.size).toBeGreaterThan(0n);
    const jpegBomb = await sharp({ create: { width: 8, height: 8, channels: 3, background: "green" } }).jpeg().withMetadata({ exif: { IFD0: { Make: "Spy" } } }).toBuffer();
    // SOF0 height/width of the JPEG: patch them to 30000.
    const sof = jpegBomb.indexOf(Buffer.from([0xff, 0xc0]));
    jpegBomb.writeUInt16BE(30000, sof + 5);
    jpegBomb.writeUInt16BE(30000, sof + 7);
    const j = await alice.c.attachments.createAttachment({ attachment: { filename: "bomb.jpg", content: jpegBomb } });
    expect(j.size).toBe(BigInt(jpegBomb.length)); // not stripped: too many pixels
    // The server is still fine.
    expect((await alice.c.attachments.getAttachment({ name: j.name })).name).toBe(j.name);
  });

  test("EXIF is stripped from JPEG uploads; width/height filled", async () => {
    const jpeg = await sharp({ create: { width: 40, height: 20, channels: 3, background: "white" } })
      .jpeg()
      .withMetadata({ exif: { IFD0: { Make: "SecretCam", Model: "GPS-Leaker" } } })
      .toBuffer();
    expect(jpeg.includes("SecretCam")).toBe(true);
    const a = await alice.c.attachments.createAttachment({ attachment: { filename: "photo.jpg", content: jpeg } });
    expect(a.type).toBe("image/jpeg");
    expect(a.mediaMetadata?.width).toBe(40);
    expect(a.mediaMetadata?.height).toBe(20);
    const res = await fetch(`${t.baseUrl}/file/attachments/${a.name.slice(12)}`, { headers: { authorization: `Bearer ${alice.accessToken}` } });
    const stored = Buffer.from(await res.arrayBuffer());
    expect(stored.includes("SecretCam")).toBe(false);
    expect(BigInt(stored.length)).toBe(a.size);
  });

  test("SVG with a script is stored and served inert (CSP, nosniff)", async () => {
    const svg = text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>');
    const a = await alice.c.attachments.createAttachment({ attachment: { filename: "evil.svg", content: svg } });
    expect(a.type).toBe("image/svg+xml");
    const res = await fetch(`${t.baseUrl}/file/attachments/${a.name.slice(12)}`, { headers: { authorization: `Bearer ${alice.accessToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });

  test("size limit from the STORAGE setting", async () => {
    await rest(t.baseUrl, "PATCH", "/api/v1/instance/settings/STORAGE?updateMask=storage_setting", {
      token: admin.accessToken,
      body: { name: "instance/settings/STORAGE", storageSetting: { uploadSizeLimitMb: "1", storageType: "LOCAL" } },
    });
    try {
      const before = await blobKeys(t.app.blobs);
      const err = await errorOf(alice.c.attachments.createAttachment({ attachment: { filename: "big.bin", content: new Uint8Array(1024 * 1024 + 1) } }));
      expect([err.code, err.rawMessage]).toEqual([Code.InvalidArgument, "file size exceeds the limit"]);
      expect(await blobKeys(t.app.blobs)).toEqual(before);
      expect((await alice.c.attachments.createAttachment({ attachment: { filename: "ok.bin", content: new Uint8Array(1024 * 1024) } })).size).toBe(1048576n);
    } finally {
      await db.deleteFrom("system_setting").where("name", "=", "STORAGE").execute();
    }
  });

  test("invalid base64 over REST -> 400", async () => {
    const res = await rest(t.baseUrl, "POST", "/api/v1/attachments", { token: alice.accessToken, body: { filename: "a.txt", content: "!!!not base64!!!" } });
    expect(res.status).toBe(400);
    expect(res.json.code).toBe(Code.InvalidArgument);
  });

  test("attachment_id rules", async () => {
    expect(await codeOf(alice.c.attachments.createAttachment({ attachmentId: "-bad", attachment: { filename: "a.txt" } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(alice.c.attachments.createAttachment({ attachmentId: "x".repeat(37), attachment: { filename: "a.txt" } }))).toBe(Code.InvalidArgument);
    expect((await alice.c.attachments.createAttachment({ attachmentId: " trimmed-id ", attachment: { filename: "a.txt" } })).name).toBe("attachments/trimmed-id");
  });

  test("motion media and media metadata validation", async () => {
    const c = alice.c.attachments;
    expect(await codeOf(c.createAttachment({ attachment: { filename: "a.jpg", motionMedia: { family: 2, role: 3, groupId: "g" } } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(c.createAttachment({ attachment: { filename: "a.jpg", motionMedia: { family: 1, role: 3, groupId: "g" } } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(c.createAttachment({ attachment: { filename: "a.jpg", motionMedia: { family: 1, role: 1, groupId: "" } } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(c.createAttachment({ attachment: { filename: "a.txt", mediaMetadata: { width: 1, height: 1 } } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(c.createAttachment({ attachment: { filename: "a.png", mediaMetadata: { width: 1 } } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(c.createAttachment({ attachment: { filename: "a.png", mediaMetadata: {} } }))).toBe(Code.InvalidArgument);
    const m = await c.createAttachment({
      attachment: {
        filename: "live.jpg",
        motionMedia: { family: 1, role: 1, groupId: "grp-1", presentationTimestampUs: 1500000n },
        mediaMetadata: { width: 4, height: 3, details: { case: "photo", value: { cameraMake: "Apple", iso: 100 } } },
      },
    });
    expect(m.motionMedia?.groupId).toBe("grp-1");
    expect(m.mediaMetadata?.width).toBe(4);
    expect(m.mediaMetadata?.details.case).toBe("photo");
  });

  test("memo link at creation: own memo ok, others' denied (admins too), unknown 404", async () => {
    const memo = await alice.c.memos.createMemo({ memo: { content: "m", visibility: Visibility.PRIVATE } });
    const a = await alice.c.attachments.createAttachment({ attachment: { filename: "a.txt", memo: memo.name } });
    expect(a.memo).toBe(memo.name);
    expect(await codeOf(bob.c.attachments.createAttachment({ attachment: { filename: "a.txt", memo: memo.name } }))).toBe(Code.PermissionDenied);
    const err = await errorOf(admin.c.attachments.createAttachment({ attachment: { filename: "a.txt", memo: memo.name } }));
    expect([err.code, err.rawMessage]).toEqual([Code.PermissionDenied, "attachments linked at creation must be owned by the memo creator"]);
    expect(await codeOf(alice.c.attachments.createAttachment({ attachment: { filename: "a.txt", memo: "memos/nope" } }))).toBe(Code.NotFound);
    expect(await codeOf(alice.c.attachments.createAttachment({ attachment: { filename: "a.txt", memo: "bad" } }))).toBe(Code.InvalidArgument);
  });

  test("blob-then-row: a failing row insert leaves no orphan blob", async () => {
    await db.schema.alterTable("attachment").addCheckConstraint("test_no_boom", (await import("kysely")).sql`filename <> 'boom.txt'`).execute();
    try {
      const keys = await blobKeys(t.app.blobs);
      const rows = await attachmentCount(db);
      expect(await codeOf(alice.c.attachments.createAttachment({ attachment: { filename: "boom.txt", content: text("boom") } }))).toBe(Code.Internal);
      expect(await blobKeys(t.app.blobs)).toEqual(keys);
      expect(await attachmentCount(db)).toBe(rows);
    } finally {
      await db.schema.alterTable("attachment").dropConstraint("test_no_boom").execute();
    }
  });

  test("concurrent creates with one id: one wins, the other 409, no orphan blob", async () => {
    const keys = await blobKeys(t.app.blobs);
    const results = await Promise.allSettled(
      [1, 2, 3].map((i) => alice.c.attachments.createAttachment({ attachmentId: "race-id", attachment: { filename: `r${i}.txt`, content: text(`r${i}`) } })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect((await blobKeys(t.app.blobs)).length).toBe(keys.length + 1);
  });
});

describe("GetAttachment / ListAttachments / UpdateAttachment (spec §4.4-4.6)", () => {
  test("read rules: unlinked = creator or admin; anonymous 401; linked follows the memo", async () => {
    const a = await alice.c.attachments.createAttachment({ attachment: { filename: "g.txt", content: text("g") } });
    expect((await alice.c.attachments.getAttachment({ name: a.name })).filename).toBe("g.txt");
    expect((await admin.c.attachments.getAttachment({ name: a.name })).filename).toBe("g.txt");
    expect(await codeOf(bob.c.attachments.getAttachment({ name: a.name }))).toBe(Code.PermissionDenied);
    expect(await codeOf(attachmentClients(t.baseUrl).attachments.getAttachment({ name: a.name }))).toBe(Code.Unauthenticated);
    expect(await codeOf(alice.c.attachments.getAttachment({ name: "attachments/nope" }))).toBe(Code.NotFound);
    expect(await codeOf(alice.c.attachments.getAttachment({ name: "bad/x" }))).toBe(Code.InvalidArgument);
    const pub = await alice.c.memos.createMemo({ memo: { content: "p", visibility: Visibility.PROTECTED, attachments: [{ name: a.name }] } });
    expect((await bob.c.attachments.getAttachment({ name: a.name })).memo).toBe(pub.name);
    const rest404 = await rest(t.baseUrl, "GET", "/api/v1/attachments/nope", { token: alice.accessToken });
    expect(rest404.status).toBe(404);
    const restGet = await rest(t.baseUrl, "GET", `/api/v1/${a.name}`, { token: bob.accessToken });
    expect(restGet.status).toBe(200);
    expect(restGet.json.memo).toBe(pub.name);
  });

  test("list: own only, updated_ts desc, decimal offset tokens, filter", async () => {
    const carol = await user();
    for (let i = 0; i < 3; i++) await carol.c.attachments.createAttachment({ attachment: { filename: `f${i}.txt`, content: text(String(i)) } });
    await carol.c.attachments.createAttachment({ attachment: { filename: "pic.gif", content: PIXEL_GIF } });
    await db.updateTable("attachment").set({ updated_ts: 1000 }).where("filename", "=", "f0.txt").where("creator_id", "=", carol.userId).execute();
    const page1 = await carol.c.attachments.listAttachments({ pageSize: 2 });
    expect(page1.attachments).toHaveLength(2);
    expect(page1.nextPageToken).toBe("2");
    const page2 = await carol.c.attachments.listAttachments({ pageSize: 2, pageToken: "2" });
    expect(page2.attachments.map((a) => a.filename).at(-1)).toBe("f0.txt");
    expect(page2.nextPageToken).toBe("4");
    expect((await carol.c.attachments.listAttachments({ pageSize: 2, pageToken: "4" })).attachments).toHaveLength(0);
    expect(await codeOf(carol.c.attachments.listAttachments({ pageToken: "abc" }))).toBe(Code.InvalidArgument);
    const filtered = await carol.c.attachments.listAttachments({ filter: 'filename.startsWith("f") && memo_id == null' });
    expect(filtered.attachments.map((a) => a.filename).sort()).toEqual(["f0.txt", "f1.txt", "f2.txt"]);
    expect((await carol.c.attachments.listAttachments({ filter: 'mime_type == "image/gif"' })).attachments).toHaveLength(1);
    const bad = await errorOf(carol.c.attachments.listAttachments({ filter: "nope ==" }));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.rawMessage).toMatch(/^invalid filter: /);
    const restList = await rest(t.baseUrl, "GET", "/api/v1/attachments?pageSize=3", { token: carol.accessToken });
    expect(restList.status).toBe(200);
    expect((restList.json.attachments as unknown[]).length).toBe(3);
    expect(restList.json.nextPageToken).toBe("3");
    expect((await attachmentClients(t.baseUrl, admin.accessToken).attachments.listAttachments({})).attachments.every((a) => a.name !== "")).toBe(true);
  });

  test("update: mask required, filename only, creator or admin", async () => {
    const a = await alice.c.attachments.createAttachment({ attachment: { filename: "old.txt", content: text("u") } });
    expect(await codeOf(alice.c.attachments.updateAttachment({ attachment: { name: a.name, filename: "new.txt" } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(alice.c.attachments.updateAttachment({ attachment: { name: a.name, filename: "../x" }, updateMask: { paths: ["filename"] } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(bob.c.attachments.updateAttachment({ attachment: { name: a.name, filename: "b.txt" }, updateMask: { paths: ["filename"] } }))).toBe(Code.PermissionDenied);
    const u = await alice.c.attachments.updateAttachment({ attachment: { name: a.name, filename: "new.txt", type: "x/y" }, updateMask: { paths: ["filename", "type"] } });
    expect([u.filename, u.type]).toEqual(["new.txt", "text/plain"]);
    const viaRest = await rest(t.baseUrl, "PATCH", `/api/v1/${a.name}?updateMask=filename`, { token: admin.accessToken, body: { filename: "admin.txt" } });
    expect(viaRest.status).toBe(200);
    expect(viaRest.json.filename).toBe("admin.txt");
  });
});

describe("DeleteAttachment / BatchDeleteAttachments (spec §4.7)", () => {
  const keyOf = async (uid: string) => (await db.selectFrom("attachment").select("reference").where("uid", "=", uid).executeTakeFirstOrThrow()).reference;

  test("delete removes blob, derived blobs and row; others get 404 (admins too)", async () => {
    const a = await alice.c.attachments.createAttachment({ attachment: { filename: "d.txt", content: text("d") } });
    const uid = a.name.slice(12);
    const key = await keyOf(uid);
    await t.app.blobs.put(`derived/${uid}/1.thumbnail.v1.jpeg`, text("thumb"));
    expect(await codeOf(bob.c.attachments.deleteAttachment({ name: a.name }))).toBe(Code.NotFound);
    expect(await codeOf(admin.c.attachments.deleteAttachment({ name: a.name }))).toBe(Code.NotFound);
    await alice.c.attachments.deleteAttachment({ name: a.name });
    expect(await t.app.blobs.stat(key)).toBeUndefined();
    expect(await t.app.blobs.stat(`derived/${uid}/1.thumbnail.v1.jpeg`)).toBeUndefined();
    expect(await codeOf(alice.c.attachments.getAttachment({ name: a.name }))).toBe(Code.NotFound);
    const viaRest = await alice.c.attachments.createAttachment({ attachment: { filename: "r.txt", content: text("r") } });
    expect((await rest(t.baseUrl, "DELETE", `/api/v1/${viaRest.name}`, { token: alice.accessToken })).status).toBe(200);
  });

  test("a managed image reference in memo content pins the attachment", async () => {
    const a = await alice.c.attachments.createAttachment({ attachment: { filename: "pin.gif", content: PIXEL_GIF } });
    const uid = a.name.slice(12);
    await alice.c.memos.createMemo({ memo: { content: `![x](/file/attachments/${uid})`, visibility: Visibility.PRIVATE, attachments: [{ name: a.name }] } });
    const err = await errorOf(alice.c.attachments.deleteAttachment({ name: a.name }));
    expect([err.code, err.rawMessage]).toEqual([Code.FailedPrecondition, `attachment ${uid} is referenced by memo content`]);
    // Linked but unreferenced: deleted (detached first).
    const b = await alice.c.attachments.createAttachment({ attachment: { filename: "free.txt", content: text("f") } });
    await alice.c.memos.createMemo({ memo: { content: "plain", visibility: Visibility.PRIVATE, attachments: [{ name: b.name }] } });
    await alice.c.attachments.deleteAttachment({ name: b.name });
  });

  test("motion groups must be deleted together", async () => {
    const still = await alice.c.attachments.createAttachment({ attachment: { filename: "s.jpg", motionMedia: { family: 1, role: 1, groupId: "live-1" } } });
    const video = await alice.c.attachments.createAttachment({ attachment: { filename: "v.mov", motionMedia: { family: 1, role: 2, groupId: "live-1" } } });
    expect(await codeOf(alice.c.attachments.deleteAttachment({ name: still.name }))).toBe(Code.FailedPrecondition);
    await alice.c.attachments.batchDeleteAttachments({ names: [still.name, video.name, still.name] });
    expect(await codeOf(alice.c.attachments.getAttachment({ name: video.name }))).toBe(Code.NotFound);
  });

  test("batch: validation, 403 for others, admins allowed, all-or-nothing", async () => {
    const mine = await alice.c.attachments.createAttachment({ attachment: { filename: "m.txt", content: text("m") } });
    const bobs = await bob.c.attachments.createAttachment({ attachment: { filename: "b.txt", content: text("b") } });
    expect(await codeOf(alice.c.attachments.batchDeleteAttachments({ names: [] }))).toBe(Code.InvalidArgument);
    expect(await codeOf(alice.c.attachments.batchDeleteAttachments({ names: Array.from({ length: 101 }, (_, i) => `attachments/x${i}`) }))).toBe(Code.InvalidArgument);
    expect(await codeOf(alice.c.attachments.batchDeleteAttachments({ names: [""] }))).toBe(Code.InvalidArgument);
    expect(await codeOf(alice.c.attachments.batchDeleteAttachments({ names: ["nope/x"] }))).toBe(Code.InvalidArgument);
    expect(await codeOf(alice.c.attachments.batchDeleteAttachments({ names: [mine.name, "attachments/missing"] }))).toBe(Code.NotFound);
    expect(await codeOf(alice.c.attachments.batchDeleteAttachments({ names: [mine.name, bobs.name] }))).toBe(Code.PermissionDenied);
    expect((await alice.c.attachments.getAttachment({ name: mine.name })).name).toBe(mine.name);
    const res = await rest(t.baseUrl, "POST", "/api/v1/attachments:batchDelete", { token: admin.accessToken, body: { names: [mine.name, bobs.name] } });
    expect(res.status).toBe(200);
    expect(await codeOf(bob.c.attachments.getAttachment({ name: bobs.name }))).toBe(Code.NotFound);
  });
});
