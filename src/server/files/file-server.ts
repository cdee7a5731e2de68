import type { Readable } from "node:stream";
import type { BlobStat, BlobStore } from "../../blob/blob-store.js";
import type { FileAccess } from "../../domain/attachment-access.js";
import { attachmentContentDisposition, isInlineServedType, servedContentType } from "../../domain/attachment-rules.js";
import type { Logger } from "../../logger.js";
import { isThumbnailType, type Thumbnailer } from "../../media/thumbnail.js";
import type { NodeRequest, NodeResponse, RouteHandler } from "../http-handler.js";
import { asUnavailable, failureSummary } from "../unavailable.js";
import { SECURITY_HEADERS, sendFileError } from "./file-response.js";
import { ifRangeAllows, isNotModified, parseRange, quoteEtag } from "./http-range.js";

/** Path prefix of attachment bytes (spec §5.1). */
export const ATTACHMENT_FILE_PREFIX = "/file/attachments/";

/** Headers that describe the bytes of a successful response, removed from an error answer. */
const REPRESENTATION_HEADERS = ["Content-Length", "Content-Range", "Content-Disposition", "Content-Type", "ETag", "Last-Modified", "Accept-Ranges"];

/** Where an attachment's bytes are. */
export type FileContent =
  /** In the blob store (LOCAL and S3 attachments). */
  | { readonly kind: "blob"; readonly key: string }
  /** In the database row (DATABASE attachments); `lastModified` is the row's `updated_ts`. */
  | { readonly kind: "inline"; readonly bytes: Uint8Array; readonly lastModified: Date }
  /** A legacy EXTERNAL link: nothing to serve here. */
  | { readonly kind: "external" };

/** What the file server needs to know about an attachment. */
export interface FileAttachment {
  /** Row id: never reused, names the attachment's derived blobs (thumbnails). */
  readonly id: number;
  readonly uid: string;
  readonly filename: string;
  /** The normalised stored MIME type. */
  readonly type: string;
  readonly content: FileContent;
}

/** Who the caller is, as far as the file server cares. */
export interface FileIdentity {
  readonly userId: number;
  /**
   * The caller's role, when checking the credentials read it from the user's row for this
   * request (a NORMAL user then); without it the authorizer reads the row itself.
   */
  readonly role?: string;
}

/** What {@link FileRouteOptions.authorize} decides on. */
export interface FileAuthorizationRequest<A extends FileAttachment> {
  /** The attachment as the lookup answered it (with whatever access facts the lookup added). */
  readonly attachment: A;
  /** The `share_token` query parameter, when given and non-empty. */
  readonly shareToken?: string;
  /** Resolves the caller from the request's credentials, once, on first call. */
  identity(): Promise<FileIdentity | undefined>;
}

/** Options of {@link createFileRoute}. */
export interface FileRouteOptions<A extends FileAttachment> {
  /** The attachment with UID `uid`, or `undefined` when there is none. */
  lookup(uid: string): Promise<A | undefined>;
  /**
   * Spec §5.2: `public` (anonymously readable: `Cache-Control: public, no-cache`), `private`
   * (`private, no-store`), or the denial to answer (404, 401, 403). Resolve the identity only when
   * the decision needs it.
   */
  authorize(request: FileAuthorizationRequest<A>): Promise<FileAccess>;
  /**
   * The caller from the request: Bearer access token or PAT, else the refresh cookie (so `<img>`
   * tags work). Must answer `undefined`, not fail, for bad or stale credentials (spec Q5).
   */
  resolveIdentity(req: NodeRequest): Promise<FileIdentity | undefined>;
  /** Where blob-stored attachments and thumbnails live. */
  readonly blobs: BlobStore;
  /** Serves `?thumbnail=true`; without it the original is always served. */
  readonly thumbnails?: Thumbnailer;
  readonly logger?: Pick<Logger, "warn" | "error">;
}

/** What one response sends: the bytes' source plus the headers that depend on it. */
interface Representation {
  readonly stat: Pick<BlobStat, "size" | "etag" | "lastModified">;
  open(range?: { start: number; end: number }): Promise<Readable | Uint8Array>;
  readonly contentType: string;
  readonly disposition?: string;
  /** Thumbnails are served whole (spec §5.3). */
  readonly ranges: boolean;
}

/**
 * The attachment file route (spec §5): `GET`/`HEAD` `/file/attachments/{uid}[/{filename}]`, the
 * filename segment ignored. Query: `thumbnail=true|1`, `share_token`, `motion=true` (motion clips
 * are not served yet: 400 as for an attachment without one).
 *
 * - Authorization by the injected `authorize` (spec §5.2); errors are `{"message": ...}` with
 *   404/401/403 and `Cache-Control: private, no-store`.
 * - Content type per §5.3 (script-capable types as `application/octet-stream`, `; charset=utf-8`
 *   on text), `Content-Disposition: attachment` except for images, PDF, video and audio, the
 *   security headers (`nosniff`, `X-Frame-Options: DENY`, a CSP under which an SVG's scripts do
 *   not run), `Color-Gamut` for images and videos.
 * - Byte ranges for every backend (local, S3, database): one range -> 206, unsatisfiable -> 416
 *   with `Content-Range: bytes *\/size`, several -> 200 with everything. `ETag` (quoted) and
 *   `Last-Modified` with `If-None-Match` / `If-Modified-Since` -> 304, and `If-Range`.
 * - Bytes stream from the store to the socket (never buffered whole); a client that disconnects
 *   destroys the store stream (closing its file handle or S3 socket).
 * - An unreachable database or blob storage answers 503 (`database unavailable` / `storage
 *   unavailable`), anything else unexpected 500.
 */
export function createFileRoute<A extends FileAttachment>(options: FileRouteOptions<A>): RouteHandler {
  const { blobs, thumbnails, logger } = options;

  return async (req, res) => {
    const url = req.url ?? "/";
    if (!url.startsWith(ATTACHMENT_FILE_PREFIX)) return false;
    res.setHeader("Cache-Control", "private, no-store");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD");
      sendFileError(res, 405, "method not allowed");
      return true;
    }
    const parsed = parseFileUrl(url);
    if (parsed === undefined) {
      sendFileError(res, 404, "attachment not found");
      return true;
    }

    try {
      const attachment = await options.lookup(parsed.uid);
      if (attachment === undefined) {
        sendFileError(res, 404, "attachment not found");
        return true;
      }
      let identity: Promise<FileIdentity | undefined> | undefined;
      const access = await options.authorize({
        attachment,
        ...(parsed.shareToken === undefined ? {} : { shareToken: parsed.shareToken }),
        identity: () =>
          (identity ??= options.resolveIdentity(req).catch((err: unknown) => {
            if (asUnavailable(err) !== undefined) throw err;
            return undefined;
          })),
      });
      if (access === "not-found") return sendFileError(res, 404, "attachment not found"), true;
      if (access === "unauthenticated") return sendFileError(res, 401, "authentication required"), true;
      if (access === "forbidden") return sendFileError(res, 403, "permission denied"), true;
      res.setHeader("Cache-Control", access === "public" ? "public, no-cache" : "private, no-store");

      if (parsed.motion) return sendFileError(res, 400, "attachment does not have motion clip"), true;
      if (attachment.content.kind === "external") return sendFileError(res, 404, "attachment has no stored content"), true;

      const representation = (parsed.thumbnail && (await thumbnailOf(attachment))) || (await originalOf(attachment));
      if (representation === undefined) {
        logger?.warn({ uid: attachment.uid }, "attachment bytes are missing from storage");
        return sendFileError(res, 404, "attachment content not found"), true;
      }
      await send(req, res, attachment, representation);
    } catch (err) {
      const unavailable = asUnavailable(err);
      if (unavailable !== undefined) logger?.warn({ url, reason: failureSummary(unavailable) }, unavailable.rawMessage);
      else logger?.error({ err, url }, "file server failure");
      if (res.headersSent) {
        res.destroy();
        return true;
      }
      // The failure may come after the representation's headers were set (opening the bytes).
      for (const name of REPRESENTATION_HEADERS) res.removeHeader(name);
      if (unavailable !== undefined) sendFileError(res, 503, unavailable.rawMessage);
      else sendFileError(res, 500, "internal error");
    }
    return true;
  };

  async function thumbnailOf(attachment: A): Promise<Representation | undefined> {
    if (thumbnails === undefined || !isThumbnailType(attachment.type)) return undefined;
    const content = attachment.content;
    const result = await thumbnails.get({
      id: attachment.id,
      uid: attachment.uid,
      type: attachment.type,
      open: () => (content.kind === "blob" ? blobs.get(content.key) : Promise.resolve(content.kind === "inline" ? content.bytes : new Uint8Array())),
    });
    if (result.kind !== "thumbnail") return undefined;
    const { bytes } = result;
    return { stat: result.stat, open: () => (bytes === undefined ? blobs.get(result.key) : Promise.resolve(bytes)), contentType: "image/jpeg", ranges: false };
  }

  async function originalOf(attachment: A): Promise<Representation | undefined> {
    const contentType = servedContentType(attachment.type);
    const disposition = isInlineServedType(contentType) ? undefined : attachmentContentDisposition(attachment.filename);
    const headers = { contentType, ...(disposition === undefined ? {} : { disposition }), ranges: true };
    const content = attachment.content;
    if (content.kind === "inline") {
      const { bytes, lastModified } = content;
      const etag = `db-${attachment.id.toString(16)}-${Math.floor(lastModified.getTime() / 1000).toString(16)}-${bytes.length.toString(16)}`;
      return {
        ...headers,
        stat: { size: bytes.length, etag, lastModified },
        open: async (range) => (range === undefined ? bytes : bytes.subarray(range.start, range.end + 1)),
      };
    }
    if (content.kind !== "blob") return undefined;
    const stat = await blobs.stat(content.key);
    if (stat === undefined) return undefined;
    return { ...headers, stat, open: (range) => blobs.get(content.key, range) };
  }

  async function send(req: NodeRequest, res: NodeResponse, attachment: A, rep: Representation): Promise<void> {
    const { size, lastModified } = rep.stat;
    const etag = quoteEtag(rep.stat.etag);
    for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
    if (/^(image|video)\//i.test(attachment.type)) res.setHeader("Color-Gamut", "srgb, p3, rec2020");
    res.setHeader("ETag", etag);
    res.setHeader("Last-Modified", lastModified.toUTCString());

    const header = (name: string): string | undefined => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(", ") : value;
    };
    if (isNotModified({ ifNoneMatch: header("if-none-match"), ifModifiedSince: header("if-modified-since") }, etag, lastModified)) {
      res.statusCode = 304;
      res.end();
      return;
    }

    res.setHeader("Content-Type", rep.contentType);
    if (rep.disposition !== undefined) res.setHeader("Content-Disposition", rep.disposition);
    let range: { start: number; end: number } | undefined;
    if (rep.ranges) {
      res.setHeader("Accept-Ranges", "bytes");
      const requested = ifRangeAllows(header("if-range"), etag, lastModified) ? parseRange(header("range"), size) : { kind: "full" as const };
      if (requested.kind === "unsatisfiable") {
        res.setHeader("Content-Range", `bytes */${size}`);
        res.removeHeader("Content-Disposition");
        sendFileError(res, 416, "requested range not satisfiable");
        return;
      }
      if (requested.kind === "partial") range = { start: requested.start, end: requested.end };
    }
    if (range !== undefined) {
      res.statusCode = 206;
      res.setHeader("Content-Range", `bytes ${range.start}-${range.end}/${size}`);
      res.setHeader("Content-Length", String(range.end - range.start + 1));
    } else {
      res.statusCode = 200;
      res.setHeader("Content-Length", String(size));
    }
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    // An empty blob has no valid range to open; answer it without touching the store.
    if (size === 0) {
      res.end();
      return;
    }
    const body = await rep.open(range);
    if (body instanceof Uint8Array) {
      res.end(body.subarray(0, range === undefined ? size : range.end - range.start + 1));
      return;
    }
    const outcome = await pump(body, res, range === undefined ? size : range.end - range.start + 1);
    if (outcome === "failed") logger?.warn({ uid: attachment.uid }, "attachment stream failed mid-response");
  }
}

/** The parts of a file URL; `undefined` for a path that cannot name an attachment. */
interface FileUrl {
  readonly uid: string;
  readonly thumbnail: boolean;
  readonly motion: boolean;
  readonly shareToken?: string;
}

/**
 * Parses `/file/attachments/{uid}[/{filename}]?query`. Each segment is percent-decoded and must
 * not be empty (the filename may be), `.`/`..`, or contain `/`, `\` or control characters; more
 * segments, or a malformed escape, name nothing. The filename is otherwise ignored (spec §5.1).
 */
export function parseFileUrl(url: string): FileUrl | undefined {
  const query = url.indexOf("?");
  const path = query === -1 ? url : url.slice(0, query);
  const segments = path.slice(ATTACHMENT_FILE_PREFIX.length).split("/");
  if (segments.length > 2) return undefined;
  const decoded: string[] = [];
  for (const segment of segments) {
    let value: string;
    try {
      value = decodeURIComponent(segment);
    } catch {
      return undefined;
    }
    if (value === "." || value === ".." || /[/\\\u0000-\u001f\u007f]/.test(value)) return undefined;
    decoded.push(value);
  }
  const uid = decoded[0]!;
  if (uid === "" || uid.length > 256) return undefined;
  const params = new URLSearchParams(query === -1 ? "" : url.slice(query + 1));
  const flag = (name: string) => {
    const v = params.get(name)?.toLowerCase();
    return v === "true" || v === "1";
  };
  const shareToken = params.get("share_token") ?? "";
  return { uid, thumbnail: flag("thumbnail"), motion: flag("motion"), ...(shareToken === "" ? {} : { shareToken }) };
}

/**
 * Copies exactly `length` bytes of `body` into `res`, with backpressure, and settles when the
 * response finished (`done`), the client went away (`aborted`), or `body` failed or ended short
 * (`failed`: the response is cut off, since its status is already sent). `body` is destroyed in
 * every case but a clean end, which releases its file handle or S3 socket. Bytes beyond `length`
 * are never sent, whatever the store yields (s3rver, for one, answers `bytes=0-0` with the whole
 * object).
 */
function pump(body: Readable, res: NodeResponse, length: number): Promise<"done" | "aborted" | "failed"> {
  const out = res as NodeJS.WritableStream & { writableFinished: boolean; destroyed: boolean; destroy(): void };
  return new Promise((resolve) => {
    if (out.destroyed) {
      // The client left while the blob was being opened: its 'close' has already been emitted.
      body.destroy();
      resolve("aborted");
      return;
    }
    let sent = 0;
    let settled = false;
    const settle = (outcome: "done" | "aborted" | "failed") => {
      if (settled) return;
      settled = true;
      body.off("data", onData);
      body.off("end", onEnd);
      out.off("drain", onDrain);
      out.off("finish", onFinish);
      out.off("close", onClose);
      if (outcome === "done" && !body.readableEnded) {
        // Let the store's stream reach its end, so an S3 keep-alive socket can be reused; cut it
        // off if it has much more than was asked for.
        let extra = 0;
        body.on("data", (chunk: Buffer) => {
          extra += chunk.length;
          if (extra > 64 * 1024) body.destroy();
        });
        body.resume();
      } else if (outcome !== "done") {
        body.destroy();
      }
      if (outcome === "failed") out.destroy();
      resolve(outcome);
    };
    const onData = (chunk: Buffer) => {
      if (sent >= length) return;
      const room = length - sent;
      const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
      sent += piece.length;
      const more = out.write(piece);
      if (sent >= length) {
        body.pause();
        out.end();
      } else if (!more) {
        body.pause();
      }
    };
    const onDrain = () => {
      if (sent < length) body.resume();
    };
    const onEnd = () => {
      if (sent < length) settle("failed");
    };
    const onFinish = () => settle("done");
    const onClose = () => settle(out.writableFinished ? "done" : "aborted");
    // `on`, not `once`: a late second error must not go unheard (it would crash the process).
    body.on("error", () => settle("failed"));
    body.on("data", onData);
    body.on("end", onEnd);
    out.on("drain", onDrain);
    out.once("finish", onFinish);
    out.once("close", onClose);
  });
}
