import { create, fromJson, type DescMessage, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AttachmentSchema, MediaMetadataSchema, MotionMediaSchema, type Attachment } from "../../gen/memos/api/v1/attachment_service_pb.js";
import type { AttachmentMetaRow } from "../store/attachment-repository.js";

/**
 * Converts an attachment row into the API message (spec §4.2): no `content`; `externalLink` only
 * for legacy EXTERNAL rows; `memo` only when linked (`memoUid` is the linked memo's UID);
 * `motionMedia` / `mediaMetadata` from the stored payload when present.
 */
export function toAttachmentMessage(row: AttachmentMetaRow, memoUid: string | undefined): Attachment {
  const payload = parsePayload(row.payload);
  return create(AttachmentSchema, {
    name: `attachments/${row.uid}`,
    createTime: timestampFromMs(Number(row.created_ts) * 1000),
    filename: row.filename,
    externalLink: row.storage_type === "EXTERNAL" ? row.reference : "",
    type: row.type,
    size: BigInt(row.size),
    ...(memoUid === undefined ? {} : { memo: `memos/${memoUid}` }),
    ...optionalMessage("motionMedia", MotionMediaSchema, payload.motionMedia),
    ...optionalMessage("mediaMetadata", MediaMetadataSchema, payload.mediaMetadata),
  });
}

function parsePayload(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** `{[key]: message}` when `json` parses as `schema`, else nothing (a bad stored value is skipped). */
function optionalMessage<K extends string, D extends DescMessage>(key: K, schema: D, json: unknown): Partial<Record<K, MessageShape<D>>> {
  if (json === undefined || json === null || typeof json !== "object") return {};
  try {
    return { [key]: fromJson(schema, json as JsonValue, { ignoreUnknownFields: true }) } as Partial<Record<K, MessageShape<D>>>;
  } catch {
    return {};
  }
}
