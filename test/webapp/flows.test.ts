/**
 * The Memos web app's flows A to I of `spec/web-app-flows.md`, replayed call by call, in order,
 * over binary Connect with the app's token handling (localStorage Bearer token, `memos_refresh`
 * cookie jar, refresh-and-retry) against one server with a fresh PGlite database. Each answer is
 * checked for what its page renders. The flows build on each other, like one instance's life:
 * set-up, sign-ups, memos, attachments, actions, sign-out.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import sharp from "sharp";
import { State } from "../../gen/memos/api/v1/common_pb.js";
import { InstanceAccessMode } from "../../gen/memos/api/v1/instance_service_pb.js";
import { Visibility, type Memo } from "../../gen/memos/api/v1/memo_service_pb.js";
import { User_Role } from "../../gen/memos/api/v1/user_service_pb.js";
import { startTestApp, type TestApp } from "../support/app.js";
import type { SseStream } from "./sse-client.js";
import { createWebAppClient, FIRST_LOAD_SETTINGS, homeListRequest, type FirstLoad, type WebAppClient } from "./web-app-client.js";

const PASSWORD = "correct horse battery";

const FIRST_LOAD_ANONYMOUS = [
  "AuthService/RefreshToken",
  "InstanceService/GetInstanceProfile",
  "InstanceService/BatchGetInstanceSettings",
  "InstanceService/GetInstanceSetting",
];
const FIRST_LOAD_SIGNED_IN = [
  "InstanceService/GetInstanceProfile",
  "InstanceService/BatchGetInstanceSettings",
  "AuthService/GetCurrentUser",
  "InstanceService/GetInstanceSetting",
  "UserService/ListUserSettings",
];
const HOME = [
  "UserService/ListUserNotifications",
  "MemoViewService/ListMemoViews",
  "UserService/GetUserStats",
  "InstanceService/GetInstanceSetting",
  "MemoService/ListMemos",
];

/** A photo-like PNG of `width` x `height`: gradients, so it has content to scale. */
async function photo(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i += 3) {
      raw[i] = (x * 255) / width;
      raw[i + 1] = (y * 255) / height;
      raw[i + 2] = (x ^ y) & 255;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** What the first load renders from: the settings the app reads, by name, with their value kind. */
function expectFirstLoadSettings(load: FirstLoad): void {
  expect(load.settings.settings.map((s) => [s.name, s.value.case])).toEqual([
    [FIRST_LOAD_SETTINGS[0], "generalSetting"],
    [FIRST_LOAD_SETTINGS[1], "memoRelatedSetting"],
  ]);
  expect(load.access.name).toBe("instance/settings/ACCESS");
  expect(load.access.value.case).toBe("accessSetting");
}

/** create_time in epoch milliseconds. */
const created = (m: Memo) => timestampDate(m.createTime!).getTime();

/** Pinned first, then newest first: the home order. */
function expectHomeOrder(memos: readonly Memo[]): void {
  for (let i = 1; i < memos.length; i++) {
    const [a, b] = [memos[i - 1]!, memos[i]!];
    if (a.pinned !== b.pinned) expect(a.pinned).toBe(true);
    else expect(created(a)).toBeGreaterThanOrEqual(created(b));
  }
}

describe("the web app's flows, call by call", () => {
  let t: TestApp;
  const streams: SseStream[] = [];
  /** The admin's browser after sign-up (kept signed in across flows). */
  let alice: WebAppClient;
  /** A second user's browser. */
  let bob: WebAppClient;
  const memos: Record<string, Memo> = {};
  let photoAttachment: { name: string; filename: string };

  beforeAll(async () => {
    t = await startTestApp();
  }, 120_000);
  afterAll(async () => {
    for (const s of streams) s.close();
    await t?.close();
  });

  test("A. first load of a fresh instance, anonymous: RefreshToken 401, then the profile says set-up is needed", async () => {
    const browser = createWebAppClient(t.baseUrl);
    const load = await browser.firstLoad();
    expect(browser.callsSince(0)).toEqual(FIRST_LOAD_ANONYMOUS);
    expect(load.refresh).toBe(Code.Unauthenticated);
    expect(browser.calls[0]!.outcome).toBe(Code.Unauthenticated);
    expect(browser.calls.slice(1).map((c) => c.outcome)).toEqual([undefined, undefined, undefined]);
    expect(browser.cookies.size).toBe(0);
    expect(load.profile.needsSetup).toBe(true);
    expect(load.profile.admin).toBeUndefined();
    expect(load.profile.version).not.toBe("");
    expectFirstLoadSettings(load);

    // The anonymous RefreshToken on the wire: a Connect JSON error with HTTP 401, even to a binary request.
    const raw = await fetch(`${t.baseUrl}/memos.api.v1.AuthService/RefreshToken`, {
      method: "POST",
      headers: { "Content-Type": "application/proto", "Connect-Protocol-Version": "1" },
      body: new Uint8Array(),
    });
    expect(raw.status).toBe(401);
    expect(raw.headers.get("content-type")).toMatch(/^application\/json/);
    expect(((await raw.json()) as { code: string }).code).toBe("unauthenticated");
  });

  test("C. sign-up: the first user, sent with role USER, becomes ADMIN; SignIn sets the cookie and the token expiry", async () => {
    alice = createWebAppClient(t.baseUrl);
    await alice.firstLoad(); // the /auth/signup page
    const from = alice.calls.length;
    const user = await alice.users.createUser({ user: { username: "alice", password: PASSWORD, role: User_Role.USER } });
    expect(user.name).toBe("users/alice");
    expect(user.role).toBe(User_Role.ADMIN);
    expect(user.password).toBe("");

    const before = Date.now();
    const signIn = await alice.signIn("alice", PASSWORD);
    expect(signIn.user?.name).toBe("users/alice");
    expect(signIn.accessTokenExpiresAt).toBeDefined();
    const expiresAt = timestampDate(signIn.accessTokenExpiresAt!).getTime();
    expect(expiresAt).toBeGreaterThan(before + 14 * 60_000);
    expect(expiresAt).toBeLessThan(Date.now() + 16 * 60_000);
    expect(alice.storage.accessToken).toBe(signIn.accessToken);
    expect(alice.cookies.get("memos_refresh")).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(alice.hasValidToken()).toBe(true);

    const current = await alice.auth.getCurrentUser({});
    expect([current.user?.name, current.user?.role, current.user?.username]).toEqual(["users/alice", User_Role.ADMIN, "alice"]);
    const userSettings = await alice.users.listUserSettings({ parent: "users/alice" });
    expect(userSettings.settings.length).toBeGreaterThan(0);
    for (const s of userSettings.settings) expect(s.name).toMatch(/^users\/alice\/settings\/[A-Z_]+$/);
    const profile = await alice.instance.getInstanceProfile({});
    expect(profile.needsSetup).toBe(false);
    expect(profile.admin?.name).toBe("users/alice");
    const settings = await alice.instance.batchGetInstanceSettings({ names: FIRST_LOAD_SETTINGS });
    expect(settings.settings).toHaveLength(2);
    const home = await alice.homeLoad("alice");
    expect(home.memos.memos).toEqual([]);
    expect(home.stats.totalMemoCount).toBe(0);

    expect(alice.callsSince(from)).toEqual([
      "UserService/CreateUser",
      "AuthService/SignIn",
      "AuthService/GetCurrentUser",
      "UserService/ListUserSettings",
      "InstanceService/GetInstanceProfile",
      "InstanceService/BatchGetInstanceSettings",
      ...HOME,
    ]);
    expect(alice.calls.slice(from).every((c) => c.outcome === undefined)).toBe(true);

    // The admin opens the instance to anonymous readers (settings page), for the explore flows.
    const access = await alice.instance.updateInstanceSetting({
      setting: { name: "instance/settings/ACCESS", value: { case: "accessSetting", value: { accessMode: InstanceAccessMode.PUBLIC } } },
    });
    expect(access.value.case === "accessSetting" && access.value.value.accessMode).toBe(InstanceAccessMode.PUBLIC);

    // A second sign-up, with registration open: stays USER.
    bob = createWebAppClient(t.baseUrl);
    expect((await bob.firstLoad()).refresh).toBe(Code.Unauthenticated);
    const second = await bob.users.createUser({ user: { username: "bob", password: PASSWORD, role: User_Role.USER } });
    expect(second.role).toBe(User_Role.USER);
    const bobIn = await bob.signIn("bob", PASSWORD);
    expect(bobIn.accessTokenExpiresAt).toBeDefined();
    expect((await bob.auth.getCurrentUser({})).user?.role).toBe(User_Role.USER);
  });

  test("D + E. sign-in, then a cold home load with the stored token: no RefreshToken, the home list in the app's filter and order, SSE", async () => {
    // Content for the home page: alice's memos (one pinned, one archived), bob's public and private ones.
    for (let i = 0; i < 18; i++) {
      const m = await alice.memos.createMemo({ memo: { content: `note ${i} #tag${i % 3}`, visibility: i % 2 ? Visibility.PUBLIC : Visibility.PRIVATE } });
      memos[`alice${i}`] = m;
    }
    await alice.memos.updateMemo({ memo: { name: memos.alice3!.name, pinned: true }, updateMask: { paths: ["pinned"] } });
    await alice.memos.updateMemo({ memo: { name: memos.alice4!.name, state: State.ARCHIVED }, updateMask: { paths: ["state"] } });
    memos.bobPublic = await bob.memos.createMemo({ memo: { content: "bob in public", visibility: Visibility.PUBLIC } });
    memos.bobProtected = await bob.memos.createMemo({ memo: { content: "bob for members", visibility: Visibility.PROTECTED } });
    memos.bobPrivate = await bob.memos.createMemo({ memo: { content: "bob alone", visibility: Visibility.PRIVATE } });

    // D: a new browser signs in on /auth.
    const browser = createWebAppClient(t.baseUrl);
    expect((await browser.firstLoad()).refresh).toBe(Code.Unauthenticated);
    const from = browser.calls.length;
    const signIn = await browser.signIn("alice", PASSWORD);
    expect(signIn.accessTokenExpiresAt).toBeDefined();
    expect(browser.cookies.has("memos_refresh")).toBe(true);
    expect((await browser.auth.getCurrentUser({})).user?.name).toBe("users/alice");
    await browser.users.listUserSettings({ parent: "users/alice" });
    await browser.homeLoad("alice");
    expect(browser.callsSince(from)).toEqual(["AuthService/SignIn", "AuthService/GetCurrentUser", "UserService/ListUserSettings", ...HOME]);

    // E: a reload of `/` with the token in localStorage.
    const reload = browser.calls.length;
    const load = await browser.firstLoad();
    expect(load.refresh).toBe("skipped");
    const home = await browser.homeLoad("alice");
    const sse = await browser.openSse();
    streams.push(sse);
    expect(browser.callsSince(reload)).toEqual([...FIRST_LOAD_SIGNED_IN, ...HOME]);
    expect(browser.calls.slice(reload).every((c) => c.outcome === undefined)).toBe(true);
    expect(browser.callsSince(0).filter((c) => c === "AuthService/RefreshToken")).toHaveLength(1); // only the anonymous one

    expect(load.profile.needsSetup).toBe(false);
    expect(load.profile.accessMode).toBe(InstanceAccessMode.PUBLIC);
    expect(load.currentUser?.user?.name).toBe("users/alice");
    expect(load.userSettings?.settings.length).toBeGreaterThan(0);
    expectFirstLoadSettings(load);

    expect(home.notifications.notifications).toEqual([]);
    expect(home.views.memoViews).toEqual([]);
    expect(home.stats.name).toBe("users/alice/stats");
    expect(home.stats.totalMemoCount).toBe(17); // 18 less the archived one
    expect(home.stats.pinnedMemos).toEqual([memos.alice3!.name]);
    expect(home.stats.tagCount).toEqual({ tag0: 6, tag1: 5, tag2: 6 });
    expect(home.stats.memoCreatedTimestamps).toHaveLength(17);
    // AI is not configured: no providers, no transcription.
    expect(home.ai.name).toBe("instance/settings/AI");
    expect(home.ai.value.case).toBe("aiSetting");
    if (home.ai.value.case === "aiSetting") {
      expect(home.ai.value.value.providers).toEqual([]);
      expect(home.ai.value.value.transcription?.providerId ?? "").toBe("");
    }

    // ListMemos: alice's NORMAL memos only, pinned first then newest, 16 a page, paged by token.
    const page1 = home.memos;
    expect(page1.memos).toHaveLength(16);
    expect(page1.nextPageToken).not.toBe("");
    expect(page1.memos[0]!.name).toBe(memos.alice3!.name);
    const page2 = await browser.memos.listMemos({ ...homeListRequest("alice"), pageToken: page1.nextPageToken });
    expect(page2.nextPageToken).toBe("");
    const all = [...page1.memos, ...page2.memos];
    expectHomeOrder(all);
    const expected = Object.entries(memos)
      .filter(([k]) => k.startsWith("alice") && k !== "alice4")
      .map(([, m]) => m.name);
    expect(all.map((m) => m.name).sort()).toEqual(expected.sort());
    for (const m of all) {
      expect(m.creator).toBe("users/alice");
      expect(m.state).toBe(State.NORMAL);
      expect(m.content).toMatch(/^note \d+ #tag\d$/);
      expect(m.tags).toHaveLength(1);
    }

    // The SSE stream of the home page hears of a new memo.
    expect(sse.status).toBe(200);
    const fresh = await alice.memos.createMemo({ memo: { content: "live", visibility: Visibility.PRIVATE } });
    memos.live = fresh;
    expect(await sse.next((e) => e.type === "memo.created" && e.name === fresh.name)).toMatchObject({ type: "memo.created", name: fresh.name });
  });

  test("B. anonymous first load of an instance with users lands on /explore: public memos only, creators resolvable; /auth lists providers", async () => {
    const browser = createWebAppClient(t.baseUrl);
    const load = await browser.firstLoad();
    expect(load.refresh).toBe(Code.Unauthenticated);
    expect(load.profile.needsSetup).toBe(false);
    expect(load.profile.accessMode).toBe(InstanceAccessMode.PUBLIC);
    expect(load.access.value.case === "accessSetting" && load.access.value.value.accessMode).toBe(InstanceAccessMode.PUBLIC);
    const from = browser.calls.length;
    const filter = 'visibility in ["PUBLIC"]';
    const stats = await browser.users.listAllUserStats({ state: State.NORMAL, filter });
    const list = await browser.memos.listMemos({ pageSize: 16, state: State.NORMAL, orderBy: "create_time desc", filter });
    const creators = [...new Set(list.memos.map((m) => m.creator.replace(/^users\//, "")))];
    const people = await browser.users.batchGetUsers({ usernames: creators });
    expect(browser.callsSince(0)).toEqual([
      ...FIRST_LOAD_ANONYMOUS,
      "UserService/ListAllUserStats",
      "MemoService/ListMemos",
      "UserService/BatchGetUsers",
    ]);
    expect(browser.calls.slice(from).every((c) => c.outcome === undefined)).toBe(true);

    const publicOnes = [memos.bobPublic!, ...[1, 3, 5, 7, 9, 11, 13, 15, 17].map((i) => memos[`alice${i}`]!)];
    expect(list.memos).toHaveLength(publicOnes.length);
    expect(list.memos.map((m) => m.name).sort()).toEqual(publicOnes.map((m) => m.name).sort());
    for (const m of list.memos) expect(m.visibility).toBe(Visibility.PUBLIC);
    for (let i = 1; i < list.memos.length; i++) expect(created(list.memos[i - 1]!)).toBeGreaterThanOrEqual(created(list.memos[i]!));
    // Every creator shown on a card resolves to a user (no e-mail for anonymous readers).
    const byName = new Map(people.users.map((u) => [u.name, u]));
    for (const m of list.memos) {
      expect(byName.get(m.creator)?.username).toBe(m.creator.slice("users/".length));
      expect(byName.get(m.creator)?.email).toBe("");
    }
    expect(people.users.map((u) => u.name).sort()).toEqual(["users/alice", "users/bob"]);
    // The explore sidebar's stats count only what the filter lets anonymous readers see.
    const statsOf = new Map(stats.stats.map((s) => [s.name, s]));
    expect(statsOf.get("users/alice/stats")?.totalMemoCount).toBe(9);
    expect(statsOf.get("users/bob/stats")?.totalMemoCount).toBe(1);

    // Opening /auth: the same first load, then the identity providers (none configured).
    const auth = createWebAppClient(t.baseUrl);
    await auth.firstLoad();
    const idps = await auth.idps.listIdentityProviders({});
    expect(idps.identityProviders).toEqual([]);
    expect(auth.callsSince(0)).toEqual([...FIRST_LOAD_ANONYMOUS, "IdentityProviderService/ListIdentityProviders"]);
  });

  test("F. create a memo with an image: inline-bytes CreateAttachment, CreateMemo naming it, refetch, and a JPEG thumbnail of at most 600 px", async () => {
    const png = await photo(1600, 1200);
    const from = alice.calls.length;
    const attachment = await alice.attachments.createAttachment({
      attachment: { filename: "holiday photo.png", type: "image/png", size: BigInt(png.length), content: png },
    });
    expect(attachment.name).toMatch(/^attachments\/[\w-]+$/);
    expect([attachment.filename, attachment.type, attachment.size]).toEqual(["holiday photo.png", "image/png", BigInt(png.length)]);
    expect(attachment.content).toHaveLength(0); // bytes are not echoed back
    const memo = await alice.memos.createMemo({
      memo: { content: "A day at the sea", visibility: Visibility.PRIVATE, attachments: [{ name: attachment.name }] },
    });
    expect(memo.attachments.map((a) => [a.name, a.filename, a.type])).toEqual([[attachment.name, "holiday photo.png", "image/png"]]);
    expect(memo.attachments[0]!.memo).toBe(memo.name);
    const list = await alice.memos.listMemos(homeListRequest("alice"));
    const stats = await alice.users.getUserStats({ name: "users/alice" });
    // The card's image: an <img> sends the cookie, not the Bearer token.
    const url = `/file/${attachment.name}/${encodeURIComponent(attachment.filename)}?thumbnail=true`;
    const thumb = await alice.get(url);
    expect(alice.callsSince(from)).toEqual([
      "AttachmentService/CreateAttachment",
      "MemoService/CreateMemo",
      "MemoService/ListMemos",
      "UserService/GetUserStats",
      `GET ${url}`,
    ]);
    memos.photo = memo;
    photoAttachment = { name: attachment.name, filename: attachment.filename };

    // The new memo is the first unpinned card and shows its attachment.
    const card = list.memos.find((m) => !m.pinned)!;
    expect(card.name).toBe(memo.name);
    expect(card.attachments.map((a) => a.name)).toEqual([attachment.name]);
    expect(stats.totalMemoCount).toBe(19); // 17 + the live one + this one

    expect(thumb.status).toBe(200);
    expect(thumb.headers.get("content-type")).toBe("image/jpeg");
    const meta = await sharp(thumb.body).metadata();
    expect(meta.format).toBe("jpeg");
    expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(600);
    expect([meta.width, meta.height]).toEqual([600, 450]);
    // The same URL without the cookie is refused: the memo is private.
    expect((await fetch(t.baseUrl + url)).status).not.toBe(200);

    // A text-only public memo: CreateMemo, ListMemos, GetUserStats.
    const mark = alice.calls.length;
    const text = await alice.memos.createMemo({ memo: { content: "Hello, world", visibility: Visibility.PUBLIC } });
    expect(text.visibility).toBe(Visibility.PUBLIC);
    expect((await alice.memos.listMemos(homeListRequest("alice"))).memos.find((m) => !m.pinned)?.name).toBe(text.name);
    expect((await alice.users.getUserStats({ name: "users/alice" })).totalMemoCount).toBe(20);
    expect(alice.callsSince(mark)).toEqual(["MemoService/CreateMemo", "MemoService/ListMemos", "UserService/GetUserStats"]);
    memos.hello = text;
  });

  test("G. view a memo: click-through, a signed-in cold load of /memos/{id}, and an anonymous visit of a public memo", async () => {
    // Click-through from the list.
    let from = alice.calls.length;
    const detail = await alice.memos.getMemo({ name: memos.photo!.name });
    const comments = await alice.memos.listMemoComments({ name: memos.photo!.name, pageSize: 16 });
    expect(alice.callsSince(from)).toEqual(["MemoService/GetMemo", "MemoService/ListMemoComments"]);
    expect([detail.content, detail.creator, detail.attachments.length]).toEqual(["A day at the sea", "users/alice", 1]);
    expect(comments.memos).toEqual([]);

    // Cold load of /memos/{id} while signed in.
    from = alice.calls.length;
    const load = await alice.firstLoad();
    expect(load.refresh).toBe("skipped");
    await alice.users.listUserNotifications({ parent: "users/alice" });
    await alice.memoViews.listMemoViews({ parent: "users/alice" });
    await alice.users.getUserStats({ name: "users/alice" });
    const memo = await alice.memos.getMemo({ name: memos.photo!.name });
    await alice.memos.listMemoComments({ name: memo.name, pageSize: 16 });
    const sse = await alice.openSse();
    streams.push(sse);
    const a = memo.attachments[0]!;
    const thumb = await alice.get(`/file/${a.name}/${encodeURIComponent(a.filename)}?thumbnail=true`);
    expect(alice.callsSince(from)).toEqual([
      ...FIRST_LOAD_SIGNED_IN,
      "UserService/ListUserNotifications",
      "MemoViewService/ListMemoViews",
      "UserService/GetUserStats",
      "MemoService/GetMemo",
      "MemoService/ListMemoComments",
      `GET /file/${a.name}/${encodeURIComponent(a.filename)}?thumbnail=true`,
    ]);
    expect([sse.status, thumb.status, thumb.headers.get("content-type")]).toEqual([200, 200, "image/jpeg"]);

    // Anonymous, a public memo.
    const visitor = createWebAppClient(t.baseUrl);
    await visitor.firstLoad();
    await visitor.users.listAllUserStats({ state: State.NORMAL });
    const shown = await visitor.memos.getMemo({ name: memos.hello!.name });
    const creators = await visitor.users.batchGetUsers({ usernames: [shown.creator.slice("users/".length)] });
    const thread = await visitor.memos.listMemoComments({ name: shown.name, pageSize: 16 });
    expect(visitor.callsSince(0)).toEqual([
      ...FIRST_LOAD_ANONYMOUS,
      "UserService/ListAllUserStats",
      "MemoService/GetMemo",
      "UserService/BatchGetUsers",
      "MemoService/ListMemoComments",
    ]);
    expect(visitor.calls.slice(1).every((c) => c.outcome === undefined)).toBe(true);
    expect(shown.content).toBe("Hello, world");
    expect(creators.users.map((u) => [u.name, u.email])).toEqual([["users/alice", ""]]);
    expect(thread.memos).toEqual([]);
    // A private memo is not shown to the visitor (the app's one refresh attempt fails too).
    const before = visitor.calls.length;
    await expect(visitor.memos.getMemo({ name: memos.photo!.name })).rejects.toMatchObject({});
    expect(visitor.calls.slice(before).some((c) => c.outcome === undefined)).toBe(false);
  });

  test("H. memo actions: comment, pin, reaction, edit; sign-out clears the cookie and the next RefreshToken is 401 again", async () => {
    const sse = streams[streams.length - 1]!; // alice's stream from G
    const target = memos.hello!;

    // comment (by bob, on alice's public memo)
    let from = bob.calls.length;
    const comment = await bob.memos.createMemoComment({ name: target.name, comment: { content: "Nice one @alice", visibility: Visibility.PUBLIC } });
    await bob.users.getUserStats({ name: "users/bob" });
    const thread = await bob.memos.listMemoComments({ name: target.name, pageSize: 16 });
    expect(bob.callsSince(from)).toEqual(["MemoService/CreateMemoComment", "UserService/GetUserStats", "MemoService/ListMemoComments"]);
    expect(comment.creator).toBe("users/bob");
    expect(comment.parent).toBe(target.name);
    expect(thread.memos.map((m) => [m.name, m.content, m.creator])).toEqual([[comment.name, "Nice one @alice", "users/bob"]]);
    await sse.next((e) => e.type === "memo.comment.created" && e.name === comment.name);

    // pin (detail sidebar)
    from = alice.calls.length;
    const pinned = await alice.memos.updateMemo({ memo: { name: target.name, pinned: true }, updateMask: { paths: ["pinned"] } });
    expect(alice.callsSince(from)).toEqual(["MemoService/UpdateMemo"]);
    expect([pinned.pinned, pinned.content]).toEqual([true, "Hello, world"]);

    // reaction
    from = alice.calls.length;
    const reaction = await alice.memos.upsertMemoReaction({ name: target.name, reaction: { reactionType: "👍" } });
    const withReaction = await alice.memos.getMemo({ name: target.name });
    const home = await alice.memos.listMemos(homeListRequest("alice"));
    expect(alice.callsSince(from)).toEqual(["MemoService/UpsertMemoReaction", "MemoService/GetMemo", "MemoService/ListMemos"]);
    expect([reaction.creator, reaction.reactionType]).toEqual(["users/alice", "👍"]);
    expect(withReaction.reactions.map((r) => [r.creator, r.reactionType])).toEqual([["users/alice", "👍"]]);
    const card = home.memos.find((m) => m.name === target.name)!;
    expect(card.pinned).toBe(true);
    expect(card.reactions.map((r) => r.reactionType)).toEqual(["👍"]);
    expectHomeOrder(home.memos);
    expect(home.memos.filter((m) => m.pinned).map((m) => m.name).sort()).toEqual([memos.alice3!.name, target.name].sort());
    await sse.next((e) => e.type === "reaction.upserted" && e.name === target.name);

    // edit (the app's mask names update_time too)
    from = alice.calls.length;
    const current = await alice.memos.getMemo({ name: target.name });
    const edited = await alice.memos.updateMemo({
      memo: { name: current.name, content: "Hello, edited world #greeting" },
      updateMask: { paths: ["content", "update_time"] },
    });
    const after = await alice.memos.listMemos(homeListRequest("alice"));
    const stats = await alice.users.getUserStats({ name: "users/alice" });
    expect(alice.callsSince(from)).toEqual(["MemoService/GetMemo", "MemoService/UpdateMemo", "MemoService/ListMemos", "UserService/GetUserStats"]);
    expect(edited.content).toBe("Hello, edited world #greeting");
    expect(edited.tags).toEqual(["greeting"]);
    expect(timestampDate(edited.updateTime!).getTime()).toBeGreaterThanOrEqual(timestampDate(current.updateTime!).getTime());
    expect(after.memos.find((m) => m.name === target.name)?.content).toBe("Hello, edited world #greeting");
    expect(stats.tagCount.greeting).toBe(1);
    expect(stats.pinnedMemos.sort()).toEqual([memos.alice3!.name, target.name].sort());
    await sse.next((e) => e.type === "memo.updated" && e.name === target.name);

    // sign-out (bob): the cookie is cleared; /auth's first load refreshes anonymously and gets 401.
    const oldCookie = bob.cookies.get("memos_refresh")!;
    expect(oldCookie).toBeDefined();
    from = bob.calls.length;
    await bob.signOut();
    expect(bob.cookies.has("memos_refresh")).toBe(false);
    expect(bob.storage.accessToken).toBeUndefined();
    const load = await bob.firstLoad();
    await bob.idps.listIdentityProviders({});
    expect(bob.callsSince(from)).toEqual([
      "AuthService/SignOut",
      ...FIRST_LOAD_ANONYMOUS,
      "IdentityProviderService/ListIdentityProviders",
    ]);
    expect(load.refresh).toBe(Code.Unauthenticated);
    expect(load.currentUser).toBeUndefined();
    // The refresh token that was in the cookie is revoked, not merely forgotten by the browser.
    bob.cookies.set("memos_refresh", oldCookie);
    expect(await bob.refresh()).toBe(Code.Unauthenticated);
    bob.cookies.delete("memos_refresh");
  });

  test("the app's token upkeep: an expiring token is refreshed through the cookie first, a rejected one is refreshed and retried once", async () => {
    const browser = createWebAppClient(t.baseUrl);
    await browser.signIn("alice", PASSWORD);
    const firstCookie = browser.cookies.get("memos_refresh");
    // Within 30 s of expiry: RefreshToken before the call, rotating the cookie.
    browser.storage.expiresAt = Date.now() + 10_000;
    let from = browser.calls.length;
    await browser.users.getUserStats({ name: "users/alice" });
    expect(browser.callsSince(from)).toEqual(["AuthService/RefreshToken", "UserService/GetUserStats"]);
    expect(browser.calls.slice(from).map((c) => c.outcome)).toEqual([undefined, undefined]);
    expect(browser.cookies.get("memos_refresh")).not.toBe(firstCookie);
    expect(browser.hasValidToken()).toBe(true);
    // A token the server rejects: unauthenticated, one refresh, then the retry with X-Retry succeeds.
    browser.storage.accessToken = "not-a-token";
    from = browser.calls.length;
    const me = await browser.auth.getCurrentUser({});
    expect(me.user?.name).toBe("users/alice");
    expect(browser.calls.slice(from).map((c) => [c.call, c.outcome, c.retry])).toEqual([
      ["AuthService/GetCurrentUser", Code.Unauthenticated, false],
      ["AuthService/RefreshToken", undefined, false],
      ["AuthService/GetCurrentUser", undefined, true],
    ]);
  });

  test("I. other pages: explore, archived, attachments, inbox, own profile, settings, about", async () => {
    const common = ["UserService/ListUserNotifications", "MemoViewService/ListMemoViews"];
    /** A signed-in cold load of a page: the first load and the common set, then `page`. */
    const visit = async <T>(page: () => Promise<T>): Promise<{ result: T; calls: string[] }> => {
      const from = alice.calls.length;
      const load = await alice.firstLoad();
      expect(load.refresh).toBe("skipped");
      await alice.users.listUserNotifications({ parent: "users/alice" });
      await alice.memoViews.listMemoViews({ parent: "users/alice" });
      const result = await page();
      const calls = alice.callsSince(from);
      expect(calls.slice(0, FIRST_LOAD_SIGNED_IN.length + common.length)).toEqual([...FIRST_LOAD_SIGNED_IN, ...common]);
      expect(alice.calls.slice(from).every((c) => c.outcome === undefined)).toBe(true);
      return { result, calls: calls.slice(FIRST_LOAD_SIGNED_IN.length + common.length) };
    };

    // /explore, signed in: PUBLIC and PROTECTED memos of everyone, never another's PRIVATE one.
    const explore = await visit(async () => {
      const filter = 'visibility in ["PUBLIC", "PROTECTED"]';
      const stats = await alice.users.listAllUserStats({ state: State.NORMAL, filter });
      const list = await alice.memos.listMemos({ pageSize: 16, state: State.NORMAL, orderBy: "create_time desc", filter });
      const users = await alice.users.batchGetUsers({ usernames: [...new Set(list.memos.map((m) => m.creator.slice(6)))] });
      return { stats, list, users };
    });
    expect(explore.calls).toEqual(["UserService/ListAllUserStats", "MemoService/ListMemos", "UserService/BatchGetUsers"]);
    const shown = explore.result.list.memos.map((m) => m.name);
    expect(shown).toContain(memos.bobProtected!.name);
    expect(shown).toContain(memos.bobPublic!.name);
    expect(shown).not.toContain(memos.bobPrivate!.name);
    expect(shown).not.toContain(memos.photo!.name);
    for (const m of explore.result.list.memos) expect([Visibility.PUBLIC, Visibility.PROTECTED]).toContain(m.visibility);
    const resolvable = new Set(explore.result.users.users.map((u) => u.name));
    for (const m of explore.result.list.memos) expect(resolvable.has(m.creator)).toBe(true);
    expect(new Map(explore.result.stats.stats.map((s) => [s.name, s.totalMemoCount])).get("users/bob/stats")).toBe(2);

    // /archived
    const archived = await visit(async () => {
      const stats = await alice.users.listAllUserStats({ state: State.ARCHIVED });
      const list = await alice.memos.listMemos({ ...homeListRequest("alice"), state: State.ARCHIVED });
      return { stats, list };
    });
    expect(archived.calls).toEqual(["UserService/ListAllUserStats", "MemoService/ListMemos"]);
    expect(archived.result.list.memos.map((m) => [m.name, m.state])).toEqual([[memos.alice4!.name, State.ARCHIVED]]);

    // /attachments
    const attachments = await visit(async () => {
      const all = await alice.attachments.listAttachments({ pageSize: 1000, orderBy: "create_time desc" });
      const page = await alice.attachments.listAttachments({ pageSize: 50, orderBy: "create_time desc" });
      return { all, page };
    });
    expect(attachments.calls).toEqual(["AttachmentService/ListAttachments", "AttachmentService/ListAttachments"]);
    for (const list of [attachments.result.all, attachments.result.page]) {
      expect(list.attachments.map((a) => [a.name, a.filename, a.memo])).toEqual([[photoAttachment.name, photoAttachment.filename, memos.photo!.name]]);
    }

    // /inbox: nothing beyond the common set, whose ListUserNotifications holds bob's comment and mention.
    const inbox = await visit(() => alice.users.listUserNotifications({ parent: "users/alice" }));
    expect(inbox.calls).toEqual(["UserService/ListUserNotifications"]);
    expect(inbox.result.notifications.length).toBeGreaterThanOrEqual(1);
    for (const n of inbox.result.notifications) {
      expect(n.name).toMatch(/^users\/alice\/notifications\/\d+$/);
      expect(n.sender).toBe("users/bob");
    }

    // /u/alice (own profile)
    const profile = await visit(async () => {
      const stats = await alice.users.getUserStats({ name: "users/alice" });
      const list = await alice.memos.listMemos(homeListRequest("alice"));
      return { stats, list };
    });
    expect(profile.calls).toEqual(["UserService/GetUserStats", "MemoService/ListMemos"]);
    expect(profile.result.stats.totalMemoCount).toBe(20);
    expect(profile.result.list.memos.every((m) => m.creator === "users/alice")).toBe(true);

    // /setting (My Account)
    const setting = await visit(async () => {
      const idps = await alice.idps.listIdentityProviders({});
      const linked = await alice.users.listLinkedIdentities({ parent: "users/alice" });
      return { idps, linked };
    });
    expect(setting.calls).toEqual(["IdentityProviderService/ListIdentityProviders", "UserService/ListLinkedIdentities"]);
    expect(setting.result.idps.identityProviders).toEqual([]);
    expect(setting.result.linked.linkedIdentities).toEqual([]);

    // /about
    const about = await visit(() => alice.users.getUserStats({ name: "users/alice" }));
    expect(about.calls).toEqual(["UserService/GetUserStats"]);
    expect(about.result.name).toBe("users/alice/stats");
  });
});
