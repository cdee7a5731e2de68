import { create } from "@bufbuild/protobuf";
import { EmptySchema, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  ListUserNotificationsResponseSchema,
  UserNotification_MemoCommentPayloadSchema,
  UserNotification_MemoMentionPayloadSchema,
  UserNotification_Status,
  UserNotification_Type,
  UserNotificationSchema,
  type UserNotification,
  type UserService,
} from "../../gen/memos/api/v1/user_service_pb.js";
import { extractMentions } from "../domain/markdown/mentions.js";
import { parseMemoMarkdown } from "../domain/markdown/memo-markdown.js";
import { snippetOf } from "../domain/memo-payload.js";
import { decodeOffsetToken, encodeOffsetToken } from "../domain/page-token.js";
import { parseResourceName, parseUserName } from "../domain/resource-name.js";
import type { Logger } from "../logger.js";
import type { InboxMemo, InboxRecord, InboxRepository } from "../store/inbox-repository.js";
import type { MemoRepository } from "../store/memo-repository.js";
import type { UserRepository, UserRow } from "../store/user-repository.js";
import { loadCaller, viewerOf } from "./caller.js";
import { audienceIncludes, audienceOf, type MemoAudience } from "./memo-audience.js";
import type { MemoEvent, MemoEventBus } from "./memo-events.js";
import { toUserMessage } from "./user-message.js";

/** What the notification RPCs need. */
export interface UserNotificationDeps {
  readonly users: UserRepository;
  readonly inbox: InboxRepository;
}

/**
 * Page size when the request names none. The reference answers every notification at once and
 * the web app does not page, so an unset size means the largest page rather than 50.
 */
const DEFAULT_PAGE_SIZE = 1000;
const MAX_PAGE_SIZE = 1000;

/**
 * UserService ListUserNotifications / UpdateUserNotification / DeleteUserNotification over the
 * `inbox` table: a user's own notifications only, named `users/{username}/notifications/{id}`.
 * A notification whose sender is gone, or whose memos the user can no longer read (deleted,
 * archived, made private), is left out and cannot be updated (NotFound), as the reference does.
 */
export function createUserNotificationRpcs(
  deps: UserNotificationDeps,
): Pick<ServiceImpl<typeof UserService>, "listUserNotifications" | "updateUserNotification" | "deleteUserNotification"> {
  const requireSelf = async (ctx: HandlerContext, username: string): Promise<UserRow> => {
    const caller = await loadCaller(ctx, deps.users);
    if (caller === undefined) throw new ConnectError("user not authenticated", Code.Unauthenticated);
    if (caller.username !== username) {
      if ((await deps.users.findByUsername(username)) === undefined) throw new ConnectError("user not found", Code.NotFound);
      throw new ConnectError("permission denied", Code.PermissionDenied);
    }
    return caller;
  };
  const notFound = () => new ConnectError("notification not found", Code.NotFound);

  /** The caller's notification `name` names, shown as it would be listed; NotFound otherwise. */
  const ownNotification = async (ctx: HandlerContext, name: string): Promise<{ caller: UserRow; record: InboxRecord }> => {
    const ids = parseResourceName(name, ["users", "notifications"]);
    if (ids === undefined || !/^\d{1,9}$/.test(ids[1]!)) throw new ConnectError(`invalid notification name: ${name}`, Code.InvalidArgument);
    const caller = await requireSelf(ctx, ids[0]!);
    const record = await deps.inbox.findById(Number(ids[1]));
    if (record === undefined || record.receiverId !== caller.id || toNotification(record, caller) === undefined) throw notFound();
    return { caller, record };
  };

  return {
    async listUserNotifications(req, ctx) {
      const username = parseUserName(req.parent);
      if (username === undefined) throw new ConnectError(`invalid user name: ${req.parent}`, Code.InvalidArgument);
      const caller = await requireSelf(ctx, username);
      const status = parseStatusFilter(req.filter);
      let page = { limit: req.pageSize <= 0 ? DEFAULT_PAGE_SIZE : Math.min(req.pageSize, MAX_PAGE_SIZE), offset: 0 };
      if (req.pageToken !== "") {
        const token = decodeOffsetToken(req.pageToken);
        if (token === undefined) throw new ConnectError(`invalid page token: ${req.pageToken}`, Code.InvalidArgument);
        page = token;
      }
      const rows = await deps.inbox.listForReceiver(caller.id, { ...(status === undefined ? {} : { status }), limit: page.limit + 1, offset: page.offset });
      const more = rows.length > page.limit;
      // Paged over stored rows, so a page may hold fewer than `limit` after hidden ones are left out.
      const notifications = rows.slice(0, page.limit).flatMap((row) => toNotification(row, caller) ?? []);
      return create(ListUserNotificationsResponseSchema, {
        notifications,
        nextPageToken: more ? encodeOffsetToken({ limit: page.limit, offset: page.offset + page.limit }) : "",
      });
    },

    async updateUserNotification(req, ctx) {
      const input = req.notification;
      if (input === undefined) throw new ConnectError("notification is required", Code.InvalidArgument);
      const paths = req.updateMask?.paths ?? [];
      if (paths.length === 0) throw new ConnectError("update mask is required", Code.InvalidArgument);
      for (const path of paths) if (path !== "status") throw new ConnectError(`invalid update path: ${path}`, Code.InvalidArgument);
      const status =
        input.status === UserNotification_Status.UNREAD ? "UNREAD" : input.status === UserNotification_Status.ARCHIVED ? "ARCHIVED" : undefined;
      if (status === undefined) throw new ConnectError("invalid status: expected UNREAD or ARCHIVED", Code.InvalidArgument);
      const { caller, record } = await ownNotification(ctx, input.name);
      if (!(await deps.inbox.updateStatus(record.id, status))) throw notFound();
      return toNotification({ ...record, status }, caller)!;
    },

    async deleteUserNotification(req, ctx) {
      const { record } = await ownNotification(ctx, req.name);
      if (!(await deps.inbox.delete(record.id))) throw notFound();
      return create(EmptySchema);
    },
  };
}

/** `status == "UNREAD"` / `status == "ARCHIVED"` (either quote), or nothing. */
function parseStatusFilter(filter: string): string | undefined {
  if (filter.trim() === "") return undefined;
  const m = /^\s*status\s*==\s*(?:"(UNREAD|ARCHIVED)"|'(UNREAD|ARCHIVED)')\s*$/.exec(filter);
  if (m === null) throw new ConnectError('invalid filter: only status == "UNREAD" or status == "ARCHIVED" is supported', Code.InvalidArgument);
  return m[1] ?? m[2];
}

/** The message's type name (protobuf-JSON writes enum names; numbers are accepted too). */
function messageType(message: string): "MEMO_COMMENT" | "MEMO_MENTION" | undefined {
  let type: unknown;
  try {
    type = (JSON.parse(message) as { type?: unknown }).type;
  } catch {
    return undefined;
  }
  if (type === "MEMO_COMMENT" || type === 1) return "MEMO_COMMENT";
  if (type === "MEMO_MENTION" || type === 2) return "MEMO_MENTION";
  return undefined;
}

function readable(memo: InboxMemo | undefined, viewer: UserRow): memo is InboxMemo {
  if (memo === undefined) return false;
  const audience: MemoAudience = {
    creatorId: memo.creatorId,
    visibility: memo.visibility,
    rowStatus: memo.rowStatus,
    ...(memo.isComment ? { isComment: true, ...(memo.parent === undefined ? {} : { parent: memo.parent }) } : {}),
  };
  return audienceIncludes(audience, { userId: viewer.id, role: viewer.role });
}

/** The API message of an inbox row as `viewer` (its receiver) sees it, or `undefined` when hidden. */
function toNotification(record: InboxRecord, viewer: UserRow): UserNotification | undefined {
  const type = messageType(record.message);
  if (type === undefined || record.sender === undefined) return undefined;
  const memo = record.memo;
  if (!readable(memo, viewer)) return undefined;
  const related = record.relatedMemo;
  // A comment needs its parent; a mention's related memo (a comment's thread) only when named.
  if ((type === "MEMO_COMMENT" || related !== undefined || mentionNamesRelated(record.message)) && !readable(related, viewer)) return undefined;
  const snippet = (m: InboxMemo) => snippetOf(m.payload, m.content);
  const notification = create(UserNotificationSchema, {
    name: `users/${viewer.username}/notifications/${record.id}`,
    sender: `users/${record.sender.username}`,
    status: record.status === "UNREAD" ? UserNotification_Status.UNREAD : record.status === "ARCHIVED" ? UserNotification_Status.ARCHIVED : UserNotification_Status.STATUS_UNSPECIFIED,
    createTime: timestampFromMs(record.createdTs * 1000),
    type: type === "MEMO_COMMENT" ? UserNotification_Type.MEMO_COMMENT : UserNotification_Type.MEMO_MENTION,
    senderUser: toUserMessage(record.sender, viewerOf(viewer)),
  });
  const payload = {
    memo: `memos/${memo.uid}`,
    relatedMemo: related === undefined ? "" : `memos/${related.uid}`,
    memoSnippet: snippet(memo),
    relatedMemoSnippet: related === undefined ? "" : snippet(related),
  };
  notification.payload =
    type === "MEMO_COMMENT"
      ? { case: "memoComment", value: create(UserNotification_MemoCommentPayloadSchema, payload) }
      : { case: "memoMention", value: create(UserNotification_MemoMentionPayloadSchema, payload) };
  return notification;
}

/** Whether a MEMO_MENTION message names a related memo (then it must still be readable). */
function mentionNamesRelated(message: string): boolean {
  try {
    const id = (JSON.parse(message) as { memoMention?: { relatedMemoId?: unknown } }).memoMention?.relatedMemoId;
    return typeof id === "number" ? id > 0 : typeof id === "string" && id !== "" && id !== "0";
  } catch {
    return false;
  }
}

/** What the mention notifier needs. */
export interface MentionNotifierDeps {
  readonly memos: MemoRepository;
  readonly users: UserRepository;
  readonly inbox: InboxRepository;
  readonly logger: Pick<Logger, "warn">;
}

/** Writes MEMO_MENTION notifications for memo changes. */
export interface MentionNotifier {
  /** Handles one memo event; never rejects (failures are logged: notifications are best effort). */
  handle(event: MemoEvent): Promise<void>;
  /** Handles every event of `bus` from now on, one at a time in publish order; answers the unsubscribe function. */
  attach(bus: MemoEventBus): () => void;
  /** Resolves once every event received so far is handled (for shutdown and tests). */
  idle(): Promise<void>;
}

const MENTION_EVENTS = new Set(["memo.created", "memo.updated", "memo.comment.created"]);

/**
 * `@username` mentions (the reference's rules): when a memo or comment is created or changed, each
 * mentioned NORMAL user who may read it gets one UNREAD MEMO_MENTION notification about it,
 * from its creator. Left out: the creator themself; the parent's creator of a comment who already
 * gets a MEMO_COMMENT notification for it (a non-private comment by someone else); users who
 * already have a mention notification about that memo (so editing never notifies twice).
 * Runs after the change committed, on the replica that made it (the in-process bus), so each
 * change is handled once however many replicas run.
 */
export function createMentionNotifier(deps: MentionNotifierDeps): MentionNotifier {
  let tail: Promise<void> = Promise.resolve();
  const handle = async (event: MemoEvent): Promise<void> => {
    if (!MENTION_EVENTS.has(event.type)) return;
    try {
      const ids = parseResourceName(event.name, ["memos"]);
      if (ids === undefined) return;
      const record = await deps.memos.findByUid(ids[0]!);
      if (record === undefined || record.row_status !== "NORMAL" || !record.content.includes("@")) return;
      const names = extractMentions(parseMemoMarkdown(record.content));
      if (names.length === 0) return;
      const audience = audienceOf(record);
      const targets = await deps.users.findByUsernames(names, "NORMAL");
      const visibility = record.parent_id === null ? record.visibility : (record.parent_visibility ?? "PRIVATE");
      const commentNotified = (userId: number) =>
        record.parent_id !== null && userId === record.parent_creator_id && visibility !== "PRIVATE" && record.creator_id !== record.parent_creator_id;
      const receivers = targets
        .filter((t) => t.id !== record.creator_id && !commentNotified(t.id) && audienceIncludes(audience, { userId: t.id, role: t.role }))
        .map((t) => t.id);
      await deps.inbox.createMentions({
        senderId: record.creator_id,
        memoId: record.id,
        relatedMemoId: record.parent_id ?? undefined,
        receiverIds: receivers,
      });
    } catch (err) {
      deps.logger.warn({ err, event: event.type, memo: event.name }, "failed to write mention notifications");
    }
  };
  return {
    handle,
    attach(bus) {
      return bus.subscribe((event) => {
        tail = tail.then(() => handle(event));
      });
    },
    idle: () => tail,
  };
}
