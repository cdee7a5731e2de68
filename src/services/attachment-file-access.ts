import type { AccessModeReader } from "../auth/access-policy.js";
import { assertValidBlobKey } from "../blob/blob-key.js";
import { decideAttachmentFileAccess, type FileAccess, type LinkedMemoFacts } from "../domain/attachment-access.js";
import type { FileAttachment, FileAuthorizationRequest, FileContent } from "../server/files/file-server.js";
import type { AttachmentRepository, AttachmentWithContext, MemoAccessRow } from "../store/attachment-repository.js";
import type { UserRepository } from "../store/user-repository.js";

/** An attachment as the file server sees it, with the facts its authorization needs. */
export interface AttachmentFile extends FileAttachment {
  readonly creatorId: number;
  /** `undefined`: unlinked; `"missing"`: the linked memo is gone. */
  readonly memo: LinkedMemoFacts | "missing" | undefined;
}

/** The `lookup` and `authorize` halves of the file route, over the database. */
export interface AttachmentFileAccess {
  lookup(uid: string): Promise<AttachmentFile | undefined>;
  authorize(request: FileAuthorizationRequest<AttachmentFile>): Promise<FileAccess>;
}

/**
 * Builds the file route's lookup (one query: attachment, memo, comment parent; inline bytes for
 * DATABASE storage) and its authorization (spec §5.2 via `decideAttachmentFileAccess`): the
 * access mode, the caller's user row and a share token are read only when the decision needs them.
 */
export function createAttachmentFileAccess(deps: {
  attachments: AttachmentRepository;
  users: UserRepository;
  readAccessMode: AccessModeReader;
  clock?: () => number;
}): AttachmentFileAccess {
  const clock = deps.clock ?? Date.now;
  return {
    async lookup(uid) {
      const found = await deps.attachments.findByUid(uid, { withBlob: true });
      return found === undefined ? undefined : toAttachmentFile(found);
    },
    authorize({ attachment, shareToken, identity }) {
      return decideAttachmentFileAccess({
        creatorId: attachment.creatorId,
        memo: attachment.memo,
        instanceIsPublic: async () => (await deps.readAccessMode()) === "PUBLIC",
        async viewer() {
          const who = await identity();
          if (who === undefined) return undefined;
          // The credentials check read the row for this request already.
          if (who.role !== undefined) return { userId: who.userId, role: who.role };
          const user = await deps.users.findById(who.userId);
          // Archived or deleted since the token was issued: anonymous (spec §1.3).
          return user !== undefined && user.row_status === "NORMAL" ? { userId: user.id, role: user.role } : undefined;
        },
        ...(shareToken === undefined
          ? {}
          : { shareGrants: (memoId: number) => deps.attachments.isShareValid(shareToken, memoId, Math.floor(clock() / 1000)) }),
      });
    },
  };
}

function toAttachmentFile(found: AttachmentWithContext): AttachmentFile {
  const { attachment: row } = found;
  let memo: AttachmentFile["memo"];
  if (row.memo_id === null) memo = undefined;
  else if (found.memo === undefined) memo = "missing";
  else {
    memo = {
      ...memoFacts(found.memo),
      id: found.memo.id,
      isComment: found.isComment,
      ...(found.parent === undefined ? {} : { parent: memoFacts(found.parent) }),
    };
  }
  return {
    id: row.id,
    uid: row.uid,
    filename: row.filename,
    type: row.type,
    creatorId: row.creator_id,
    memo,
    content: storedContent(row),
  };
}

function memoFacts(m: MemoAccessRow) {
  return { creatorId: m.creator_id, visibility: m.visibility, rowStatus: m.row_status };
}

/**
 * Where a row's bytes are (spec §4.8), in this server's terms: DATABASE (`storage_type` '') ->
 * the `blob` column; LOCAL -> `reference` is the blob key (the path relative to the local blob
 * store's root, `/`-separated); S3 -> `payload.s3Object.key` is the blob key (relative to the S3
 * store's bucket prefix). One blob store serves both: the `storageId` of multi-storage setups is
 * not consulted. EXTERNAL links, absolute LOCAL paths and keys that break the blob key rules have
 * nothing servable here.
 */
export function storedContent(row: {
  storage_type: string;
  reference: string;
  payload: string;
  updated_ts: number;
  blob?: Uint8Array | null;
}): FileContent {
  switch (row.storage_type) {
    case "":
      return { kind: "inline", bytes: row.blob ?? new Uint8Array(), lastModified: new Date(row.updated_ts * 1000) };
    case "LOCAL":
      return blobContent(row.reference.replace(/^\.\//, ""));
    case "S3": {
      let key: unknown;
      try {
        key = (JSON.parse(row.payload) as { s3Object?: { key?: unknown } }).s3Object?.key;
      } catch {
        key = undefined;
      }
      return typeof key === "string" ? blobContent(key) : { kind: "external" };
    }
    default:
      return { kind: "external" };
  }
}

function blobContent(key: string): FileContent {
  try {
    assertValidBlobKey(key);
  } catch {
    return { kind: "external" };
  }
  return { kind: "blob", key };
}
