import { create } from "@bufbuild/protobuf";
import { EmptySchema, timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { Attachment } from "../../gen/memos/api/v1/attachment_service_pb.js";
import { State } from "../../gen/memos/api/v1/common_pb.js";
import {
  ListMemoAttachmentsResponseSchema,
  ListMemoCommentsResponseSchema,
  ListMemoReactionsResponseSchema,
  ListMemoRelationsResponseSchema,
  ListMemoSharesResponseSchema,
  ListMemosResponseSchema,
  MemoRelation_Type,
  MemoShareSchema,
  type Memo,
  type MemoRelation,
  type MemoService,
  type MemoShare,
} from "../../gen/memos/api/v1/memo_service_pb.js";
import type { AccessModeReader } from "../auth/access-policy.js";
import type { BlobStore } from "../blob/blob-store.js";
import { memoReadDecision, type ReadDecision, type Viewer } from "../domain/attachment-access.js";
import { generateShortUuid, resolveUid } from "../domain/attachment-rules.js";
import { compileMemoFilter } from "../domain/filter/memo-filter.js";
import { decodeMemoPageToken, type KeysetTokenCodec } from "../domain/keyset-page-token.js";
import { analyzeMemoDocument, parseMemoMarkdown, type MemoMarkdown } from "../domain/markdown/memo-markdown.js";
import { findManagedAttachmentImages } from "../domain/markdown/managed-attachment-images.js";
import { checkManagedImages, motionGroupOf, planAttachmentSet, type AttachmentFacts } from "../domain/memo-attachments.js";
import { describeMemoOrder, keysetAfter, parseMemoOrderBy, sortValuesOf } from "../domain/memo-order.js";
import { formatMemoPayload, readMemoPayload, type MemoLocation } from "../domain/memo-payload.js";
import { normalizePageSize } from "../domain/page-token.js";
import { parseResourceName } from "../domain/resource-name.js";
import type { Logger } from "../logger.js";
import { derivedPrefix } from "../media/thumbnail.js";
import { createAttachmentRepository, type AttachmentMetaRow, type AttachmentRepository } from "../store/attachment-repository.js";
import type { Db } from "../store/database.js";
import { createInboxRepository } from "../store/inbox-repository.js";
import { createMemoRepository, type MemoPatch, type MemoRecord, type MemoRepository, type MemoScope, type PartsOptions } from "../store/memo-repository.js";
import { createMemoShareRepository, type MemoShareRow } from "../store/memo-share-repository.js";
import { createReactionRepository } from "../store/reaction-repository.js";
import { isUniqueViolation, type UserRepository, type UserRow } from "../store/user-repository.js";
import { storedContent } from "./attachment-file-access.js";
import { toAttachmentMessage } from "./attachment-message.js";
import { loadCaller } from "./caller.js";
import type { InstanceSettings } from "./instance-settings.js";
import { audienceOf, type MemoAudience } from "./memo-audience.js";
import type { MemoEvents } from "./memo-events.js";
import { effectiveVisibility, relationsOfMemo, storedVisibility, toFullMemoMessage, toReactionMessage, toRelationMessage } from "./memo-message.js";

/** What MemoService needs from the rest of the server. */
export interface MemoServiceDeps {
  readonly db: Db;
  readonly users: UserRepository;
  readonly settings: InstanceSettings;
  readonly readAccessMode: AccessModeReader;
  /** Where attachment bytes and their thumbnails live (deleted with their memo). */
  readonly blobs: BlobStore;
  /** Changes are published here after they commit. */
  readonly events: MemoEvents;
  /** Signs and checks ListMemos / ListMemoComments page tokens (keyset cursors). */
  readonly pageTokens: KeysetTokenCodec;
  /** The configured instance URL, for absolute managed image URLs (spec §6.6). */
  readonly instanceUrl?: string;
  readonly logger: Pick<Logger, "warn">;
  /** Milliseconds since the epoch. Default `Date.now`. */
  readonly clock?: () => number;
}

const MEMO_NOT_FOUND = "memo not found";
/** UpdateMemo mask paths that set a column of the memo row and nothing else (spec §6.8). */
const COLUMN_ONLY_PATHS: ReadonlySet<string> = new Set(["pinned", "state", "create_time", "update_time"]);

/**
 * MemoService (spec §6): memos with visibility rules, derived Markdown fields, the filter language,
 * keyset-paged lists, comments, relations, reactions, attachment binding and shares. Link metadata
 * (§6.14) is not implemented (those RPCs answer `unimplemented`).
 *
 * Transactions: every write that touches more than one row (create with attachments/relations/
 * comment relation/inbox, update, set attachments/relations, delete with its cascade) runs in one
 * transaction; stored blobs of deleted attachments are removed after it commits (best effort,
 * logged), and events are published after it commits.
 */
export function createMemoService(deps: MemoServiceDeps): Partial<ServiceImpl<typeof MemoService>> {
  const clock = deps.clock ?? Date.now;
  const nowSeconds = () => Math.floor(clock() / 1000);
  const memos = createMemoRepository(deps.db);
  const attachments = createAttachmentRepository(deps.db);
  const reactions = createReactionRepository(deps.db);
  const shares = createMemoShareRepository(deps.db);

  const requireCaller = async (ctx: HandlerContext): Promise<UserRow> => {
    const caller = await loadCaller(ctx, deps.users);
    if (caller === undefined) throw new ConnectError("user not authenticated", Code.Unauthenticated);
    return caller;
  };
  const instanceIsPublic = async () => (await deps.readAccessMode()) === "PUBLIC";

  const memoByName = async (name: string): Promise<MemoRecord> => {
    const record = await memos.findByUid(memoUidOf(name));
    if (record === undefined) throw new ConnectError(MEMO_NOT_FOUND, Code.NotFound);
    return record;
  };

  /** Spec §6.3 read rules for `record` as seen by `caller`; throws the denial. */
  const checkRead = async (record: MemoRecord, caller: UserRow | undefined): Promise<void> => {
    const viewer = viewerOfRow(caller);
    const facts = audienceOf(record);
    // The instance mode only matters to an anonymous reader of a PUBLIC memo: read it only then.
    const isPublic = viewer === undefined && effectiveVisibility(record) === "PUBLIC" ? await instanceIsPublic() : false;
    throwDenial(memoReadDecision(facts, viewer, isPublic));
  };

  const requireWriter = (record: MemoRecord, caller: UserRow) => {
    if (caller.id !== record.creator_id && caller.role !== "ADMIN") throw new ConnectError("permission denied", Code.PermissionDenied);
  };

  /**
   * The full message of one memo, fresh from the database, relation snippets filled, and who may
   * read it (for the event about the change).
   */
  const readMemoMessage = async (uid: string, caller: UserRow | undefined): Promise<{ memo: Memo; audience: MemoAudience }> => {
    const record = await memos.findByUid(uid, fullParts(caller));
    if (record === undefined) throw new ConnectError(MEMO_NOT_FOUND, Code.NotFound);
    return { memo: toFullMemoMessage(record), audience: audienceOf(record) };
  };

  /** Deletes stored bytes and thumbnails of attachments whose rows are gone (after commit). */
  const deleteStoredBytes = async (rows: readonly AttachmentMetaRow[]) => {
    await Promise.all(
      rows.map(async (row) => {
        try {
          const content = storedContent(row);
          if (content.kind === "blob") await deps.blobs.delete(content.key);
          await deps.blobs.deletePrefix(derivedPrefix(row.uid));
        } catch (err) {
          deps.logger.warn({ err, attachment: row.uid }, "failed to delete the stored bytes of a deleted attachment");
        }
      }),
    );
  };

  const contentLimit = async () => (await deps.settings.memoRelated()).contentLengthLimit;
  const checkContentLength = (content: string, limit: number) => {
    if (Buffer.byteLength(content, "utf8") > limit) {
      throw new ConnectError(`content too long (max ${limit} characters)`, Code.InvalidArgument);
    }
  };

  /** Parses content once: derived fields plus managed image UIDs (spec §6.5, §6.6). */
  const analyzeContent = (content: string): { derived: MemoMarkdown; managed: string[] } => {
    const doc = parseMemoMarkdown(content);
    const managed = domainCall(() => findManagedAttachmentImages(doc, { instanceUrl: deps.instanceUrl }));
    return { derived: analyzeMemoDocument(doc), managed };
  };

  /**
   * Creates a memo or, with `parent`, a comment (spec §6.4, §6.11), in one transaction: the row,
   * its attachments, its REFERENCE relations and, for a comment, the COMMENT relation and the
   * parent creator's inbox notification.
   */
  const createMemoRecord = async (caller: UserRow, input: Memo, requestedId: string, parent?: MemoRecord): Promise<string> => {
    const resolved = resolveUid(requestedId);
    if (!resolved.ok) throw new ConnectError(resolved.message, Code.InvalidArgument);
    const uid = resolved.uid;
    checkContentLength(input.content, await contentLimit());
    const { derived, managed } = analyzeContent(input.content);
    const visibility = parent !== undefined ? effectiveVisibility(parent) : storedVisibility(input.visibility);
    const createdTs = validSeconds(input.createTime);
    const updatedTs = validSeconds(input.updateTime);
    const payload = formatMemoPayload(derived, locationOf(input.location));
    const attachmentUids = input.attachments.map((a) => attachmentUidOf(a));
    const relationUids = prepareRelationUids(input.relations, uid);
    const now = nowSeconds();

    // A memo without attachments, relations or parent is one INSERT: no transaction needed.
    const simple = attachmentUids.length === 0 && relationUids.length === 0 && parent === undefined;
    const run = (write: (db: Db) => Promise<void>) => (simple ? write(deps.db) : deps.db.transaction().execute(write));
    await run(async (trx) => {
      const tx = repositoriesOf(trx);
      const relatedIds = await resolveRelatedIds(tx.memos, relationUids);
      const found = await factsByUid(tx.attachments, attachmentUids);
      const plan = domainCall(() =>
        planAttachmentSet({ requestedUids: attachmentUids, found, memoId: undefined, memoCreatorId: caller.id, current: [] }),
      );
      domainCall(() => checkManagedImages(managed, plan.result));
      let row;
      try {
        row = await tx.memos.insert({
          uid,
          creator_id: caller.id,
          content: input.content,
          visibility,
          payload,
          // The app's clock, not the column default (which rounds where the app truncates).
          created_ts: createdTs ?? now,
          updated_ts: updatedTs ?? now,
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConnectError(`memo with ID ${JSON.stringify(uid)} already exists`, Code.AlreadyExists);
        throw err;
      }
      await bindAll(tx.attachments, row.id, plan.result, now);
      if (relatedIds.length > 0) await tx.memos.replaceReferences(row.id, relatedIds);
      if (parent !== undefined) {
        await tx.memos.addRelation(row.id, parent.id, "COMMENT");
        // Spec §6.11: the parent's creator hears of comments by others that are not PRIVATE.
        if (visibility !== "PRIVATE" && caller.id !== parent.creator_id) {
          await createInboxRepository(trx).create({
            senderId: caller.id,
            receiverId: parent.creator_id,
            status: "UNREAD",
            message: JSON.stringify({ type: "MEMO_COMMENT", memoComment: { memoId: row.id, relatedMemoId: parent.id } }),
          });
        }
      }
    });
    return uid;
  };

  /** Lists memos or comments with keyset tokens; legacy offset tokens (spec §2.2) still work. */
  const pageOf = (pageSize: number, pageToken: string, query: unknown) => {
    const token = domainCall(() => decodeMemoPageToken(pageToken, query, deps.pageTokens));
    if (token.kind === "offset") return { limit: token.page.limit, offset: token.page.offset } as const;
    return { limit: normalizePageSize(pageSize), ...(token.kind === "keyset" ? { cursor: token.values } : {}) } as const;
  };

  return {
    async createMemo(req, ctx) {
      const caller = await requireCaller(ctx);
      if (req.memo === undefined) throw new ConnectError("memo is required", Code.InvalidArgument);
      const uid = await createMemoRecord(caller, req.memo, req.memoId);
      const { memo, audience } = await readMemoMessage(uid, caller);
      deps.events.publish({ type: "memo.created", name: memo.name, actorId: caller.id, audience });
      return memo;
    },

    async getMemo(req, ctx) {
      const uid = memoUidOf(req.name);
      const caller = await loadCaller(ctx, deps.users);
      // One statement: the memo with its parts (wasted only when the read check then fails).
      const record = await memos.findByUid(uid, fullParts(caller));
      if (record === undefined) throw new ConnectError(MEMO_NOT_FOUND, Code.NotFound);
      await checkRead(record, caller);
      if (record.creator_username === null) throw new ConnectError("memo creator not found", Code.NotFound);
      return toFullMemoMessage(record);
    },

    async listMemos(req, ctx) {
      const caller = await loadCaller(ctx, deps.users);
      if (caller === undefined && !(await instanceIsPublic())) throw new ConnectError("user not authenticated", Code.Unauthenticated);
      const archived = req.state === State.ARCHIVED;
      if (archived && caller === undefined) return create(ListMemosResponseSchema, { memos: [], nextPageToken: "" });
      const order = domainCall(() => parseMemoOrderBy(req.orderBy));
      const filter = domainCall(() => compileMemoFilter(req.filter, { now: nowSeconds() }));
      const query = { list: "memos", state: archived ? "ARCHIVED" : "NORMAL", filter: req.filter, order: describeMemoOrder(order), viewer: caller?.id ?? 0 };
      const page = pageOf(req.pageSize, req.pageToken, query);
      const rows = await memos.list({
        rows: archived ? { state: "ARCHIVED", archivedOf: caller!.id } : { state: "NORMAL", scope: scopeOf(caller) },
        filter,
        orderBy: order.keys,
        ...("cursor" in page && page.cursor !== undefined ? { after: domainCall(() => keysetAfter(order, page.cursor as Array<boolean | number>)) } : {}),
        ...("offset" in page ? { offset: page.offset } : {}),
        limit: page.limit + 1,
      }, listParts(caller));
      const more = rows.length > page.limit;
      const shown = rows.slice(0, page.limit);
      return create(ListMemosResponseSchema, {
        memos: shown.map((record) => toFullMemoMessage(record)),
        nextPageToken: more ? deps.pageTokens.encode(sortValuesOf(order, shown[shown.length - 1]!), query) : "",
      });
    },

    async updateMemo(req, ctx) {
      const input = req.memo;
      if (input === undefined) throw new ConnectError("memo is required", Code.InvalidArgument);
      const uid = memoUidOf(input.name);
      const paths = new Set(req.updateMask?.paths ?? []);
      if (paths.size === 0) throw new ConnectError("update mask is required", Code.InvalidArgument);
      const existing = await memos.findByUid(uid);
      if (existing === undefined) throw new ConnectError(MEMO_NOT_FOUND, Code.NotFound);
      const caller = await requireCaller(ctx);
      requireWriter(existing, caller);
      if (paths.has("display_time")) throw new ConnectError("display_time is not supported", Code.InvalidArgument);

      const patch: MemoPatch = {};
      if (paths.has("create_time")) {
        const ts = validSeconds(input.createTime);
        if (ts === undefined) throw new ConnectError("create_time is invalid", Code.InvalidArgument);
        patch.created_ts = ts;
      }
      if (paths.has("update_time")) {
        if (input.updateTime === undefined) patch.updated_ts = nowSeconds();
        else {
          const ts = validSeconds(input.updateTime);
          if (ts === undefined) throw new ConnectError("update_time is invalid", Code.InvalidArgument);
          patch.updated_ts = ts;
        }
      }
      if (paths.has("pinned")) patch.pinned = input.pinned;
      if (paths.has("state")) patch.row_status = input.state === State.ARCHIVED ? "ARCHIVED" : "NORMAL";
      const contentChanged = paths.has("content");
      if (contentChanged) checkContentLength(input.content, await contentLimit());
      const attachmentUids = paths.has("attachments") ? input.attachments.map((a) => attachmentUidOf(a)) : undefined;
      const relationUids = paths.has("relations") ? prepareRelationUids(input.relations, uid) : undefined;
      const now = nowSeconds();

      // Pinning, archiving and time changes touch only the row's own columns: one UPDATE.
      const columnsOnly = [...paths].every((p) => COLUMN_ONLY_PATHS.has(p));
      const applyInTransaction = async (trx: Db): Promise<AttachmentMetaRow[]> => {
        const tx = repositoriesOf(trx);
        const memo = await tx.memos.findByUidForUpdate(uid);
        if (memo === undefined) throw new ConnectError(MEMO_NOT_FOUND, Code.NotFound);
        const content = contentChanged ? input.content : memo.content;
        const stored = readMemoPayload(memo.payload, memo.content);
        const analyzed = contentChanged || attachmentUids !== undefined ? analyzeContent(content) : undefined;
        if (contentChanged) patch.content = content;
        if (contentChanged || paths.has("location")) {
          const location = paths.has("location") ? locationOf(input.location) : stored.location;
          patch.payload = formatMemoPayload(analyzed?.derived ?? stored, location);
        }
        if (paths.has("visibility")) {
          // A comment's visibility is its parent's (spec §6.8); a thread follows its root.
          patch.visibility = memo.parent_id !== null ? effectiveVisibility(memo) : storedVisibility(input.visibility);
        }
        const relatedIds = relationUids === undefined ? undefined : await resolveRelatedIds(tx.memos, relationUids);

        let removedRows: AttachmentMetaRow[] = [];
        if (analyzed !== undefined) {
          const currentRows = await tx.attachments.listByMemoIds([memo.id]);
          const current = currentRows.map(factsOf);
          let finalSet: readonly AttachmentFacts[] = current;
          if (attachmentUids !== undefined) {
            const found = await factsByUid(tx.attachments, attachmentUids);
            const plan = domainCall(() =>
              planAttachmentSet({ requestedUids: attachmentUids, found, memoId: memo.id, memoCreatorId: memo.creator_id, current }),
            );
            finalSet = plan.result;
            const removedIds = new Set(plan.removed.map((a) => a.id));
            removedRows = currentRows.filter((r) => removedIds.has(r.id));
          }
          domainCall(() => checkManagedImages(analyzed.managed, finalSet));
          if (attachmentUids !== undefined) {
            await bindAll(tx.attachments, memo.id, finalSet, now);
            await tx.attachments.deleteByIds(removedRows.map((r) => r.id));
          }
        }
        await tx.memos.update(memo.id, patch);
        if (patch.visibility !== undefined && memo.parent_id === null) await tx.memos.setThreadVisibility(memo.id, patch.visibility);
        if (relatedIds !== undefined) await tx.memos.replaceReferences(memo.id, relatedIds);
        return removedRows;
      };
      let removed: AttachmentMetaRow[] = [];
      if (columnsOnly) await memos.update(existing.id, patch);
      else removed = await deps.db.transaction().execute(applyInTransaction);
      await deleteStoredBytes(removed);
      const { memo, audience } = await readMemoMessage(uid, caller);
      deps.events.publish({ type: "memo.updated", name: memo.name, actorId: caller.id, audience });
      return memo;
    },

    async deleteMemo(req, ctx) {
      const record = await memoByName(req.name);
      const caller = await requireCaller(ctx);
      requireWriter(record, caller);
      const removed = await deps.db.transaction().execute(async (trx) => {
        const tx = repositoriesOf(trx);
        // Spec §6.8: the comments go first (each with everything of theirs), then the memo.
        const ids = [record.id, ...(await tx.memos.threadIds(record.id))];
        const bound = await tx.attachments.listByMemoIds(ids);
        await tx.attachments.deleteByIds(bound.map((a) => a.id));
        await tx.memos.deleteMemos(ids);
        return bound;
      });
      await deleteStoredBytes(removed);
      // The row is gone: listeners learn who could read it from the event itself.
      deps.events.publish({ type: "memo.deleted", name: `memos/${record.uid}`, actorId: caller.id, audience: audienceOf(record) });
      return create(EmptySchema);
    },

    async setMemoAttachments(req, ctx) {
      const uid = memoUidOf(req.name);
      const caller = await requireCaller(ctx);
      const existing = await memos.findByUid(uid);
      if (existing === undefined) throw new ConnectError(MEMO_NOT_FOUND, Code.NotFound);
      requireWriter(existing, caller);
      const requested = req.attachments.map((a) => attachmentUidOf(a));
      const now = nowSeconds();
      const removed = await deps.db.transaction().execute(async (trx) => {
        const tx = repositoriesOf(trx);
        const memo = await tx.memos.findByUidForUpdate(uid);
        if (memo === undefined) throw new ConnectError(MEMO_NOT_FOUND, Code.NotFound);
        const currentRows = await tx.attachments.listByMemoIds([memo.id]);
        const found = await factsByUid(tx.attachments, requested);
        const plan = domainCall(() =>
          planAttachmentSet({ requestedUids: requested, found, memoId: memo.id, memoCreatorId: memo.creator_id, current: currentRows.map(factsOf) }),
        );
        domainCall(() => checkManagedImages(analyzeContent(memo.content).managed, plan.result));
        const removedIds = new Set(plan.removed.map((a) => a.id));
        const removedRows = currentRows.filter((r) => removedIds.has(r.id));
        await bindAll(tx.attachments, memo.id, plan.result, now);
        await tx.attachments.deleteByIds([...removedIds]);
        await tx.memos.update(memo.id, { updated_ts: now });
        return removedRows;
      });
      await deleteStoredBytes(removed);
      deps.events.publish({ type: "memo.updated", name: `memos/${uid}`, actorId: caller.id, audience: audienceOf(existing) });
      return create(EmptySchema);
    },

    async listMemoAttachments(req, ctx) {
      const record = await memoByName(req.name);
      await checkRead(record, await loadCaller(ctx, deps.users));
      const rows = await attachments.listByMemoIds([record.id]);
      return create(ListMemoAttachmentsResponseSchema, {
        attachments: rows.map((row) => toAttachmentMessage(row, record.uid)),
        nextPageToken: "",
      });
    },

    async setMemoRelations(req, ctx) {
      const uid = memoUidOf(req.name);
      const caller = await requireCaller(ctx);
      const record = await memos.findByUid(uid);
      if (record === undefined) throw new ConnectError(MEMO_NOT_FOUND, Code.NotFound);
      requireWriter(record, caller);
      const relationUids = prepareRelationUids(req.relations, uid);
      const relatedIds = await resolveRelatedIds(memos, relationUids);
      const now = nowSeconds();
      await deps.db.transaction().execute(async (trx) => {
        const tx = repositoriesOf(trx);
        await tx.memos.replaceReferences(record.id, relatedIds);
        await tx.memos.update(record.id, { updated_ts: now });
      });
      deps.events.publish({ type: "memo.updated", name: `memos/${uid}`, actorId: caller.id, audience: audienceOf(record) });
      return create(EmptySchema);
    },

    async listMemoRelations(req, ctx) {
      const record = await memoByName(req.name);
      const caller = await loadCaller(ctx, deps.users);
      const rows = await memos.relationsOf([record.id], scopeOf(caller), true);
      return create(ListMemoRelationsResponseSchema, {
        relations: relationsOfMemo(record.id, rows).map(toRelationMessage),
        nextPageToken: "",
      });
    },

    async createMemoComment(req, ctx) {
      const parent = await memoByName(req.name);
      const caller = await requireCaller(ctx);
      await checkRead(parent, caller);
      if (parent.row_status !== "NORMAL") throw new ConnectError("cannot comment on an archived memo", Code.FailedPrecondition);
      if (req.comment === undefined) throw new ConnectError("comment is required", Code.InvalidArgument);
      // Spec §10 Q3: errors of the inner creation keep their own status.
      const uid = await createMemoRecord(caller, req.comment, req.commentId, parent);
      const { memo, audience } = await readMemoMessage(uid, caller);
      deps.events.publish({ type: "memo.comment.created", name: memo.name, parent: `memos/${parent.uid}`, actorId: caller.id, audience });
      return memo;
    },

    async listMemoComments(req, ctx) {
      const parent = await memoByName(req.name);
      const caller = await loadCaller(ctx, deps.users);
      await checkRead(parent, caller);
      const query = { list: "comments", parent: parent.uid };
      const page = pageOf(req.pageSize, req.pageToken, query);
      const cursor = "cursor" in page ? page.cursor : undefined;
      const beforeId = cursor?.[0];
      if (cursor !== undefined && (cursor.length !== 1 || typeof beforeId !== "number")) {
        throw new ConnectError("invalid page token: not a comment cursor", Code.InvalidArgument);
      }
      const rows = await memos.listComments(parent.id, {
        ...(typeof beforeId === "number" ? { beforeId } : {}),
        ...("offset" in page ? { offset: page.offset } : {}),
        limit: page.limit + 1,
      }, listParts(caller));
      const more = rows.length > page.limit;
      const shown = rows.slice(0, page.limit);
      const last = shown[shown.length - 1];
      // Paged by comment id (newest first); within a page ordered by creation time (spec §6.11).
      const ordered = [...shown].sort((a, b) => Number(b.created_ts) - Number(a.created_ts) || b.id - a.id);
      return create(ListMemoCommentsResponseSchema, {
        memos: ordered.map((record) => toFullMemoMessage(record)),
        nextPageToken: more && last !== undefined ? deps.pageTokens.encode([last.id], query) : "",
      });
    },

    async listMemoReactions(req, ctx) {
      const record = await memoByName(req.name);
      const caller = await loadCaller(ctx, deps.users);
      checkReactionAccess(record, caller);
      const rows = await reactions.listForMemos([record.id]);
      return create(ListMemoReactionsResponseSchema, {
        reactions: rows.map((r) => toReactionMessage(r, record.uid)),
        nextPageToken: "",
      });
    },

    async upsertMemoReaction(req, ctx) {
      const caller = await requireCaller(ctx);
      const uid = memoUidOf(req.name);
      if (req.reaction === undefined) throw new ConnectError("reaction is required", Code.InvalidArgument);
      const record = await memos.findByUid(uid);
      if (record === undefined) throw new ConnectError(MEMO_NOT_FOUND, Code.NotFound);
      checkReactionAccess(record, caller);
      const { reaction, created } = await reactions.upsert({ creatorId: caller.id, memoId: record.id, reactionType: req.reaction.reactionType });
      const message = toReactionMessage(reaction, record.uid);
      if (created) {
        deps.events.publish({ type: "reaction.upserted", name: `memos/${record.uid}`, reaction: message.name, actorId: caller.id, audience: audienceOf(record) });
      }
      return message;
    },

    async deleteMemoReaction(req, ctx) {
      const caller = await requireCaller(ctx);
      const ids = parseResourceName(req.name, ["memos", "reactions"]);
      if (ids === undefined) throw new ConnectError(`invalid reaction name: ${req.name}`, Code.InvalidArgument);
      const id = ids[1]!;
      if (!/^-?\d+$/.test(id) || Number(id) > 2_147_483_647 || Number(id) < -2_147_483_648) {
        throw new ConnectError(`invalid reaction id: ${id}`, Code.InvalidArgument);
      }
      const reaction = await reactions.findById(Number(id));
      // Spec §6.12: an unknown reaction is PermissionDenied, deliberately not NotFound.
      if (reaction === undefined || (reaction.creator_id !== caller.id && caller.role !== "ADMIN")) {
        throw new ConnectError("permission denied", Code.PermissionDenied);
      }
      await reactions.delete(reaction.id);
      if (reaction.memo_uid !== null) {
        deps.events.publish({
          type: "reaction.deleted",
          name: `memos/${reaction.memo_uid}`,
          reaction: `memos/${reaction.memo_uid}/reactions/${reaction.id}`,
          actorId: caller.id,
        });
      }
      return create(EmptySchema);
    },

    async createMemoShare(req, ctx) {
      const caller = await requireCaller(ctx);
      const record = await memoByName(req.parent);
      requireWriter(record, caller);
      if (record.parent_id !== null) throw new ConnectError("comments cannot be shared independently", Code.FailedPrecondition);
      if (record.row_status !== "NORMAL") throw new ConnectError("only active memos can be shared", Code.FailedPrecondition);
      let expiresTs: number | null = null;
      const expire = req.memoShare?.expireTime;
      if (expire !== undefined) {
        const ts = validSeconds(expire);
        if (ts === undefined || ts <= nowSeconds()) throw new ConnectError("expire_time must be in the future", Code.InvalidArgument);
        expiresTs = ts;
      }
      const row = await shares.create({ token: generateShortUuid(), memoId: record.id, creatorId: caller.id, expiresTs });
      return toShareMessage(record.uid, row);
    },

    async listMemoShares(req, ctx) {
      const caller = await requireCaller(ctx);
      const record = await memoByName(req.parent);
      requireWriter(record, caller);
      const rows = await shares.listByMemo(record.id);
      return create(ListMemoSharesResponseSchema, { memoShares: rows.map((row) => toShareMessage(record.uid, row)) });
    },

    async deleteMemoShare(req, ctx) {
      const caller = await requireCaller(ctx);
      const ids = parseResourceName(req.name, ["memos", "shares"]);
      if (ids === undefined) throw new ConnectError(`invalid memo share name: ${req.name}`, Code.InvalidArgument);
      const record = await memos.findByUid(ids[0]!);
      if (record === undefined) throw new ConnectError(MEMO_NOT_FOUND, Code.NotFound);
      requireWriter(record, caller);
      if (!(await shares.delete(record.id, ids[1]!))) throw new ConnectError("memo share not found", Code.NotFound);
      return create(EmptySchema);
    },

    async getSharedMemo(req) {
      const notFound = () => new ConnectError("not found", Code.NotFound);
      if (req.shareToken === "") throw notFound();
      const share = await shares.findByToken(req.shareToken);
      if (share === undefined || (share.expires_ts !== null && Number(share.expires_ts) <= nowSeconds())) throw notFound();
      const record = await memos.findById(share.memo_id, { scope: { kind: "public" }, relations: false, snippets: false });
      if (record === undefined || record.row_status !== "NORMAL" || record.parent_id !== null || record.creator_username === null) throw notFound();
      return toFullMemoMessage(record, { withParent: false });
    },
  };

  /** Spec §6.12 reaction access: PRIVATE needs creator or admin; anything but PUBLIC needs a caller. */
  function checkReactionAccess(record: MemoRecord, caller: UserRow | undefined): void {
    const visibility = effectiveVisibility(record);
    if (caller === undefined) {
      if (visibility !== "PUBLIC") throw new ConnectError("user not authenticated", Code.Unauthenticated);
      return;
    }
    if (visibility === "PRIVATE" && caller.id !== record.creator_id && caller.role !== "ADMIN") {
      throw new ConnectError("permission denied", Code.PermissionDenied);
    }
  }
}

/** Repositories bound to one transaction. */
function repositoriesOf(trx: Db): { memos: MemoRepository; attachments: AttachmentRepository } {
  return { memos: createMemoRepository(trx), attachments: createAttachmentRepository(trx) };
}

/** `memos/{uid}` -> uid, else InvalidArgument. */
function memoUidOf(name: string): string {
  const ids = parseResourceName(name, ["memos"]);
  if (ids === undefined) throw new ConnectError(`invalid memo name: ${name}`, Code.InvalidArgument);
  return ids[0]!;
}

/** `attachments/{uid}` of an attachment reference, else InvalidArgument. */
function attachmentUidOf(a: Attachment): string {
  const ids = parseResourceName(a.name, ["attachments"]);
  if (ids === undefined) throw new ConnectError(`invalid attachment name: ${a.name}`, Code.InvalidArgument);
  return ids[0]!;
}

/**
 * Spec §6.10: the related memo UIDs of a relation list, validated before anything is written.
 * Entries without `relatedMemo` are InvalidArgument; COMMENT entries and ones pointing at the memo
 * itself are ignored; duplicates collapse; the type defaults to REFERENCE.
 */
function prepareRelationUids(relations: readonly MemoRelation[], selfUid: string): string[] {
  const uids: string[] = [];
  for (const relation of relations) {
    if (relation.relatedMemo === undefined) throw new ConnectError("related memo is required", Code.InvalidArgument);
    if (relation.type === MemoRelation_Type.COMMENT) continue;
    const uid = memoUidOf(relation.relatedMemo.name);
    if (uid === selfUid || uids.includes(uid)) continue;
    uids.push(uid);
  }
  return uids;
}

/** The ids of `uids`, in order; NotFound "related memo not found" when one does not exist. */
async function resolveRelatedIds(memos: MemoRepository, uids: readonly string[]): Promise<number[]> {
  const ids = await memos.idsByUids(uids);
  return uids.map((uid) => {
    const id = ids.get(uid);
    if (id === undefined) throw new ConnectError("related memo not found", Code.NotFound);
    return id;
  });
}

async function factsByUid(repo: AttachmentRepository, uids: readonly string[]): Promise<Map<string, AttachmentFacts>> {
  const rows = await repo.findByUids(uids);
  return new Map(rows.map((row) => [row.uid, factsOf(row)]));
}

function factsOf(row: AttachmentMetaRow): AttachmentFacts {
  const group = motionGroupOf(row.payload);
  return {
    id: row.id,
    uid: row.uid,
    creatorId: row.creator_id,
    memoId: row.memo_id,
    type: row.type,
    storageType: row.storage_type,
    ...(group === undefined ? {} : { motionGroupId: group }),
  };
}

/** Binds `set` to the memo in order; a row that another memo took meanwhile fails the write. */
async function bindAll(repo: AttachmentRepository, memoId: number, set: readonly AttachmentFacts[], now: number): Promise<void> {
  if (set.length === 0) return;
  const bound = await repo.bindToMemo(memoId, set.map((a) => a.id), now);
  if (bound !== set.length) throw new ConnectError("memo state changed: an attachment was bound to another memo", Code.FailedPrecondition);
}

/** Whole seconds of a valid protobuf Timestamp (years 1..9999), else `undefined`. */
function validSeconds(ts: Timestamp | undefined): number | undefined {
  if (ts === undefined) return undefined;
  const seconds = Number(ts.seconds);
  if (!Number.isSafeInteger(seconds) || seconds < -62_135_596_800 || seconds > 253_402_300_799) return undefined;
  if (ts.nanos < 0 || ts.nanos > 999_999_999) return undefined;
  return seconds;
}

function locationOf(location: Memo["location"]): MemoLocation | undefined {
  return location === undefined ? undefined : { placeholder: location.placeholder, latitude: location.latitude, longitude: location.longitude };
}

function scopeOf(caller: UserRow | undefined): MemoScope {
  return caller === undefined ? { kind: "public" } : { kind: "viewer", userId: caller.id };
}

/** Parts of a single memo response: relations with snippets (spec §6.2). */
function fullParts(caller: UserRow | undefined): PartsOptions {
  return { scope: scopeOf(caller), relations: true, snippets: true };
}

/** Parts of memos in lists: relations without snippets (spec §6.2). */
function listParts(caller: UserRow | undefined): PartsOptions {
  return { scope: scopeOf(caller), relations: true, snippets: false };
}

function viewerOfRow(caller: UserRow | undefined): Viewer | undefined {
  return caller === undefined ? undefined : { userId: caller.id, role: caller.role };
}

function throwDenial(decision: ReadDecision): void {
  switch (decision) {
    case "allow":
      return;
    case "not-found":
      throw new ConnectError(MEMO_NOT_FOUND, Code.NotFound);
    case "unauthenticated":
      throw new ConnectError("user not authenticated", Code.Unauthenticated);
    case "forbidden":
      throw new ConnectError("permission denied", Code.PermissionDenied);
  }
}

function toShareMessage(memoUid: string, row: MemoShareRow): MemoShare {
  return create(MemoShareSchema, {
    name: `memos/${memoUid}/shares/${row.uid}`,
    createTime: timestampFromMs(Number(row.created_ts) * 1000),
    ...(row.expires_ts === null ? {} : { expireTime: timestampFromMs(Number(row.expires_ts) * 1000) }),
  });
}

const DOMAIN_CODES: Readonly<Record<string, Code>> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  failed_precondition: Code.FailedPrecondition,
};

/**
 * Runs a domain rule and turns its errors (FilterError, OrderByError, PageTokenError,
 * ManagedImageError, MemoRuleError: each with a Connect code name in `.code`) into ConnectErrors.
 * Checked by `.code`, not `instanceof`, so errors from another realm map too.
 */
function domainCall<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const code = typeof (err as { code?: unknown })?.code === "string" ? DOMAIN_CODES[(err as { code: string }).code] : undefined;
    if (code !== undefined) throw new ConnectError((err as Error).message, code);
    throw err;
  }
}
