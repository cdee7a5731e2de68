import { Code } from "@connectrpc/connect";
import { Visibility } from "../../gen/memos/api/v1/memo_service_pb.js";
import { UserNotification_Status, UserNotification_Type, type UserNotification } from "../../gen/memos/api/v1/user_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { codeOf, errorOf, eventually, newMemo, newUser, serviceClients, type WebUser } from "./support.js";

describe("notifications", () => {
  let t: TestApp;
  let admin: WebUser;
  beforeAll(async () => {
    t = await startTestApp();
    admin = await newUser(t.baseUrl, "admin");
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  const list = async (u: WebUser, filter = "") => (await u.users.listUserNotifications({ parent: u.name, filter })).notifications;
  /** Waits until `u` has a notification matching `match`. */
  const waitFor = (u: WebUser, match: (n: UserNotification) => boolean) =>
    eventually(async () => (await list(u)).find(match));
  const mentionOf = (memoName: string) => (n: UserNotification) => n.type === UserNotification_Type.MEMO_MENTION && n.payload.value?.memo === memoName;

  test("a comment by someone else notifies the memo's creator: sender, snippets, names", async () => {
    const alice = await newUser(t.baseUrl, "alice");
    const bob = await newUser(t.baseUrl, "bob");
    const memo = await newMemo(alice, { visibility: Visibility.PROTECTED, content: "What to read next?" });
    const comment = await bob.memos.createMemoComment({ name: memo.name, comment: { content: "Try **Dune**" } });
    const [n, ...rest] = await list(alice);
    expect(rest).toEqual([]);
    expect(n).toMatchObject({
      name: expect.stringMatching(new RegExp(`^${alice.name}/notifications/\\d+$`)),
      sender: bob.name,
      status: UserNotification_Status.UNREAD,
      type: UserNotification_Type.MEMO_COMMENT,
      payload: { case: "memoComment", value: { memo: comment.name, relatedMemo: memo.name, memoSnippet: "Try Dune", relatedMemoSnippet: "What to read next?" } },
      senderUser: { name: bob.name, username: bob.username, email: "" },
    });
    expect(n!.createTime).toBeDefined();
    expect(await list(bob)).toEqual([]);
  });

  test("UpdateUserNotification archives, the status filter narrows, DeleteUserNotification removes", async () => {
    const alice = await newUser(t.baseUrl, "alice");
    const bob = await newUser(t.baseUrl, "bob");
    const memo = await newMemo(alice, { visibility: Visibility.PUBLIC });
    await bob.memos.createMemoComment({ name: memo.name, comment: { content: "one" } });
    await bob.memos.createMemoComment({ name: memo.name, comment: { content: "two" } });
    const [newest, older] = await list(alice);
    expect(newest!.payload.value?.memoSnippet).toBe("two");
    const archived = await alice.users.updateUserNotification({
      notification: { name: older!.name, status: UserNotification_Status.ARCHIVED },
      updateMask: { paths: ["status"] },
    });
    expect(archived).toMatchObject({ name: older!.name, status: UserNotification_Status.ARCHIVED, type: UserNotification_Type.MEMO_COMMENT });
    expect((await list(alice, 'status == "UNREAD"')).map((n) => n.name)).toEqual([newest!.name]);
    expect((await list(alice, "status == 'ARCHIVED'")).map((n) => n.name)).toEqual([older!.name]);
    expect(await codeOf(alice.users.listUserNotifications({ parent: alice.name, filter: "type == 1" }))).toBe(Code.InvalidArgument);
    await alice.users.deleteUserNotification({ name: newest!.name });
    expect((await list(alice)).map((n) => n.name)).toEqual([older!.name]);
    expect(await codeOf(alice.users.deleteUserNotification({ name: newest!.name }))).toBe(Code.NotFound);
  });

  test.each([
    ["no mask", { paths: [] as string[] }, UserNotification_Status.ARCHIVED, "update mask is required"],
    ["another path", { paths: ["type"] }, UserNotification_Status.ARCHIVED, "invalid update path: type"],
    ["no status", { paths: ["status"] }, UserNotification_Status.STATUS_UNSPECIFIED, "invalid status: expected UNREAD or ARCHIVED"],
  ])("UpdateUserNotification rejects %s", async (_label, updateMask, status, message) => {
    const u = await newUser(t.baseUrl);
    const err = await errorOf(u.users.updateUserNotification({ notification: { name: `${u.name}/notifications/1`, status }, updateMask }));
    expect([err.code, err.rawMessage]).toEqual([Code.InvalidArgument, message]);
  });

  test("only the receiver: others are denied or find nothing; anonymous is unauthenticated", async () => {
    const alice = await newUser(t.baseUrl, "alice");
    const bob = await newUser(t.baseUrl, "bob");
    const memo = await newMemo(alice, { visibility: Visibility.PUBLIC });
    await bob.memos.createMemoComment({ name: memo.name, comment: { content: "hi" } });
    const [n] = await list(alice);
    const id = n!.name.split("/").pop();
    expect(await codeOf(bob.users.listUserNotifications({ parent: alice.name }))).toBe(Code.PermissionDenied);
    expect(await codeOf(admin.users.listUserNotifications({ parent: alice.name }))).toBe(Code.PermissionDenied);
    expect(await codeOf(bob.users.deleteUserNotification({ name: n!.name }))).toBe(Code.PermissionDenied);
    // Bob naming Alice's notification under his own name finds nothing.
    expect(await codeOf(bob.users.deleteUserNotification({ name: `${bob.name}/notifications/${id}` }))).toBe(Code.NotFound);
    expect(
      await codeOf(
        bob.users.updateUserNotification({
          notification: { name: `${bob.name}/notifications/${id}`, status: UserNotification_Status.ARCHIVED },
          updateMask: { paths: ["status"] },
        }),
      ),
    ).toBe(Code.NotFound);
    expect(await codeOf(serviceClients(t.baseUrl).users.listUserNotifications({ parent: alice.name }))).toBe(Code.Unauthenticated);
    expect(await codeOf(alice.users.deleteUserNotification({ name: `${alice.name}/notifications/abc` }))).toBe(Code.InvalidArgument);
    expect(await list(alice)).toHaveLength(1);
  });

  test("a notification whose comment is gone is left out", async () => {
    const alice = await newUser(t.baseUrl, "alice");
    const bob = await newUser(t.baseUrl, "bob");
    const memo = await newMemo(alice, { visibility: Visibility.PUBLIC });
    const comment = await bob.memos.createMemoComment({ name: memo.name, comment: { content: "soon gone" } });
    expect(await list(alice)).toHaveLength(1);
    await bob.memos.deleteMemo({ name: comment.name });
    expect(await list(alice)).toEqual([]);
  });

  test("pages over stored rows with offset tokens", async () => {
    const alice = await newUser(t.baseUrl, "alice");
    const bob = await newUser(t.baseUrl, "bob");
    const memo = await newMemo(alice, { visibility: Visibility.PUBLIC });
    for (let i = 0; i < 5; i++) await bob.memos.createMemoComment({ name: memo.name, comment: { content: `c${i}` } });
    const first = await alice.users.listUserNotifications({ parent: alice.name, pageSize: 2 });
    const second = await alice.users.listUserNotifications({ parent: alice.name, pageToken: first.nextPageToken });
    const third = await alice.users.listUserNotifications({ parent: alice.name, pageToken: second.nextPageToken });
    expect([...first.notifications, ...second.notifications, ...third.notifications].map((n) => n.payload.value?.memoSnippet)).toEqual(["c4", "c3", "c2", "c1", "c0"]);
    expect(third.nextPageToken).toBe("");
    expect(await codeOf(alice.users.listUserNotifications({ parent: alice.name, pageToken: "%%%" }))).toBe(Code.InvalidArgument);
  });

  describe("mentions", () => {
    test("a memo mentioning a user who may read it notifies them once, however often it is edited", async () => {
      const alice = await newUser(t.baseUrl, "alice");
      const bob = await newUser(t.baseUrl, "bob");
      const carol = await newUser(t.baseUrl, "carol");
      const memo = await newMemo(alice, { visibility: Visibility.PROTECTED, content: `Lunch with @${bob.username}?` });
      const n = await waitFor(bob, mentionOf(memo.name));
      expect(n).toMatchObject({
        sender: alice.name,
        status: UserNotification_Status.UNREAD,
        payload: { case: "memoMention", value: { memo: memo.name, relatedMemo: "", memoSnippet: `Lunch with @${bob.username}?`, relatedMemoSnippet: "" } },
      });
      await alice.memos.updateMemo({ memo: { name: memo.name, content: `Lunch with @${bob.username} and @${carol.username}?` }, updateMask: { paths: ["content"] } });
      await waitFor(carol, mentionOf(memo.name));
      await alice.memos.updateMemo({ memo: { name: memo.name, content: `Dinner with @${bob.username} and @${carol.username}!` }, updateMask: { paths: ["content"] } });
      // A later mention elsewhere proves the edit above was handled (events are handled in order).
      const sentinel = await newMemo(alice, { visibility: Visibility.PUBLIC, content: `@${carol.username} ping` });
      await waitFor(carol, mentionOf(sentinel.name));
      expect((await list(bob)).filter(mentionOf(memo.name))).toHaveLength(1);
      expect((await list(carol)).filter(mentionOf(memo.name))).toHaveLength(1);
    });

    test("no notification for private memos of others, self-mentions, code, escapes, e-mail addresses or unknown users", async () => {
      const alice = await newUser(t.baseUrl, "alice");
      const bob = await newUser(t.baseUrl, "bob");
      await newMemo(alice, { visibility: Visibility.PRIVATE, content: `secret for @${bob.username}` });
      await newMemo(alice, { visibility: Visibility.PUBLIC, content: `\`@${bob.username}\` and \\@${bob.username} and x@${bob.username} and ${bob.username}@example.com and @${alice.username} and @nobody-here-x` });
      const sentinel = await newMemo(alice, { visibility: Visibility.PUBLIC, content: `(@${bob.username}), done.` });
      await waitFor(bob, mentionOf(sentinel.name));
      expect((await list(bob)).map((n) => n.payload.value?.memo)).toEqual([sentinel.name]);
      expect(await list(alice)).toEqual([]);
    });

    test("a comment mentioning someone notifies them with the thread; the memo's creator gets the comment notice only", async () => {
      const alice = await newUser(t.baseUrl, "alice");
      const bob = await newUser(t.baseUrl, "bob");
      const carol = await newUser(t.baseUrl, "carol");
      const memo = await newMemo(alice, { visibility: Visibility.PUBLIC, content: "Trip plans" });
      const comment = await bob.memos.createMemoComment({ name: memo.name, comment: { content: `@${carol.username} @${alice.username} join us` } });
      const n = await waitFor(carol, mentionOf(comment.name));
      expect(n.payload).toMatchObject({ case: "memoMention", value: { memo: comment.name, relatedMemo: memo.name, relatedMemoSnippet: "Trip plans" } });
      expect((await list(alice)).map((x) => x.type)).toEqual([UserNotification_Type.MEMO_COMMENT]);
    });

    test("a mention becomes visible to the mentioned user only while they may read the memo", async () => {
      const alice = await newUser(t.baseUrl, "alice");
      const bob = await newUser(t.baseUrl, "bob");
      const memo = await newMemo(alice, { visibility: Visibility.PUBLIC, content: `hey @${bob.username}` });
      await waitFor(bob, mentionOf(memo.name));
      await alice.memos.updateMemo({ memo: { name: memo.name, visibility: Visibility.PRIVATE }, updateMask: { paths: ["visibility"] } });
      expect((await list(bob)).filter(mentionOf(memo.name))).toEqual([]);
    });
  });
});
