import { Readable } from "node:stream";
import { create, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { AttachmentSchema, AttachmentService, CreateAttachmentRequestSchema } from "../../../gen/memos/api/v1/attachment_service_pb.js";
import type { BlobStore } from "../../blob/blob-store.js";
import type { Logger } from "../../logger.js";
import { IMAGE_HEAD_BYTES } from "../../media/image-size.js";
import { streamedUploadKey, type StagedFile, type StreamedUpload } from "../../services/attachment-service.js";
import type { ServiceRegistration } from "../connect-routes.js";
import type { NodeRequest, NodeResponse } from "../http-handler.js";
import { incomingHeaders } from "../headers.js";
import { callContextValues } from "../request-context.js";
import { asUnavailable } from "../unavailable.js";
import { createUnaryInvokers } from "./invoke-unary.js";
import { malformed, multipartBoundary, multipartEvents, type MultipartEvent } from "./multipart.js";
import { writeError, writeJson } from "./rest-response.js";

/** The streaming upload endpoint (multipart/form-data), beside REST CreateAttachment. */
export const ATTACHMENT_UPLOAD_PATH = "/api/v1/attachments:upload";

/** Largest non-file form field, in bytes. */
const MAX_FIELD_BYTES = 64 * 1024;

/**
 * `POST /api/v1/attachments:upload`: CreateAttachment with the bytes streamed from a
 * `multipart/form-data` body instead of inline base64. Parts: `file` (required; its own
 * `filename` and `Content-Type` are fallbacks), and optional fields `filename`, `type`, `memo`,
 * `attachmentId`, in any order before or after the file.
 *
 * The call runs through the same interceptor chain as every RPC (auth gate, logging, recovery)
 * as AttachmentService/CreateAttachment, so its auth rules are CreateAttachment's; the body is
 * read only after the gate let the call through. The file part goes straight to the blob store
 * while it arrives (never buffered): its key is rendered from the path template with the best
 * filename known when the part starts (a later `filename` field renames the attachment, not the
 * key). More bytes than the upload limit -> 413 `{"code":8,...}` and nothing stored; a client
 * that goes away or a malformed body -> nothing stored. Answers the Attachment JSON of REST
 * CreateAttachment.
 */
export function createAttachmentUploadRoute(options: {
  services: readonly ServiceRegistration[];
  interceptors: readonly Interceptor[];
  blobs: BlobStore;
  logger?: Pick<Logger, "info" | "error">;
}): (req: NodeRequest, res: NodeResponse) => boolean {
  const method = AttachmentService.method.createAttachment;
  const invoke = createUnaryInvokers(options.services, options.interceptors).get(method);
  return (req, res) => {
    const url = req.url ?? "";
    const path = url.split("?", 1)[0];
    if (path !== ATTACHMENT_UPLOAD_PATH || invoke === undefined) return false;
    if (req.method !== "POST") {
      res.setHeader("Allow", "POST");
      writeError(res, new ConnectError("Method Not Allowed", Code.Unimplemented), 405);
      return true;
    }
    void handle(req, res).catch((err: unknown) => {
      const unavailable = asUnavailable(err);
      if (unavailable === undefined) options.logger?.error({ err }, "attachment upload failed");
      if (!res.headersSent && !res.writableEnded) writeError(res, unavailable ?? new ConnectError("internal server error", Code.Internal));
    });
    return true;
  };

  async function handle(req: NodeRequest, res: NodeResponse): Promise<void> {
    const abort = new AbortController();
    const onClose = () => abort.abort(new ConnectError("client closed the connection", Code.Canceled));
    res.once("close", onClose);
    let tooLarge = false;
    let consumed = false;
    const upload: StreamedUpload = {
      async receive({ limitBytes, keyFor, signal }) {
        const boundary = multipartBoundary(headerOf(req, "content-type"));
        if (boundary === undefined) throw new ConnectError("expected a multipart/form-data body with a boundary", Code.InvalidArgument);
        const fields = new Map<string, string>();
        let file: StagedFile | undefined;
        const events = multipartEvents(req as AsyncIterable<Buffer>, boundary)[Symbol.asyncIterator]();
        let lookahead: MultipartEvent | undefined;
        const next = async (): Promise<MultipartEvent | undefined> => {
          if (lookahead !== undefined) {
            const e = lookahead;
            lookahead = undefined;
            return e;
          }
          const r = await events.next();
          return r.done === true ? undefined : r.value;
        };
        try {
          for (;;) {
            const event = await next();
            if (event === undefined || event.kind === "end") break;
            if (event.kind === "data") continue;
            if (event.name === "file") {
              if (file !== undefined) throw malformed("more than one file part");
              file = await receiveFile(event, fields, limitBytes, keyFor, signal, next, (e) => (lookahead = e), () => (tooLarge = true));
              continue;
            }
            let value = "";
            let bytes = 0;
            for (;;) {
              const e = await next();
              if (e === undefined || e.kind !== "data") {
                lookahead = e;
                break;
              }
              bytes += e.chunk.length;
              if (bytes > MAX_FIELD_BYTES) throw malformed(`field ${event.name} too large`);
              value += e.chunk.toString("utf8");
            }
            fields.set(event.name, value);
          }
          consumed = true;
          if (file === undefined) throw new ConnectError("file part is required", Code.InvalidArgument);
          return { fields, file };
        } catch (err) {
          if (file !== undefined) await options.blobs.delete(file.key).catch(() => {});
          await events.return?.(undefined);
          throw err;
        }
      },
    };
    const result = await invoke!(create(CreateAttachmentRequestSchema), {
      requestMethod: "POST",
      url: `http://${headerOf(req, "host") ?? "localhost"}${req.url ?? ""}`,
      requestHeader: incomingHeaders(req.headers),
      contextValues: callContextValues(req.socket?.remoteAddress).set(streamedUploadKey, upload),
      signal: () => abort.signal,
    });
    res.off("close", onClose);
    if (res.writableEnded || res.destroyed) return;
    // Unread request bytes: do not let the client keep sending them on this connection.
    if (!consumed && req.httpVersionMajor === 1) res.setHeader("Connection", "close");
    if (!result.ok) {
      writeError(res, result.error, tooLarge ? 413 : undefined);
      return;
    }
    writeJson(res, 200, JSON.stringify(toJson(AttachmentSchema, result.message as never, { alwaysEmitImplicit: true })));
  }

  /** Streams one file part into the blob store; answers what was stored. */
  async function receiveFile(
    part: Extract<MultipartEvent, { kind: "part" }>,
    fields: ReadonlyMap<string, string>,
    limitBytes: number,
    keyFor: (filename: string) => Promise<string>,
    signal: AbortSignal,
    next: () => Promise<MultipartEvent | undefined>,
    putBack: (e: MultipartEvent | undefined) => void,
    onTooLarge: () => void,
  ): Promise<StagedFile> {
    const partFilename = part.filename ?? "";
    const key = await keyFor(fields.get("filename") ?? partFilename);
    let size = 0;
    const head: Buffer[] = [];
    let headBytes = 0;
    let failure: unknown;
    async function* body(): AsyncGenerator<Buffer> {
      try {
        for (;;) {
          const e = await next();
          if (e === undefined || e.kind !== "data") {
            putBack(e);
            return;
          }
          size += e.chunk.length;
          if (size > limitBytes) {
            onTooLarge();
            throw new ConnectError("file size exceeds the limit", Code.ResourceExhausted);
          }
          if (headBytes < IMAGE_HEAD_BYTES) {
            const take = e.chunk.subarray(0, IMAGE_HEAD_BYTES - headBytes);
            head.push(Buffer.from(take));
            headBytes += take.length;
          }
          yield e.chunk;
        }
      } catch (err) {
        failure = err;
        throw err;
      }
    }
    try {
      await options.blobs.put(key, Readable.from(body(), { objectMode: false }), {
        ...(part.contentType === "" ? {} : { contentType: part.contentType }),
        signal,
      });
    } catch (err) {
      throw failure ?? err;
    }
    return { key, size, head: Buffer.concat(head, headBytes), partFilename, partType: part.contentType.split(";")[0]!.trim().toLowerCase() };
  }
}

function headerOf(req: NodeRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

