/** Attachment binding (spec §6.9), managed images in content (§6.6) and shares (§6.13). */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { State } from "../../gen/memos/api/v1/common_pb.js";
import { Visibility } from "../../gen/memos/api/v1/memo_service_pb.js";
import { blobExists, newAttachment } from "./attachments-support.js";
import { anonymous, codeOf, errorOf, newMemo, newUser, startMemoApp, type MemoTestApp, type TestUser } from "./support.js";

let t: MemoTestApp;
let admin: TestUser;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  t = await startMemoApp();
  admin = await newUser(t.baseUrl, "admin");
  alice = await newUser(t.baseUrl, "alice");
  bob = await newUser(t.baseUrl, "bob");
}, 60_000);
afterAll(async () => {
  await t?.close();
});

const memoExists = async (id: string) =>
  (await t.app.database.db.selectFrom("memo").select("id").where("uid", "=", id).executeTakeFirst()) !== undefined;

describe("binding", () => {
  test("attachments keep the order given, on create and on set; removed ones are deleted with their bytes", async () => {
    const [a, b, c] = [await newAttachment(t, alice), await newAttachment(t, alice), await newAttachment(t, alice)];
    const memo = await newMemo(alice, { attachments: [{ name: b.name }, { name: a.name }] });
    expect(memo.attachments.map((x) => [x.name, x.memo])).toEqual([
      [b.name, memo.name],
      [a.name, memo.name],
    ]);
    const before = Number(memo.updateTime!.seconds);
    await new Promise((r) => setTimeout(r, 1100));
    await alice.memos.setMemoAttachments({ name: memo.name, attachments: [{ name: c.name }, { name: a.name }] });
    const listed = await alice.memos.listMemoAttachments({ name: memo.name });
    expect(listed.attachments.map((x) => x.name)).toEqual([c.name, a.name]);
    expect(listed.nextPageToken).toBe("");
    const reread = await alice.memos.getMemo({ name: memo.name });
    expect(reread.attachments.map((x) => x.name)).toEqual([c.name, a.name]);
    expect(Number(reread.updateTime!.seconds)).toBeGreaterThan(before);
    // b left the memo: its row and bytes are gone (spec §6.9 step 5).
    expect(await t.app.database.db.selectFrom("attachment").select("id").where("uid", "=", b.uid).executeTakeFirst()).toBeUndefined();
    expect([await blobExists(t, b.key), await blobExists(t, b.thumbnail)]).toEqual([false, false]);
    expect(await blobExists(t, a.key)).toBe(true);
  });

  test("someone else's, already bound or unknown attachments cannot be bound; nothing is created", async () => {
    const bobs = await newAttachment(t, bob);
    const mine = await newAttachment(t, alice);
    await newMemo(alice, { attachments: [{ name: mine.name }] });
    const cases: Array<[string, Code, string]> = [
      [bobs.name, Code.NotFound, `attachment not found: ${bobs.uid}`],
      [mine.name, Code.FailedPrecondition, `attachment ${mine.uid} is already bound to another memo`],
      ["attachments/no-such-file", Code.NotFound, "attachment not found: no-such-file"],
      ["files/x", Code.InvalidArgument, "invalid attachment name: files/x"],
    ];
    for (const [name, code, message] of cases) {
      const id = `bind-${Date.now()}-${code}`;
      const err = await errorOf(newMemo(alice, { memoId: id, attachments: [{ name }] }));
      expect([name, err.code, err.rawMessage]).toEqual([name, code, message]);
      expect(await memoExists(id)).toBe(false);
    }
    // Admins cannot move attachments between accounts either.
    const adminMemo = await newMemo(admin);
    const free = await newAttachment(t, alice);
    expect(await codeOf(admin.memos.setMemoAttachments({ name: adminMemo.name, attachments: [{ name: free.name }] }))).toBe(Code.NotFound);
  });

  test("set needs the creator or an admin; an attachment of another user cannot be removed", async () => {
    const a = await newAttachment(t, alice);
    const memo = await newMemo(alice, { attachments: [{ name: a.name }] });
    expect(await codeOf(bob.memos.setMemoAttachments({ name: memo.name, attachments: [] }))).toBe(Code.PermissionDenied);
    expect(await codeOf(alice.memos.setMemoAttachments({ name: "memos/no-such-memo", attachments: [] }))).toBe(Code.NotFound);
    await admin.memos.setMemoAttachments({ name: memo.name, attachments: [] });
    expect((await alice.memos.getMemo({ name: memo.name })).attachments).toEqual([]);

    const foreign = await newAttachment(t, bob);
    const ids = await t.app.database.db.selectFrom("memo").select("id").where("uid", "=", memo.name.slice(6)).executeTakeFirstOrThrow();
    await t.app.database.db.updateTable("attachment").set({ memo_id: ids.id }).where("uid", "=", foreign.uid).execute();
    const err = await errorOf(alice.memos.setMemoAttachments({ name: memo.name, attachments: [] }));
    expect([err.code, err.rawMessage]).toEqual([Code.FailedPrecondition, "cannot remove another user's attachment from this memo"]);
  });

  test("motion groups stay together and go whole", async () => {
    const group = (id: string) => JSON.stringify({ motionMedia: { family: "APPLE_LIVE_PHOTO", groupId: id } });
    const still = await newAttachment(t, alice, { type: "image/jpeg", payload: group("g1") });
    const video = await newAttachment(t, alice, { type: "video/quicktime", payload: group("g1") });
    const other = await newAttachment(t, alice);
    const memo = await newMemo(alice, { attachments: [{ name: still.name }, { name: other.name }, { name: video.name }] });
    expect(memo.attachments.map((a) => a.name)).toEqual([still.name, video.name, other.name]);
    // Naming only part of a group drops the whole group.
    await alice.memos.setMemoAttachments({ name: memo.name, attachments: [{ name: other.name }, { name: still.name }] });
    expect((await alice.memos.getMemo({ name: memo.name })).attachments.map((a) => a.name)).toEqual([other.name]);
  });
});

describe("managed images (spec §6.6)", () => {
  test("an embedded attachment must be bound: on create, on content update and on set", async () => {
    const image = await newAttachment(t, alice);
    const content = `Look ![p](/file/attachments/${image.uid})`;
    const id = `managed-${Date.now()}`;
    const err = await errorOf(newMemo(alice, { memoId: id, content }));
    expect([err.code, err.rawMessage]).toEqual([Code.FailedPrecondition, `managed image attachment ${image.uid} must be bound to the memo`]);
    expect(await memoExists(id)).toBe(false);

    const memo = await newMemo(alice, { content, attachments: [{ name: image.name }] });
    const set = await errorOf(alice.memos.setMemoAttachments({ name: memo.name, attachments: [] }));
    expect([set.code, set.rawMessage]).toEqual([Code.FailedPrecondition, `managed image attachment ${image.uid} must be bound to the memo`]);
    expect((await alice.memos.getMemo({ name: memo.name })).attachments.map((a) => a.name)).toEqual([image.name]);

    const other = await newAttachment(t, alice);
    const update = await errorOf(
      alice.memos.updateMemo({ memo: { name: memo.name, content: `![q](/file/attachments/${other.uid}/q.png)` }, updateMask: { paths: ["content"] } }),
    );
    expect(update.code).toBe(Code.FailedPrecondition);
    // Content and attachments changed together in one update pass.
    const both = await alice.memos.updateMemo({
      memo: { name: memo.name, content: `![q](/file/attachments/${other.uid}/q.png)`, attachments: [{ name: other.name }] },
      updateMask: { paths: ["content", "attachments"] },
    });
    expect(both.attachments.map((a) => a.name)).toEqual([other.name]);
  });

  test("bad managed references are invalid_argument", async () => {
    const pdf = await newAttachment(t, alice, { type: "application/pdf" });
    const cases: Array<[string, RegExp]> = [
      [`![x](/file/attachments/${pdf.uid})`, /is not an image/],
      ["![x](/file/attachments/a?b=1)", /^invalid managed attachment image URL/],
      [`<img src="/file/attachments/${pdf.uid}">`, /^invalid managed attachment image URL/],
      ["![x](https://elsewhere.example/file/attachments/abc)", /require a configured instance URL/],
    ];
    for (const [content, message] of cases) {
      const err = await errorOf(newMemo(alice, { content, attachments: [{ name: pdf.name }] }));
      expect([content, err.code, err.rawMessage]).toEqual([content, Code.InvalidArgument, expect.stringMatching(message)]);
    }
  });

  test("ListMemoAttachments follows the memo's read rules", async () => {
    const file = await newAttachment(t, alice);
    const memo = await newMemo(alice, { visibility: Visibility.PRIVATE, attachments: [{ name: file.name }] });
    expect(await codeOf(bob.memos.listMemoAttachments({ name: memo.name }))).toBe(Code.PermissionDenied);
    expect(await codeOf(admin.memos.listMemoAttachments({ name: memo.name }))).toBe(Code.PermissionDenied);
    expect(await codeOf(bob.memos.listMemoAttachments({ name: "memos/no-such-memo" }))).toBe(Code.NotFound);
  });
});

describe("shares (spec §6.13)", () => {
  test("create, list, read anonymously on a PRIVATE instance, delete", async () => {
    const file = await newAttachment(t, alice);
    const memo = await newMemo(alice, { visibility: Visibility.PRIVATE, content: "shared #x", attachments: [{ name: file.name }] });
    const comment = await alice.memos.createMemoComment({ name: memo.name, comment: { content: "c" } });
    const share = await alice.memos.createMemoShare({ parent: memo.name, memoShare: {} });
    expect(share.name).toMatch(new RegExp(`^${memo.name}/shares/[2-9A-HJ-NP-Za-km-z]{22}$`));
    expect(share.expireTime).toBeUndefined();
    const token = share.name.split("/")[3]!;
    expect((await alice.memos.listMemoShares({ parent: memo.name })).memoShares.map((s) => s.name)).toEqual([share.name]);

    const shared = await anonymous(t.baseUrl).memos.getSharedMemo({ shareToken: token });
    expect(shared).toMatchObject({ name: memo.name, content: "shared #x", attachments: [{ name: file.name }], relations: [] });
    expect(shared.parent).toBeUndefined();

    // The file server accepts the token for the shared memo's attachment.
    expect((await fetch(`${t.baseUrl}/file/attachments/${file.uid}`)).status).toBe(401);
    expect((await fetch(`${t.baseUrl}/file/attachments/${file.uid}?share_token=${token}`)).status).toBe(200);

    expect(await codeOf(bob.memos.deleteMemoShare({ name: share.name }))).toBe(Code.PermissionDenied);
    expect(await codeOf(alice.memos.deleteMemoShare({ name: `${comment.name}/shares/${token}` }))).toBe(Code.NotFound);
    await alice.memos.deleteMemoShare({ name: share.name });
    expect(await codeOf(anonymous(t.baseUrl).memos.getSharedMemo({ shareToken: token }))).toBe(Code.NotFound);
  });

  test("rules: creator or admin; no comments, no archived memos, no past expiry; expired and unknown tokens are not_found", async () => {
    const memo = await newMemo(alice, { visibility: Visibility.PUBLIC });
    const comment = await bob.memos.createMemoComment({ name: memo.name, comment: { content: "c" } });
    expect(await codeOf(bob.memos.createMemoShare({ parent: memo.name, memoShare: {} }))).toBe(Code.PermissionDenied);
    await expect(admin.memos.createMemoShare({ parent: memo.name, memoShare: {} })).resolves.toBeDefined();
    const onComment = await errorOf(bob.memos.createMemoShare({ parent: comment.name, memoShare: {} }));
    expect([onComment.code, onComment.rawMessage]).toEqual([Code.FailedPrecondition, "comments cannot be shared independently"]);
    const past = await errorOf(alice.memos.createMemoShare({ parent: memo.name, memoShare: { expireTime: timestampFromMs(Date.now() - 1000) } }));
    expect([past.code, past.rawMessage]).toEqual([Code.InvalidArgument, "expire_time must be in the future"]);

    const soon = await alice.memos.createMemoShare({ parent: memo.name, memoShare: { expireTime: timestampFromMs(Date.now() + 3_600_000) } });
    expect(Number(soon.expireTime!.seconds)).toBeGreaterThan(Date.now() / 1000);
    const token = soon.name.split("/")[3]!;
    await t.app.database.db.updateTable("memo_share").set({ expires_ts: Math.floor(Date.now() / 1000) - 1 }).where("uid", "=", token).execute();
    expect(await codeOf(anonymous(t.baseUrl).memos.getSharedMemo({ shareToken: token }))).toBe(Code.NotFound);
    expect(await codeOf(anonymous(t.baseUrl).memos.getSharedMemo({ shareToken: "unknown-token" }))).toBe(Code.NotFound);

    const live = await alice.memos.createMemoShare({ parent: memo.name, memoShare: {} });
    await alice.memos.updateMemo({ memo: { name: memo.name, state: State.ARCHIVED }, updateMask: { paths: ["state"] } });
    expect(await codeOf(anonymous(t.baseUrl).memos.getSharedMemo({ shareToken: live.name.split("/")[3]! }))).toBe(Code.NotFound);
    expect(await codeOf(alice.memos.createMemoShare({ parent: memo.name, memoShare: {} }))).toBe(Code.FailedPrecondition);
  });
});
