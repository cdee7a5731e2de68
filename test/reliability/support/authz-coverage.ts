/**
 * The RPCs each authorization-matrix file covers, gathered from the files' own operation tables,
 * so authz-coverage.test.ts can demand a matrix entry for every RPC of every generated service.
 */
import { AttachmentService } from "../../../gen/memos/api/v1/attachment_service_pb.js";
import { MemoService } from "../../../gen/memos/api/v1/memo_service_pb.js";
import { UserService } from "../../../gen/memos/api/v1/user_service_pb.js";
import { ACCOUNT_OPS } from "./authz-account-ops.js";
import { MEMO_OPS } from "./authz-memo-ops.js";
import { procedureOf, rpc } from "./authz-transports.js";

/** List and stats RPCs of authz-memos.test.ts (checked against the whole memo model, not one memo). */
export const MEMO_LIST_RPCS = {
  ListMemos: rpc(MemoService, "ListMemos"),
  GetUserStats: rpc(UserService, "GetUserStats"),
  ListAllUserStats: rpc(UserService, "ListAllUserStats"),
};

/** The AttachmentService RPCs of authz-attachments-files.test.ts. */
export const ATTACHMENT_RPCS = {
  GetAttachment: rpc(AttachmentService, "GetAttachment"),
  UpdateAttachment: rpc(AttachmentService, "UpdateAttachment"),
  DeleteAttachment: rpc(AttachmentService, "DeleteAttachment"),
  BatchDeleteAttachments: rpc(AttachmentService, "BatchDeleteAttachments"),
  CreateAttachment: rpc(AttachmentService, "CreateAttachment"),
  ListAttachments: rpc(AttachmentService, "ListAttachments"),
};

/** Every procedure some matrix file has cells for. */
export function coveredProcedures(): Set<string> {
  return new Set([...MEMO_OPS.map((o) => o.rpc), ...ACCOUNT_OPS.map((o) => o.rpc), ...Object.values(MEMO_LIST_RPCS), ...Object.values(ATTACHMENT_RPCS)].map(procedureOf));
}
