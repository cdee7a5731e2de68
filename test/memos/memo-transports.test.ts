/** MemoService over REST (gateway JSON, spec §6.2 and §9 shapes), gRPC and Connect JSON. */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { MemoService, Visibility } from "../../gen/memos/api/v1/memo_service_pb.js";
import { newAttachment } from "./attachments-support.js";
import { newUser, rest, startMemoApp, type MemoTestApp, type TestUser } from "./support.js";

let t: MemoTestApp;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  t = await startMemoApp();
  await newUser(t.baseUrl, "admin");
  alice = await newUser(t.baseUrl, "alice");
  bob = await newUser(t.baseUrl, "bob");
}, 60_000);
afterAll(async () => {
  await t?.close();
});

const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

describe("REST", () => {
  test("the §9 walk-through: create with a managed image, pin, list, react, refused unbinding, comments, delete", async () => {
    const pixel = await newAttachment(t, alice, { type: "image/gif", bytes: Buffer.from("GIF89a") });
    const id = `hello-${Date.now()}`;
    const created = await rest(t.baseUrl, "POST", `/api/v1/memos?memoId=${id}`, {
      token: alice.token,
      body: { content: `Hello #world\n\n![p](/file/attachments/${pixel.uid})`, visibility: "PUBLIC", attachments: [{ name: pixel.name }] },
    });
    expect(created.status).toBe(200);
    expect(created.json).toEqual({
      name: `memos/${id}`,
      state: "NORMAL",
      creator: alice.name,
      createTime: ISO,
      updateTime: ISO,
      content: `Hello #world\n\n![p](/file/attachments/${pixel.uid})`,
      visibility: "PUBLIC",
      tags: ["world"],
      pinned: false,
      attachments: [
        {
          name: pixel.name,
          createTime: ISO,
          filename: `${pixel.uid}.png`,
          content: "",
          externalLink: "",
          type: "image/gif",
          size: "6",
          memo: `memos/${id}`,
        },
      ],
      relations: [],
      reactions: [],
      property: { hasLink: false, hasTaskList: false, hasCode: false, hasIncompleteTasks: false, title: "" },
      snippet: "Hello #world p",
    });

    const pinned = await rest(t.baseUrl, "PATCH", `/api/v1/memos/${id}?updateMask=pinned,update_time`, { token: alice.token, body: { pinned: true } });
    expect(pinned).toMatchObject({ status: 200, json: { pinned: true, updateTime: ISO } });
    // Without updateMask the mask is inferred from the body's keys.
    const inferred = await rest(t.baseUrl, "PATCH", `/api/v1/memos/${id}`, { token: alice.token, body: { visibility: "PROTECTED" } });
    expect(inferred).toMatchObject({ status: 200, json: { visibility: "PROTECTED", pinned: true } });

    const filter = encodeURIComponent('tag in ["world"]');
    const list = await rest(t.baseUrl, "GET", `/api/v1/memos?pageSize=2&orderBy=${encodeURIComponent("pinned desc, create_time desc")}&filter=${filter}`, {
      token: bob.token,
    });
    expect(list).toMatchObject({ status: 200, json: { memos: [{ name: `memos/${id}`, relations: [], reactions: [] }], nextPageToken: "" } });

    const reaction = await rest(t.baseUrl, "POST", `/api/v1/memos/${id}/reactions`, { token: bob.token, body: { reaction: { reactionType: "👍" } } });
    expect(reaction).toMatchObject({
      status: 200,
      json: { name: expect.stringMatching(new RegExp(`^memos/${id}/reactions/\\d+$`)), creator: bob.name, reactionType: "👍", createTime: ISO },
    });
    const reactions = await rest(t.baseUrl, "GET", `/api/v1/memos/${id}/reactions`, { token: alice.token });
    expect(reactions.json).toEqual({ reactions: [reaction.json], nextPageToken: "" });

    const unbind = await rest(t.baseUrl, "PATCH", `/api/v1/memos/${id}/attachments`, { token: alice.token, body: { attachments: [] } });
    expect(unbind).toMatchObject({
      status: 400,
      json: { code: 9, message: `managed image attachment ${pixel.uid} must be bound to the memo`, details: [] },
    });

    const comment = await rest(t.baseUrl, "POST", `/api/v1/memos/${id}/comments?commentId=${id}-c`, { token: bob.token, body: { content: "nice" } });
    expect(comment).toMatchObject({ status: 200, json: { name: `memos/${id}-c`, parent: `memos/${id}`, visibility: "PROTECTED" } });
    const comments = await rest(t.baseUrl, "GET", `/api/v1/memos/${id}/comments`, { token: alice.token });
    expect(comments.json).toMatchObject({ memos: [{ name: `memos/${id}-c` }], nextPageToken: "" });
    const relations = await rest(t.baseUrl, "GET", `/api/v1/memos/${id}/relations`, { token: alice.token });
    expect(relations.json).toEqual({
      relations: [{ memo: { name: `memos/${id}-c`, snippet: "nice" }, relatedMemo: { name: `memos/${id}`, snippet: "Hello #world p" }, type: "COMMENT" }],
      nextPageToken: "",
    });
    const attachments = await rest(t.baseUrl, "GET", `/api/v1/memos/${id}/attachments`, { token: bob.token });
    expect(attachments.json).toMatchObject({ attachments: [{ name: pixel.name }], nextPageToken: "" });

    expect(await rest(t.baseUrl, "DELETE", `/api/v1/memos/${id}`, { token: alice.token })).toMatchObject({ status: 200, json: {} });
    expect(await rest(t.baseUrl, "GET", `/api/v1/memos/${id}`, { token: alice.token })).toMatchObject({
      status: 404,
      json: { code: 5, message: "memo not found", details: [] },
    });
  });

  test("empty lists still carry every array and an empty nextPageToken", async () => {
    const res = await rest(t.baseUrl, "GET", `/api/v1/memos?filter=${encodeURIComponent('tag in ["nothing-has-this-tag"]')}`, { token: alice.token });
    expect(res).toMatchObject({ status: 200, json: { memos: [], nextPageToken: "" } });
  });

  test("relations and shares over REST; link metadata is not implemented", async () => {
    const a = (await rest(t.baseUrl, "POST", "/api/v1/memos", { token: alice.token, body: { content: "a" } })).json!;
    const b = (await rest(t.baseUrl, "POST", "/api/v1/memos", { token: alice.token, body: { content: "b" } })).json!;
    const set = await rest(t.baseUrl, "PATCH", `/api/v1/${a.name}/relations`, {
      token: alice.token,
      body: { relations: [{ relatedMemo: { name: b.name }, type: "REFERENCE" }] },
    });
    expect(set).toMatchObject({ status: 200, json: {} });
    expect((await rest(t.baseUrl, "GET", `/api/v1/${a.name}`, { token: alice.token })).json!.relations).toEqual([
      { memo: { name: a.name, snippet: "a" }, relatedMemo: { name: b.name, snippet: "b" }, type: "REFERENCE" },
    ]);

    const share = await rest(t.baseUrl, "POST", `/api/v1/${a.name}/shares`, { token: alice.token, body: {} });
    expect(share).toMatchObject({ status: 200, json: { name: expect.stringMatching(new RegExp(`^${a.name}/shares/`)), createTime: ISO } });
    const token = (share.json!.name as string).split("/")[3];
    const shared = await rest(t.baseUrl, "GET", `/api/v1/shares/${token}/memo`);
    expect(shared).toMatchObject({ status: 200, json: { name: a.name, content: "a", relations: [] } });
    expect(shared.json!.parent).toBeUndefined();
    expect((await rest(t.baseUrl, "GET", `/api/v1/${a.name}/shares`, { token: alice.token })).json).toEqual({ memoShares: [share.json] });
    expect(await rest(t.baseUrl, "DELETE", `/api/v1/${share.json!.name as string}`, { token: alice.token })).toMatchObject({ status: 200 });

    const link = await rest(t.baseUrl, "GET", "/api/v1/memos/-/linkMetadata?url=https%3A%2F%2Fexample.com", { token: alice.token });
    expect(link).toMatchObject({ status: 501, json: { code: 12 } });
  });
});

test("Connect JSON omits default values", async () => {
  const memo = await alice.memos.createMemo({ memo: { content: "json", visibility: Visibility.PUBLIC } });
  const res = await fetch(`${t.baseUrl}/memos.api.v1.MemoService/GetMemo`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${bob.token}` },
    body: JSON.stringify({ name: memo.name }),
  });
  expect(res.status).toBe(200);
  const json = (await res.json()) as Record<string, unknown>;
  expect(json).toMatchObject({ name: memo.name, content: "json", visibility: "PUBLIC", state: "NORMAL" });
  expect(json.pinned).toBeUndefined();
  expect(json.reactions).toBeUndefined();
});

test("gRPC over HTTP/2: create, get, list", async () => {
  const sessionManager = new Http2SessionManager(t.baseUrl);
  try {
    const client = createClient(
      MemoService,
      createGrpcTransport({
        baseUrl: t.baseUrl,
        sessionManager,
        interceptors: [(next) => (req) => (req.header.set("Authorization", `Bearer ${alice.token}`), next(req))],
      }),
    );
    const created = await client.createMemo({ memo: { content: "over grpc #grpc", visibility: Visibility.PROTECTED } });
    expect(created).toMatchObject({ creator: alice.name, tags: ["grpc"], visibility: Visibility.PROTECTED });
    await expect(client.getMemo({ name: created.name })).resolves.toMatchObject({ name: created.name, snippet: "over grpc #grpc" });
    const listed = await client.listMemos({ filter: `tag in ["grpc"]` });
    expect(listed.memos.map((m) => m.name)).toEqual([created.name]);
  } finally {
    sessionManager.abort();
  }
});
