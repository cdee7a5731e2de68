import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { create, toJson, type JsonValue } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createContextKey, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  ListAttachmentsResponseSchema,
  MediaMetadataSchema,
  MotionMediaFamily,
  MotionMediaRole,
  MotionMediaSchema,
  type AttachmentService,
  type MediaMetadata,
  type MotionMedia,
} from "../../gen/memos/api/v1/attachment_service_pb.js";
import type { AccessModeReader } from "../auth/access-policy.js";
import { assertValidBlobKey } from "../blob/blob-key.js";
import type { BlobStore } from "../blob/blob-store.js";
import { memoReadDecision } from "../domain/attachment-access.js";
import {
  checkAttachmentFilename,
  DEFAULT_FILEPATH_TEMPLATE,
  renderStoragePath,
  resolveUid,
  storageSafeFilename,
} from "../domain/attachment-rules.js";
import { compileAttachmentFilter } from "../domain/filter/attachment-filter.js";
import { findManagedAttachmentImages } from "../domain/markdown/managed-attachment-images.js";
import { motionGroupOf } from "../domain/memo-attachments.js";
import { guessMimeType, normalizeMimeType } from "../domain/mime.js";
import { normalizePageSize } from "../domain/page-token.js";
import { parseResourceName } from "../domain/resource-name.js";
import type { Logger } from "../logger.js";
import { readImageSize } from "../media/image-size.js";
import { createLimiter } from "../media/limiter.js";
import { createMetadataStripper, DEFAULT_MAX_STRIP_BYTES, isStrippableType, type MetadataStripper } from "../media/strip-metadata.js";
import { derivedPrefix } from "../media/thumbnail.js";
import { createAttachmentRepository, type AttachmentMetaRow, type AttachmentWithContext } from "../store/attachment-repository.js";
import type { Db } from "../store/database.js";
import { isUniqueViolation, type UserRepository, type UserRow } from "../store/user-repository.js";
import { storedContent } from "./attachment-file-access.js";
import { toAttachmentMessage } from "./attachment-message.js";
import { checkClientMediaMetadata, checkClientMotionMedia, detectAndroidMotionPhoto } from "./attachment-media.js";
import { loadCaller } from "./caller.js";
import type { InstanceSettings } from "./instance-settings.js";

/** What AttachmentService needs from the rest of the server. */
export interface AttachmentServiceDeps {
  readonly db: Db;
  readonly users: UserRepository;
  readonly settings: InstanceSettings;
  readonly readAccessMode: AccessModeReader;
  /** Where attachment bytes go: its kind decides the row's storage type (LOCAL or S3). */
  readonly blobs: BlobStore;
  /** The configured instance URL, for managed image references (spec §6.6). */
  readonly instanceUrl?: string;
  readonly logger: Pick<Logger, "warn" | "error">;
  /** Default: at most 2 concurrent strip jobs (spec §4.3 step 10). */
  readonly stripper?: MetadataStripper;
  /** Milliseconds since the epoch. Default `Date.now`. */
  readonly clock?: () => number;
}

/** The file part of a streamed upload, already written to the blob store under `key`. */
export interface StagedFile {
  readonly key: string;
  readonly size: number;
  /** The first bytes (up to 1 MiB): MIME sniffing and image dimensions. */
  readonly head: Buffer;
  /** The part's own `filename` and `Content-Type` (fallbacks for the form fields). */
  readonly partFilename: string;
  readonly partType: string;
}

/** A multipart upload the service reads after the auth gate (see `attachment-upload.ts`). */
export interface StreamedUpload {
  /**
   * Reads the whole request body: the file part is streamed to the key `keyFor` answers (never
   * buffered), at most `limitBytes` bytes (more: rejects with ResourceExhausted and stores
   * nothing); the other parts are answered as fields. Rejects (and stores nothing) on malformed
   * input or a client that goes away.
   */
  receive(options: {
    limitBytes: number;
    keyFor: (filename: string) => Promise<string>;
    signal: AbortSignal;
  }): Promise<{ fields: ReadonlyMap<string, string>; file: StagedFile }>;
}

/** Context value that turns CreateAttachment into the streamed upload of its HTTP request. */
export const streamedUploadKey = createContextKey<StreamedUpload | undefined>(undefined, { description: "streamed attachment upload" });

const ATTACHMENT_NOT_FOUND = "attachment not found";
const MIB = 1024 * 1024;
const BATCH_DELETE_MAX = 100;

/** What creation validated (spec §4.3 steps 2-8). */
interface Prepared {
  readonly uid: string;
  readonly filename: string;
  readonly type: string;
  readonly memo: { readonly id: number; readonly uid: string } | undefined;
  readonly motion: MotionMedia | undefined;
  readonly meta: MediaMetadata | undefined;
}

interface CreateFields {
  readonly filename: string;
  readonly type: string;
  readonly attachmentId: string;
  readonly memo: string | undefined;
  readonly motion: MotionMedia | undefined;
  readonly meta: MediaMetadata | undefined;
}

/**
 * AttachmentService (spec §4). Bytes go to the blob store BEFORE the row is inserted, and are
 * removed again when anything fails after the write, so a failed create leaves neither a row nor
 * a blob. Rows record where the bytes are in the reference server's terms: `LOCAL` with
 * `reference` = key for the local store, `S3` with `payload.s3Object.key` for the S3 store.
 */
export function createAttachmentService(deps: AttachmentServiceDeps): Partial<ServiceImpl<typeof AttachmentService>> {
  const clock = deps.clock ?? Date.now;
  const nowSeconds = () => Math.floor(clock() / 1000);
  const repo = createAttachmentRepository(deps.db);
  const stripper = deps.stripper ?? createMetadataStripper({ limiter: createLimiter({ concurrency: 2 }), logger: deps.logger });

  const requireCaller = async (ctx: HandlerContext): Promise<UserRow> => {
    const caller = await loadCaller(ctx, deps.users);
    if (caller === undefined) throw new ConnectError("user not authenticated", Code.Unauthenticated);
    return caller;
  };

  const storage = async () => {
    const s = await deps.settings.storage();
    return { limitBytes: Number(s.uploadSizeLimitMb) * MIB, template: s.filepathTemplate || DEFAULT_FILEPATH_TEMPLATE };
  };

  /** A fresh blob key from the path template (spec §4.8); `_<suffix>` before the extension if taken. */
  const newBlobKey = async (template: string, filename: string, suffix: string): Promise<string> => {
    // A name that fails the filename rules (a streamed part's own name, checked later) never shapes a key.
    const usable = checkAttachmentFilename(filename) === undefined ? filename : "file";
    const values = { filename: storageSafeFilename(usable), now: new Date(clock()) };
    let key = renderStoragePath(template, values).replace(/^(\.\/)+/, "");
    try {
      assertValidBlobKey(key);
    } catch {
      // An absolute or otherwise unusable template: fall back to the default layout.
      key = renderStoragePath(DEFAULT_FILEPATH_TEMPLATE, values);
    }
    if ((await deps.blobs.stat(key)) !== undefined) {
      const slash = key.lastIndexOf("/");
      const dot = key.lastIndexOf(".");
      key = dot > slash + 1 ? `${key.slice(0, dot)}_${suffix}${key.slice(dot)}` : `${key}_${suffix}`;
    }
    return key;
  };

  const prepare = async (caller: UserRow, input: CreateFields, head: Uint8Array, size: number, limitBytes: number): Promise<Prepared> => {
    const filenameError = checkAttachmentFilename(input.filename);
    if (filenameError !== undefined) throw new ConnectError(filenameError, Code.InvalidArgument);
    const normalized = normalizeMimeType(input.type === "" ? guessMimeType(input.filename, head) : input.type);
    if (!normalized.ok) throw new ConnectError(normalized.message, Code.InvalidArgument);
    const type = normalized.type;
    const resolved = resolveUid(input.attachmentId);
    if (!resolved.ok) throw new ConnectError(resolved.message, Code.InvalidArgument);
    if (input.motion !== undefined) checkClientMotionMedia(input.motion);
    if (input.meta !== undefined) checkClientMediaMetadata(input.meta, type);
    if (size > limitBytes) throw new ConnectError("file size exceeds the limit", Code.InvalidArgument);
    let memo: Prepared["memo"];
    if (input.memo !== undefined && input.memo !== "") {
      const memoUid = parseResourceName(input.memo, ["memos"])?.[0];
      if (memoUid === undefined) throw new ConnectError(`invalid memo name: ${input.memo}`, Code.InvalidArgument);
      const row = await deps.db.selectFrom("memo").select(["id", "uid", "creator_id"]).where("uid", "=", memoUid).executeTakeFirst();
      if (row === undefined) throw new ConnectError(`memo not found: ${input.memo}`, Code.NotFound);
      if (row.creator_id !== caller.id && caller.role !== "ADMIN") throw new ConnectError("permission denied", Code.PermissionDenied);
      if (row.creator_id !== caller.id) {
        throw new ConnectError("attachments linked at creation must be owned by the memo creator", Code.PermissionDenied);
      }
      memo = { id: row.id, uid: row.uid };
    }
    if ((await repo.findByUids([resolved.uid])).length > 0) throw alreadyExists(resolved.uid);
    return { uid: resolved.uid, filename: input.filename, type, memo, motion: input.motion, meta: input.meta };
  };

  /** Payload JSON: storage location (S3), motion media and media metadata. */
  const payloadOf = (key: string, motion: MotionMedia | undefined, meta: MediaMetadata | undefined): string => {
    const payload: Record<string, JsonValue> = {};
    if (deps.blobs.kind === "s3") payload.s3Object = { key, storageId: "s3" };
    if (motion !== undefined) payload.motionMedia = toJson(MotionMediaSchema, motion);
    if (meta !== undefined) payload.mediaMetadata = toJson(MediaMetadataSchema, meta);
    return JSON.stringify(payload);
  };

  /** Inserts the row for bytes already stored at `key`; removes the blob if the insert fails. */
  const insertRow = async (caller: UserRow, p: Prepared, key: string, size: number, type: string, motion: MotionMedia | undefined, meta: MediaMetadata | undefined) => {
    try {
      const row = await repo.insert({
        uid: p.uid,
        creator_id: caller.id,
        filename: p.filename,
        blob: null,
        type,
        size,
        memo_id: p.memo?.id ?? null,
        storage_type: deps.blobs.kind === "s3" ? "S3" : "LOCAL",
        reference: deps.blobs.kind === "s3" ? "" : key,
        payload: payloadOf(key, motion, meta),
      });
      return toAttachmentMessage(row, p.memo?.uid);
    } catch (err) {
      await removeBlob(key);
      if (isUniqueViolation(err)) throw alreadyExists(p.uid);
      throw err;
    }
  };

  const removeBlob = async (key: string) => {
    try {
      await deps.blobs.delete(key);
    } catch (err) {
      deps.logger.warn({ err, key }, "failed to remove the blob of a failed upload");
    }
  };

  /** Motion (step 9), metadata stripping (step 10) and default dimensions, over whole bytes. */
  const processImage = async (p: Prepared, bytes: Uint8Array, signal: AbortSignal) => {
    let motion = p.motion;
    if (motion === undefined && (p.type === "image/jpeg" || p.type === "image/jpg")) {
      const android = detectAndroidMotionPhoto(bytes);
      if (android !== undefined) {
        motion = create(MotionMediaSchema, {
          family: MotionMediaFamily.ANDROID_MOTION_PHOTO,
          role: MotionMediaRole.CONTAINER,
          groupId: p.uid,
          presentationTimestampUs: android.presentationTimestampUs,
          hasEmbeddedVideo: true,
        });
      }
    }
    let body: Uint8Array = bytes;
    let type = p.type;
    let dims: { width: number; height: number } | undefined;
    if (isStrippableType(type) && motion?.family !== MotionMediaFamily.ANDROID_MOTION_PHOTO) {
      let outcome;
      try {
        outcome = await stripper.strip({ body: bytes, size: bytes.length, type }, signal);
      } catch (err) {
        if (signal.aborted) throw new ConnectError("too many image processing requests", Code.ResourceExhausted);
        throw err;
      }
      if (outcome.stripped) {
        body = outcome.body;
        type = outcome.type;
        if (outcome.width !== undefined && outcome.height !== undefined) dims = { width: outcome.width, height: outcome.height };
      }
    }
    let meta = p.meta;
    if (meta === undefined && type.startsWith("image/")) {
      dims ??= await readImageSize(body);
      if (dims !== undefined) meta = create(MediaMetadataSchema, { width: dims.width, height: dims.height });
    }
    return { body, type, motion, meta };
  };

  const createFromStream = async (caller: UserRow, upload: StreamedUpload, ctx: HandlerContext) => {
    const { limitBytes, template } = await storage();
    const suffix = randomBytes(6).toString("hex");
    const { fields, file } = await upload.receive({
      limitBytes,
      keyFor: (filename) => newBlobKey(template, filename === "" ? "file" : filename, suffix),
      signal: ctx.signal,
    });
    try {
      const partType = file.partType === "application/octet-stream" ? "" : file.partType;
      const p = await prepare(
        caller,
        {
          filename: fields.get("filename") ?? file.partFilename,
          type: fields.get("type") ?? partType,
          attachmentId: fields.get("attachmentId") ?? fields.get("attachment_id") ?? "",
          memo: fields.get("memo"),
          motion: undefined,
          meta: undefined,
        },
        file.head,
        file.size,
        limitBytes,
      );
      let { type, meta, motion } = p;
      let size = file.size;
      // Images small enough to strip are read back (bounded), processed and re-written in place.
      if ((isStrippableType(type) || type === "image/jpg") && size <= DEFAULT_MAX_STRIP_BYTES) {
        const stream = await deps.blobs.get(file.key);
        const bytes = await readAll(stream);
        const processed = await processImage(p, bytes, ctx.signal);
        if (processed.body !== bytes) {
          await deps.blobs.put(file.key, processed.body, { size: processed.body.length, contentType: processed.type });
          size = processed.body.length;
        }
        ({ type, meta, motion } = processed);
      } else if (meta === undefined && type.startsWith("image/")) {
        const dims = await readImageSize(file.head);
        if (dims !== undefined) meta = create(MediaMetadataSchema, { width: dims.width, height: dims.height });
      }
      return await insertRow(caller, p, file.key, size, type, motion, meta);
    } catch (err) {
      await removeBlob(file.key);
      throw err;
    }
  };

  /** Spec §4.4 read rules; throws the denial. */
  const checkRead = async (found: AttachmentWithContext, caller: UserRow | undefined): Promise<void> => {
    const a = found.attachment;
    if (a.memo_id === null) {
      if (caller === undefined) throw new ConnectError("user not authenticated", Code.Unauthenticated);
      if (caller.id !== a.creator_id && caller.role !== "ADMIN") throw new ConnectError("permission denied", Code.PermissionDenied);
      return;
    }
    const memo = found.memo;
    if (memo === undefined) throw new ConnectError("memo not found", Code.NotFound);
    const facts = {
      creatorId: memo.creator_id,
      visibility: memo.visibility,
      rowStatus: memo.row_status,
      isComment: found.isComment,
      ...(found.parent === undefined
        ? {}
        : { parent: { creatorId: found.parent.creator_id, visibility: found.parent.visibility, rowStatus: found.parent.row_status } }),
    };
    const viewer = caller === undefined ? undefined : { userId: caller.id, role: caller.role };
    const target = found.isComment ? found.parent : memo;
    const isPublic = viewer === undefined && target?.visibility === "PUBLIC" ? (await deps.readAccessMode()) === "PUBLIC" : false;
    switch (memoReadDecision(facts, viewer, isPublic)) {
      case "allow":
        return;
      case "not-found":
        throw new ConnectError("memo not found", Code.NotFound);
      case "unauthenticated":
        throw new ConnectError("user not authenticated", Code.Unauthenticated);
      case "forbidden":
        throw new ConnectError("permission denied", Code.PermissionDenied);
    }
  };

  const getMessage = async (uid: string, caller: UserRow | undefined) => {
    const found = await repo.findByUid(uid);
    if (found === undefined) throw new ConnectError(ATTACHMENT_NOT_FOUND, Code.NotFound);
    await checkRead(found, caller);
    return toAttachmentMessage(found.attachment, found.memo?.uid);
  };

  /** Spec §4.7 shared checks, then detach, blob, derived blobs, row. */
  const deleteAll = async (rows: readonly AttachmentMetaRow[]) => {
    const memoIds = [...new Set(rows.flatMap((r) => (r.memo_id === null ? [] : [r.memo_id])))];
    const memos =
      memoIds.length === 0 ? [] : await deps.db.selectFrom("memo").select(["id", "content"]).where("id", "in", memoIds).execute();
    const contentById = new Map(memos.map((m) => [m.id, m.content]));
    for (const row of rows) {
      if (row.memo_id === null) continue;
      const content = contentById.get(row.memo_id);
      if (content === undefined) throw new ConnectError("attachment memo no longer exists", Code.FailedPrecondition);
      let managed: string[] = [];
      try {
        managed = findManagedAttachmentImages(content, deps.instanceUrl === undefined ? {} : { instanceUrl: deps.instanceUrl });
      } catch {
        managed = [];
      }
      if (managed.includes(row.uid)) throw new ConnectError(`attachment ${row.uid} is referenced by memo content`, Code.FailedPrecondition);
    }
    const requested = new Set(rows.map((r) => r.uid));
    for (const row of rows) {
      const group = motionGroupOf(row.payload);
      if (group === undefined) continue;
      const candidates = await deps.db
        .selectFrom("attachment")
        .select(["uid", "payload"])
        .where("creator_id", "=", row.creator_id)
        .where("payload", "like", `%${group.replace(/[\\%_]/g, "\\$&")}%`)
        .execute();
      const members = candidates.filter((c) => motionGroupOf(c.payload) === group);
      if (members.length >= 2 && members.some((m) => !requested.has(m.uid))) {
        throw new ConnectError(`motion media group ${group} must be deleted together`, Code.FailedPrecondition);
      }
    }
    // Rows first, then bytes: a crash or a storage failure in between leaves blobs no row
    // references (the blob janitor removes them), never a row whose bytes are gone.
    await repo.deleteByIds(rows.map((r) => r.id));
    for (const row of rows) {
      const content = storedContent(row);
      try {
        if (content.kind === "blob") await deps.blobs.delete(content.key);
        await deps.blobs.deletePrefix(derivedPrefix(row.uid));
      } catch (err) {
        deps.logger.warn({ err, attachment: row.uid }, "failed to delete the stored bytes of a deleted attachment");
      }
    }
  };

  return {
    async createAttachment(req, ctx) {
      const caller = await requireCaller(ctx);
      const upload = ctx.values.get(streamedUploadKey);
      if (upload !== undefined) return createFromStream(caller, upload, ctx);
      const a = req.attachment;
      if (a === undefined) throw new ConnectError("attachment is required", Code.InvalidArgument);
      const { limitBytes, template } = await storage();
      const p = await prepare(
        caller,
        { filename: a.filename, type: a.type, attachmentId: req.attachmentId, memo: a.memo, motion: a.motionMedia, meta: a.mediaMetadata },
        a.content.subarray(0, 512),
        a.content.length,
        limitBytes,
      );
      const processed = await processImage(p, a.content, ctx.signal);
      const key = await newBlobKey(template, p.filename, p.uid);
      await deps.blobs.put(key, processed.body, { size: processed.body.length, contentType: processed.type });
      return insertRow(caller, p, key, processed.body.length, processed.type, processed.motion, processed.meta);
    },

    async getAttachment(req, ctx) {
      const uid = attachmentUidOf(req.name);
      return getMessage(uid, await loadCaller(ctx, deps.users));
    },

    async listAttachments(req, ctx) {
      const caller = await requireCaller(ctx);
      let offset = 0;
      if (req.pageToken !== "") {
        if (!/^\d{1,9}$/.test(req.pageToken)) throw new ConnectError("invalid page token", Code.InvalidArgument);
        offset = Number(req.pageToken);
      }
      const pageSize = normalizePageSize(req.pageSize);
      let where;
      try {
        where = compileAttachmentFilter(req.filter, { now: nowSeconds() });
      } catch (err) {
        if ((err as { name?: unknown }).name === "FilterError") {
          throw new ConnectError(`invalid filter: ${(err as Error).message}`, Code.InvalidArgument);
        }
        throw err;
      }
      const rows = await deps.db
        .selectFrom("attachment")
        .leftJoin("memo", "memo.id", "attachment.memo_id")
        .select([
          "attachment.id",
          "attachment.uid",
          "attachment.creator_id",
          "attachment.created_ts",
          "attachment.updated_ts",
          "attachment.filename",
          "attachment.type",
          "attachment.size",
          "attachment.memo_id",
          "attachment.storage_type",
          "attachment.reference",
          "attachment.payload",
          "memo.uid as memo_uid",
        ])
        .where("attachment.creator_id", "=", caller.id)
        .where(where)
        .orderBy("attachment.updated_ts", "desc")
        .limit(pageSize)
        .offset(offset)
        .execute();
      return create(ListAttachmentsResponseSchema, {
        attachments: rows.map(({ memo_uid, ...row }) =>
          toAttachmentMessage(
            { ...row, created_ts: Number(row.created_ts), updated_ts: Number(row.updated_ts), size: Number(row.size) },
            memo_uid ?? undefined,
          ),
        ),
        nextPageToken: rows.length === pageSize ? String(offset + pageSize) : "",
      });
    },

    async updateAttachment(req, ctx) {
      const uid = attachmentUidOf(req.attachment?.name ?? "");
      if (req.updateMask === undefined || req.updateMask.paths.length === 0) {
        throw new ConnectError("update mask is required", Code.InvalidArgument);
      }
      const caller = await requireCaller(ctx);
      const found = await repo.findByUid(uid);
      if (found === undefined) throw new ConnectError(ATTACHMENT_NOT_FOUND, Code.NotFound);
      if (found.attachment.creator_id !== caller.id && caller.role !== "ADMIN") {
        throw new ConnectError("permission denied", Code.PermissionDenied);
      }
      const patch: { updated_ts: number; filename?: string } = { updated_ts: nowSeconds() };
      if (req.updateMask.paths.includes("filename")) {
        const filename = req.attachment!.filename;
        const error = checkAttachmentFilename(filename);
        if (error !== undefined) throw new ConnectError(error, Code.InvalidArgument);
        patch.filename = filename;
      }
      await deps.db.updateTable("attachment").set(patch).where("id", "=", found.attachment.id).execute();
      return getMessage(uid, caller);
    },

    async deleteAttachment(req, ctx) {
      const uid = attachmentUidOf(req.name);
      const caller = await requireCaller(ctx);
      const rows = await repo.findByUids([uid]);
      const row = rows[0];
      if (row === undefined || row.creator_id !== caller.id) throw new ConnectError(ATTACHMENT_NOT_FOUND, Code.NotFound);
      await deleteAll([row]);
      return create(EmptySchema);
    },

    async batchDeleteAttachments(req, ctx) {
      const caller = await requireCaller(ctx);
      if (req.names.length === 0) throw new ConnectError("names is required", Code.InvalidArgument);
      if (req.names.length > BATCH_DELETE_MAX) {
        throw new ConnectError(`at most ${BATCH_DELETE_MAX} attachments can be deleted at once`, Code.InvalidArgument);
      }
      const uids = [...new Set(req.names.map((name) => {
        if (name === "") throw new ConnectError("attachment name is required", Code.InvalidArgument);
        return attachmentUidOf(name);
      }))];
      const rows = await repo.findByUids(uids);
      const byUid = new Map(rows.map((r) => [r.uid, r]));
      for (const uid of uids) {
        const row = byUid.get(uid);
        if (row === undefined) throw new ConnectError(`attachment not found: attachments/${uid}`, Code.NotFound);
        if (row.creator_id !== caller.id && caller.role !== "ADMIN") throw new ConnectError("permission denied", Code.PermissionDenied);
      }
      await deleteAll(uids.map((uid) => byUid.get(uid)!));
      return create(EmptySchema);
    },
  };
}

function alreadyExists(uid: string): ConnectError {
  return new ConnectError(`attachment with ID ${JSON.stringify(uid)} already exists`, Code.AlreadyExists);
}

/** `attachments/{uid}` -> uid, else InvalidArgument. */
function attachmentUidOf(name: string): string {
  const uid = parseResourceName(name, ["attachments"])?.[0];
  if (uid === undefined) throw new ConnectError(`invalid attachment name: ${name}`, Code.InvalidArgument);
  return uid;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
