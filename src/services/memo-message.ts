import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Attachment } from "../../gen/memos/api/v1/attachment_service_pb.js";
import { State } from "../../gen/memos/api/v1/common_pb.js";
import {
  LocationSchema,
  Memo_PropertySchema,
  MemoRelation_MemoSchema,
  MemoRelation_Type,
  MemoRelationSchema,
  MemoSchema,
  ReactionSchema,
  Visibility,
  type Memo,
  type MemoRelation,
  type Reaction,
} from "../../gen/memos/api/v1/memo_service_pb.js";
import { readMemoPayload, snippetOf } from "../domain/memo-payload.js";
import type { MemoRecord, MemoWithParts, RelationRecord } from "../store/memo-repository.js";
import type { ReactionRecord } from "../store/reaction-repository.js";
import { toAttachmentMessage } from "./attachment-message.js";

/** Stored visibility text -> enum; anything unknown reads as PRIVATE (the safe side). */
export function visibilityOf(stored: string | null): Visibility {
  switch (stored) {
    case "PUBLIC":
      return Visibility.PUBLIC;
    case "PROTECTED":
      return Visibility.PROTECTED;
    default:
      return Visibility.PRIVATE;
  }
}

/** Enum -> stored text; VISIBILITY_UNSPECIFIED means PRIVATE (spec §2.3). */
export function storedVisibility(v: Visibility): "PUBLIC" | "PROTECTED" | "PRIVATE" {
  return v === Visibility.PUBLIC ? "PUBLIC" : v === Visibility.PROTECTED ? "PROTECTED" : "PRIVATE";
}

/** A memo's visibility as readers see it: a comment's is its parent's (spec §6.2, §6.3). */
export function effectiveVisibility(record: MemoRecord): string {
  return record.parent_id !== null ? (record.parent_visibility ?? "PRIVATE") : record.visibility;
}

/** The Reaction message of a row on memo `memoUid`. */
export function toReactionMessage(row: ReactionRecord, memoUid: string): Reaction {
  return create(ReactionSchema, {
    name: `memos/${memoUid}/reactions/${row.id}`,
    creator: `users/${row.creator_username}`,
    reactionType: row.reaction_type,
    createTime: timestampFromMs(Number(row.created_ts) * 1000),
  });
}

/** The MemoRelation message of a relation row; snippets only when the row carries content. */
export function toRelationMessage(row: RelationRecord): MemoRelation {
  const withSnippets = row.memo_content !== undefined;
  return create(MemoRelationSchema, {
    memo: create(MemoRelation_MemoSchema, {
      name: `memos/${row.memo_uid}`,
      snippet: withSnippets ? snippetOf(row.memo_payload, row.memo_content!) : "",
    }),
    relatedMemo: create(MemoRelation_MemoSchema, {
      name: `memos/${row.related_uid}`,
      snippet: withSnippets ? snippetOf(row.related_payload, row.related_content!) : "",
    }),
    type: row.type === "COMMENT" ? MemoRelation_Type.COMMENT : MemoRelation_Type.REFERENCE,
  });
}

/** Relations of memo `memoId` among `rows`: outgoing first, then incoming (spec §6.10). */
export function relationsOfMemo(memoId: number, rows: readonly RelationRecord[]): RelationRecord[] {
  return [...rows.filter((r) => r.memo_id === memoId), ...rows.filter((r) => r.related_memo_id === memoId && r.memo_id !== memoId)];
}

/** What a memo message carries besides its row. */
export interface MemoMessageParts {
  readonly attachments: readonly Attachment[];
  readonly relations: readonly MemoRelation[];
  readonly reactions: readonly Reaction[];
}

/**
 * The Memo message of a record (spec §6.2): creator by username, derived fields from the stored
 * payload, a comment's visibility shown as its parent's and its `parent` set. `withParent: false`
 * leaves `parent` out (GetSharedMemo).
 */
export function toMemoMessage(record: MemoRecord, parts: MemoMessageParts, options: { withParent?: boolean } = {}): Memo {
  const payload = readMemoPayload(record.payload, record.content);
  const isComment = record.parent_id !== null;
  return create(MemoSchema, {
    name: `memos/${record.uid}`,
    state: record.row_status === "ARCHIVED" ? State.ARCHIVED : State.NORMAL,
    creator: `users/${record.creator_username ?? ""}`,
    createTime: timestampFromMs(Number(record.created_ts) * 1000),
    updateTime: timestampFromMs(Number(record.updated_ts) * 1000),
    content: record.content,
    visibility: visibilityOf(effectiveVisibility(record)),
    tags: payload.tags,
    pinned: record.pinned,
    attachments: [...parts.attachments],
    relations: [...parts.relations],
    reactions: [...parts.reactions],
    property: create(Memo_PropertySchema, payload.property),
    ...(isComment && options.withParent !== false && record.parent_uid !== null ? { parent: `memos/${record.parent_uid}` } : {}),
    snippet: payload.snippet,
    ...(payload.location === undefined ? {} : { location: create(LocationSchema, payload.location) }),
  });
}

/**
 * The full message of a memo read with its parts (`MemoRepository` reads them in the same
 * statement), so no query happens here. `withParent: false` leaves `parent` out.
 */
export function toFullMemoMessage(record: MemoWithParts, options: { withParent?: boolean } = {}): Memo {
  return toMemoMessage(
    record,
    {
      attachments: record.attachments.map((a) => toAttachmentMessage(a, record.uid)),
      relations: record.relations.map(toRelationMessage),
      reactions: record.reactions.map((r) => toReactionMessage(r, record.uid)),
    },
    options,
  );
}
