/**
 * What the web app's home page load (flow E: the cold set, the home calls and the card
 * thumbnails) costs the database, counted statement by statement: each authenticated call reads
 * the caller once, and an `<img>` request reads its attachment and checks the cookie, nothing more.
 */
import sharp from "sharp";
import { Visibility } from "../../gen/memos/api/v1/memo_service_pb.js";
import { openDatabase } from "../../src/store/database.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { createWebAppClient, type WebAppClient } from "./web-app-client.js";

describe("statements per home page load", () => {
  let t: TestApp;
  let statements = 0;
  let app: WebAppClient;

  beforeAll(async () => {
    const database = await openDatabase({ driver: "pglite", log: () => void statements++ });
    t = await startTestApp({}, { database });
    app = createWebAppClient(t.baseUrl, { meter: () => statements });
    await app.firstLoad();
    await app.users.createUser({ user: { username: "alice", password: "secret-password" } });
    await app.signIn("alice", "secret-password");
    const jpeg = await sharp({ create: { width: 800, height: 600, channels: 3, background: "#5588aa" } }).jpeg().toBuffer();
    for (let i = 0; i < 20; i++) {
      const attachments = [];
      if (i >= 4 && i % 3 === 0) {
        const a = await app.attachments.createAttachment({
          attachment: { filename: `photo-${i}.jpg`, type: "image/jpeg", size: BigInt(jpeg.length), content: jpeg },
        });
        attachments.push({ name: a.name });
      }
      await app.memos.createMemo({ memo: { content: `note ${i} #home`, visibility: Visibility.PRIVATE, attachments } });
    }
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  async function homeLoad(): Promise<Array<[string, number]>> {
    const from = app.calls.length;
    expect((await app.firstLoad()).refresh).toBe("skipped");
    const home = await app.homeLoad("alice");
    for (const m of home.memos.memos) {
      for (const a of m.attachments) expect((await app.get(`/file/${a.name}/${a.filename}?thumbnail=true`)).status).toBe(200);
    }
    return app.calls.slice(from).map((c) => [c.call.startsWith("GET /file/") ? "GET thumbnail" : c.call, c.metered]);
  }

  test("two statements at most per call, and thirty for the whole load", async () => {
    await homeLoad(); // generates the thumbnails and lets the memo-event listeners settle
    await new Promise((r) => setTimeout(r, 300));
    const calls = await homeLoad();
    expect(calls.map(([call]) => call)).toEqual([
      "InstanceService/GetInstanceProfile",
      "InstanceService/BatchGetInstanceSettings",
      "AuthService/GetCurrentUser",
      "InstanceService/GetInstanceSetting",
      "UserService/ListUserSettings",
      "UserService/ListUserNotifications",
      "MemoViewService/ListMemoViews",
      "UserService/GetUserStats",
      "InstanceService/GetInstanceSetting",
      "MemoService/ListMemos",
      ...Array<string>(5).fill("GET thumbnail"),
    ]);
    // The token check reads the caller once per call, and services take that row; the settings
    // batch reads one row per setting; an <img> reads its attachment and checks the cookie.
    const limit = (call: string) => (call === "AuthService/GetCurrentUser" ? 1 : call === "InstanceService/BatchGetInstanceSettings" ? 3 : 2);
    for (const [call, n] of calls) expect([call, n <= limit(call)]).toEqual([call, true]);
    expect(calls.reduce((sum, [, n]) => sum + n, 0)).toBeLessThanOrEqual(30);
  });
});
