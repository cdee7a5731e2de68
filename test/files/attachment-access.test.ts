import {
  decideAttachmentFileAccess,
  type AttachmentFileAccessQuery,
  type LinkedMemoFacts,
  memoReadDecision,
  type Viewer,
} from "../../src/domain/attachment-access.js";

const alice: Viewer = { userId: 1, role: "USER" };
const bob: Viewer = { userId: 2, role: "USER" };
const admin: Viewer = { userId: 3, role: "ADMIN" };

const memo = (visibility: string, over: Partial<LinkedMemoFacts> = {}): LinkedMemoFacts => ({
  id: 10,
  creatorId: alice.userId,
  visibility,
  rowStatus: "NORMAL",
  isComment: false,
  ...over,
});

describe("memo read access (spec §6.3)", () => {
  test.each([
    ["PUBLIC", undefined, true, "allow"],
    ["PUBLIC", undefined, false, "unauthenticated"],
    ["PUBLIC", bob, false, "allow"],
    ["PROTECTED", undefined, true, "unauthenticated"],
    ["PROTECTED", bob, true, "allow"],
    ["PRIVATE", undefined, true, "unauthenticated"],
    ["PRIVATE", bob, true, "forbidden"],
    ["PRIVATE", admin, true, "forbidden"],
    ["PRIVATE", alice, false, "allow"],
  ] as const)("%s memo, viewer %j, public instance %s -> %s", (visibility, viewer, instancePublic, decision) => {
    expect(memoReadDecision(memo(visibility), viewer, instancePublic)).toBe(decision);
  });
  test("archived: creator only, others not found", () => {
    const archived = memo("PUBLIC", { rowStatus: "ARCHIVED" });
    expect(memoReadDecision(archived, alice, true)).toBe("allow");
    expect(memoReadDecision(archived, bob, true)).toBe("not-found");
    expect(memoReadDecision(archived, undefined, true)).toBe("not-found");
    expect(memoReadDecision(memo("PUBLIC", { rowStatus: "DELETED" }), alice, true)).toBe("not-found");
  });
  test("comments: the parent's visibility decides; a missing parent is not found", () => {
    const comment = memo("PUBLIC", { isComment: true, creatorId: bob.userId, parent: { creatorId: alice.userId, visibility: "PRIVATE", rowStatus: "NORMAL" } });
    expect(memoReadDecision(comment, bob, true)).toBe("forbidden");
    expect(memoReadDecision(comment, alice, true)).toBe("allow");
    expect(memoReadDecision(memo("PRIVATE", { isComment: true }), alice, true)).toBe("not-found");
  });
  test("an archived comment: its author only, and still through the parent", () => {
    const underPrivate = memo("PUBLIC", { isComment: true, creatorId: bob.userId, rowStatus: "ARCHIVED", parent: { creatorId: alice.userId, visibility: "PRIVATE", rowStatus: "NORMAL" } });
    expect(memoReadDecision(underPrivate, bob, true)).toBe("forbidden");
    expect(memoReadDecision(underPrivate, alice, true)).toBe("not-found");
    const underArchived = { ...underPrivate, parent: { creatorId: alice.userId, visibility: "PUBLIC", rowStatus: "ARCHIVED" } };
    expect(memoReadDecision(underArchived, bob, true)).toBe("not-found");
    expect(memoReadDecision({ ...underPrivate, parent: { creatorId: alice.userId, visibility: "PROTECTED", rowStatus: "NORMAL" } }, bob, true)).toBe("allow");
  });
});

describe("file server access (spec §5.2)", () => {
  function query(over: Partial<AttachmentFileAccessQuery> & { viewerIs?: Viewer; instancePublic?: boolean }) {
    const calls = { viewer: 0, instance: 0, share: 0 };
    const q: AttachmentFileAccessQuery = {
      creatorId: alice.userId,
      memo: undefined,
      instanceIsPublic: async () => (calls.instance++, over.instancePublic ?? true),
      viewer: async () => (calls.viewer++, over.viewerIs),
      ...over,
    };
    return { q, calls };
  }

  test("unlinked: 401 anonymous, 403 others, creator and admin allowed (private)", async () => {
    expect(await decideAttachmentFileAccess(query({}).q)).toBe("unauthenticated");
    expect(await decideAttachmentFileAccess(query({ viewerIs: bob }).q)).toBe("forbidden");
    expect(await decideAttachmentFileAccess(query({ viewerIs: alice }).q)).toBe("private");
    expect(await decideAttachmentFileAccess(query({ viewerIs: admin }).q)).toBe("private");
  });

  test("public memo on a public instance: public, without resolving credentials", async () => {
    const { q, calls } = query({ memo: memo("PUBLIC"), viewerIs: bob });
    expect(await decideAttachmentFileAccess(q)).toBe("public");
    expect(calls.viewer).toBe(0);
  });

  test("public memo on a private instance: signed-in callers only, privately", async () => {
    expect(await decideAttachmentFileAccess(query({ memo: memo("PUBLIC"), instancePublic: false }).q)).toBe("unauthenticated");
    const { q, calls } = query({ memo: memo("PUBLIC"), instancePublic: false, viewerIs: bob });
    expect(await decideAttachmentFileAccess(q)).toBe("private");
    expect(calls.instance).toBe(1);
  });

  test("private memo: creator only, admins refused", async () => {
    expect(await decideAttachmentFileAccess(query({ memo: memo("PRIVATE"), viewerIs: alice }).q)).toBe("private");
    expect(await decideAttachmentFileAccess(query({ memo: memo("PRIVATE"), viewerIs: admin }).q)).toBe("forbidden");
    expect(await decideAttachmentFileAccess(query({ memo: memo("PRIVATE") }).q)).toBe("unauthenticated");
  });

  test("missing memo or missing parent: not found", async () => {
    expect(await decideAttachmentFileAccess(query({ memo: "missing", viewerIs: alice }).q)).toBe("not-found");
    expect(await decideAttachmentFileAccess(query({ memo: memo("PUBLIC", { isComment: true }), viewerIs: alice }).q)).toBe("not-found");
  });

  test("share token: grants the exact non-comment memo, checked before credentials", async () => {
    const shared = query({ memo: memo("PRIVATE"), shareGrants: async (id) => id === 10 });
    expect(await decideAttachmentFileAccess(shared.q)).toBe("private");
    expect(shared.calls.viewer).toBe(0);
    expect(await decideAttachmentFileAccess(query({ memo: memo("PRIVATE", { id: 11 }), shareGrants: async (id) => id === 10 }).q)).toBe("unauthenticated");
    const comment = memo("PRIVATE", { isComment: true, parent: { creatorId: alice.userId, visibility: "PRIVATE", rowStatus: "NORMAL" } });
    expect(await decideAttachmentFileAccess(query({ memo: comment, shareGrants: async () => true }).q)).toBe("unauthenticated");
  });

  test("archived memo: its creator privately, others not found", async () => {
    const archived = memo("PUBLIC", { rowStatus: "ARCHIVED" });
    expect(await decideAttachmentFileAccess(query({ memo: archived, viewerIs: alice }).q)).toBe("private");
    expect(await decideAttachmentFileAccess(query({ memo: archived, viewerIs: bob }).q)).toBe("not-found");
  });
});
