/** Helpers for MemoService tests: apps on either driver, clients like the web app's, factories. */
import { randomBytes } from "node:crypto";
import type { DescService, MessageInitShape } from "@bufbuild/protobuf";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { LogEvent } from "kysely";
import { AttachmentService } from "../../gen/memos/api/v1/attachment_service_pb.js";
import { MemoService, Visibility, type Memo, type MemoSchema } from "../../gen/memos/api/v1/memo_service_pb.js";
import { ACCESS_SETTING, formatAccessMode } from "../../src/auth/access-mode-store.js";
import { openDatabase } from "../../src/store/database.js";
import { createSystemSettingRepository } from "../../src/store/system-setting-repository.js";
import { signUpAndIn, uniqueName } from "../auth/support.js";
import { startTestApp, type TestApp } from "../support/app.js";
import { startPostgres } from "../support/postgres.js";

export { codeOf, errorOf, uniqueName } from "../auth/support.js";

/** A test app plus a counter of the SQL statements it ran. */
export interface MemoTestApp extends TestApp {
  /** Statements run since the start (every query Kysely sent, migrations included). */
  readonly queries: { count: number; log: string[] };
  setAccessMode(mode: "PUBLIC" | "PRIVATE"): Promise<void>;
}

/** The real app on PGlite (in memory) or a throwaway Postgres server, with a query counter. */
export async function startMemoApp(driver: "pglite" | "postgres" = "pglite"): Promise<MemoTestApp> {
  const queries = { count: 0, log: [] as string[] };
  const log = (event: LogEvent) => {
    if (event.level !== "query") return;
    queries.count++;
    if (queries.log.length < 10_000) queries.log.push(event.query.sql);
  };
  const server = driver === "postgres" ? await startPostgres() : undefined;
  try {
    const database = server === undefined ? await openDatabase({ driver: "pglite", log }) : await openDatabase({ driver: "postgres", dsn: server.dsn, log });
    const t = await startTestApp({}, { database });
    return {
      ...t,
      queries,
      async setAccessMode(mode) {
        await createSystemSettingRepository(t.app.database.db).upsert(ACCESS_SETTING, formatAccessMode(mode));
      },
      async close() {
        try {
          await t.close();
        } finally {
          server?.stop();
        }
      },
    };
  } catch (err) {
    server?.stop();
    throw err;
  }
}

/** A signed-in user with clients speaking binary Connect over HTTP/1.1, like the web app. */
export interface TestUser {
  readonly username: string;
  readonly name: string;
  readonly userId: number;
  readonly token: string;
  readonly memos: Client<typeof MemoService>;
  readonly attachments: Client<typeof AttachmentService>;
}

function transport(baseUrl: string, token: string | undefined) {
  const auth: Interceptor = (next) => (req) => {
    if (token !== undefined) req.header.set("Authorization", `Bearer ${token}`);
    return next(req);
  };
  return createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, interceptors: [auth] });
}

/** A MemoService client for `token` (the same user on another server, e.g. a second replica). */
export function memoClient(baseUrl: string, token: string | undefined): Client<typeof MemoService> {
  return createClient(MemoService, transport(baseUrl, token));
}

/** Clients of an anonymous caller. */
export function anonymous(baseUrl: string): { memos: Client<typeof MemoService> } {
  return { memos: createClient(MemoService, transport(baseUrl, undefined)) };
}

/** Signs up a unique user through UserService/AuthService (the first one of an app is its admin). */
export async function newUser(baseUrl: string, prefix = "m"): Promise<TestUser> {
  const u = await signUpAndIn(baseUrl, uniqueName(prefix));
  const make = <S extends DescService>(s: S) => createClient(s, transport(baseUrl, u.accessToken));
  return {
    username: u.username,
    name: `users/${u.username}`,
    userId: u.userId,
    token: u.accessToken,
    memos: make(MemoService),
    attachments: make(AttachmentService),
  };
}

/** Creates a memo as `user` with unique content (override anything). */
export async function newMemo(user: TestUser, memo: MessageInitShape<typeof MemoSchema> & { memoId?: string } = {}): Promise<Memo> {
  const { memoId, ...fields } = memo;
  return user.memos.createMemo({
    memo: { content: `memo ${randomBytes(4).toString("hex")}`, visibility: Visibility.PRIVATE, ...fields },
    ...(memoId === undefined ? {} : { memoId }),
  });
}

/** A REST call; answers status, headers and the parsed JSON body. */
export async function rest(baseUrl: string, method: string, path: string, options: { token?: string; body?: unknown } = {}) {
  const res = await fetch(baseUrl + path, {
    method,
    headers: {
      ...(options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` }),
      ...(options.body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text === "" ? undefined : (JSON.parse(text) as Record<string, any>) };
}
