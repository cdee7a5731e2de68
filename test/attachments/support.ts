/** Helpers of the attachment tests: Connect clients with a bearer token, REST calls, row/blob checks. */
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AttachmentService } from "../../gen/memos/api/v1/attachment_service_pb.js";
import { MemoService } from "../../gen/memos/api/v1/memo_service_pb.js";
import type { BlobStore } from "../../src/blob/blob-store.js";
import type { Db } from "../../src/store/database.js";

/** 1x1 GIF of spec §9 (42 bytes). */
export const PIXEL_GIF_BASE64 = "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
export const PIXEL_GIF = Buffer.from(PIXEL_GIF_BASE64, "base64");

export interface AttachmentClients {
  readonly attachments: Client<typeof AttachmentService>;
  readonly memos: Client<typeof MemoService>;
}

/** Binary Connect clients (like the web app), with `Authorization: Bearer token` when given. */
export function attachmentClients(baseUrl: string, token?: string): AttachmentClients {
  const auth: Interceptor = (next) => (req) => {
    if (token !== undefined) req.header.set("Authorization", `Bearer ${token}`);
    return next(req);
  };
  const transport = createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, interceptors: [auth] });
  const make = <S extends DescService>(s: S) => createClient(s, transport);
  return { attachments: make(AttachmentService), memos: make(MemoService) };
}

/** A REST call; answers status and parsed JSON (or text). */
export async function rest(
  baseUrl: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(baseUrl + path, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { "content-type": "application/json" }),
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: typeof options.body === "string" ? options.body : JSON.stringify(options.body) }),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { text };
  }
  return { status: res.status, json, headers: res.headers };
}

/** Every key in the blob store, except derived ones. */
export async function blobKeys(blobs: BlobStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of blobs.list("")) if (!key.startsWith("derived/")) keys.push(key);
  return keys.sort();
}

/** The number of attachment rows. */
export async function attachmentCount(db: Db): Promise<number> {
  const row = await db.selectFrom("attachment").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Polls `check` until it is true or `ms` pass. */
export async function eventually(check: () => Promise<boolean>, ms = 3000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}
