import { createHash } from "node:crypto";
import type { AccessModeReader } from "../../auth/access-policy.js";
import type { Logger } from "../../logger.js";
import type { UserRow } from "../../store/user-repository.js";
import type { NodeRequest, RouteHandler } from "../http-handler.js";
import { asUnavailable, failureSummary } from "../unavailable.js";
import { SECURITY_HEADERS, sendFileError } from "./file-response.js";
import type { FileIdentity } from "./file-server.js";
import { isNotModified } from "./http-range.js";

/** Path prefix of user avatars (spec §5.1): `/file/users/{username}/avatar`. */
export const AVATAR_FILE_PREFIX = "/file/users/";

/** Image types an avatar may be served as (spec §5.4). */
const AVATAR_TYPES: ReadonlySet<string> = new Set([
  "image/png",
  "image/jpeg",
  "image/jpg",
  "image/gif",
  "image/webp",
  "image/heic",
  "image/heif",
]);

const DATA_URI = /^data:([^;,]*);base64,(.*)$/s;

/** Options of {@link createAvatarRoute}. */
export interface AvatarRouteOptions {
  readonly users: { findByUsername(username: string): Promise<UserRow | undefined> };
  readonly readAccessMode: AccessModeReader;
  /** The caller from Bearer token, PAT or refresh cookie, as for attachment files. */
  resolveIdentity(req: NodeRequest): Promise<FileIdentity | undefined>;
  readonly logger?: Pick<Logger, "warn" | "error">;
}

/**
 * The avatar route (spec §5.4): `GET`/`HEAD` `/file/users/{username}/avatar` answers the bytes of
 * an avatar stored as a base64 `data:` URI (the API then reports its `avatarUrl` as this path),
 * with the data URI's type. On a PUBLIC instance anyone may read it (`public, max-age=3600`); on
 * a PRIVATE one only an authenticated caller (`private, no-store`), else 401. Unknown user or no
 * avatar: 404; a type that is not an image avatars may have: 400; a stored value that is not a
 * base64 data URI (an old external link, which the API reports as is): 500. `ETag` and
 * `If-None-Match` -> 304. Errors are `{"message": ...}` as on the attachment route.
 */
export function createAvatarRoute(options: AvatarRouteOptions): RouteHandler {
  return async (req, res) => {
    const url = req.url ?? "/";
    if (!url.startsWith(AVATAR_FILE_PREFIX)) return false;
    res.setHeader("Cache-Control", "private, no-store");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD");
      sendFileError(res, 405, "method not allowed");
      return true;
    }
    const username = parseAvatarUrl(url);
    if (username === undefined) {
      sendFileError(res, 404, "user not found");
      return true;
    }
    try {
      const isPublic = (await options.readAccessMode()) === "PUBLIC";
      if (!isPublic && (await options.resolveIdentity(req)) === undefined) {
        sendFileError(res, 401, "authentication required");
        return true;
      }
      const user = await options.users.findByUsername(username);
      if (user === undefined) return sendFileError(res, 404, "user not found"), true;
      if (user.avatar_url === "") return sendFileError(res, 404, "avatar not found"), true;
      const data = DATA_URI.exec(user.avatar_url);
      if (data === null) {
        options.logger?.error({ username }, "stored avatar is not a base64 data URI");
        return sendFileError(res, 500, "avatar is not stored on this server"), true;
      }
      const type = data[1]!.toLowerCase();
      if (!AVATAR_TYPES.has(type)) return sendFileError(res, 400, `avatar type ${JSON.stringify(type)} is not an image type`), true;

      const bytes = Buffer.from(data[2]!, "base64");
      const etag = `"${createHash("sha256").update(bytes).digest("base64url").slice(0, 27)}"`;
      res.setHeader("Cache-Control", isPublic ? "public, max-age=3600" : "private, no-store");
      for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
      res.setHeader("ETag", etag);
      const ifNoneMatch = req.headers["if-none-match"];
      if (ifNoneMatch !== undefined && isNotModified({ ifNoneMatch: Array.isArray(ifNoneMatch) ? ifNoneMatch.join(", ") : ifNoneMatch }, etag, new Date(0))) {
        res.statusCode = 304;
        res.end();
        return true;
      }
      res.statusCode = 200;
      res.setHeader("Content-Type", type);
      res.setHeader("Content-Length", String(bytes.length));
      if (req.method === "HEAD") res.end();
      else res.end(bytes);
    } catch (err) {
      const unavailable = asUnavailable(err);
      if (unavailable !== undefined) {
        options.logger?.warn({ url, reason: failureSummary(unavailable) }, unavailable.rawMessage);
        sendFileError(res, 503, unavailable.rawMessage);
      } else {
        options.logger?.error({ err, url }, "avatar route failure");
        sendFileError(res, 500, "internal error");
      }
    }
    return true;
  };
}

/** The username of `/file/users/{username}/avatar[?query]`, or `undefined` when the path is not one. */
export function parseAvatarUrl(url: string): string | undefined {
  const query = url.indexOf("?");
  const path = query === -1 ? url : url.slice(0, query);
  const segments = path.slice(AVATAR_FILE_PREFIX.length).split("/");
  if (segments.length !== 2 || segments[1] !== "avatar") return undefined;
  let username: string;
  try {
    username = decodeURIComponent(segments[0]!);
  } catch {
    return undefined;
  }
  if (username === "" || username.length > 256 || /[/\\\u0000-\u001f\u007f]/.test(username)) return undefined;
  return username;
}
