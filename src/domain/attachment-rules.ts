import { randomBytes, randomUUID } from "node:crypto";

/**
 * Rules for attachments that need no I/O: filenames and UIDs (spec §4.3, §2.1), how stored types
 * are served (§5.3), and the storage path template (§4.8).
 */

/** Message for an empty filename (spec §4.3 step 2). */
export const FILENAME_REQUIRED = "filename is required";
/** Message for any other filename violation (spec §4.3 step 2). */
export const FILENAME_INVALID = "filename contains invalid characters or format";

/**
 * Checks an attachment filename (spec §4.3 step 2); answers the error message, or `undefined`
 * when it is valid. Invalid: empty; containing `/` or `\`; not a local path (`..`; an absolute
 * path already contains `/`); starting or ending with a space or a period (`.hidden`, `name.`,
 * ` x`). No length limit and any other Unicode is allowed, as in the reference.
 *
 * One addition: a NUL character is refused too. Postgres cannot store it in a TEXT column, so the
 * reference fails such uploads with Internal; InvalidArgument is the honest answer.
 */
export function checkAttachmentFilename(filename: string): string | undefined {
  if (filename === "") return FILENAME_REQUIRED;
  if (filename.includes("/") || filename.includes("\\") || filename.includes("\0")) return FILENAME_INVALID;
  if (filename === "..") return FILENAME_INVALID;
  if (/^[ .]|[ .]$/.test(filename)) return FILENAME_INVALID;
  return undefined;
}

const UID = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,34}[a-zA-Z0-9])?$/;

/** Message for a client-chosen id that breaks the UID rule (spec §2.1). */
export const INVALID_UID =
  "invalid UID: must be 1-36 characters, containing only letters, digits and hyphens, and must not start or end with a hyphen";

/** Whether `uid` satisfies the UID rule of spec §2.1 (1-36 letters, digits, hyphens; no hyphen at either end). */
export function isValidUid(uid: string): boolean {
  return UID.test(uid);
}

/**
 * The UID for a new memo, attachment or comment from the client's `*_id` field (spec §2.1):
 * trimmed; empty -> a fresh 22-character shortuuid; otherwise it must satisfy the UID rule.
 */
export function resolveUid(requested: string, generate: () => string = generateShortUuid): { ok: true; uid: string } | { ok: false; message: string } {
  const uid = requested.trim();
  if (uid === "") return { ok: true, uid: generate() };
  return isValidUid(uid) ? { ok: true, uid } : { ok: false, message: INVALID_UID };
}

/** The shortuuid alphabet: base 57 without the look-alikes 0, 1, I, O, l. */
export const SHORTUUID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
/** Length of a shortuuid: 57^22 > 2^128, so a UUID fits in 22 digits. */
export const SHORTUUID_LENGTH = 22;

/**
 * A random UUIDv4 written in base 57, most significant digit first, padded to 22 characters: the
 * format of the reference's generated memo/attachment UIDs and share tokens. Uses the crypto RNG.
 */
export function generateShortUuid(): string {
  const bytes = randomBytes(16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 4122 variant
  let n = BigInt(`0x${bytes.toString("hex")}`);
  const base = BigInt(SHORTUUID_ALPHABET.length);
  let out = "";
  while (n > 0n) {
    out = SHORTUUID_ALPHABET[Number(n % base)]! + out;
    n /= base;
  }
  return out.padStart(SHORTUUID_LENGTH, SHORTUUID_ALPHABET[0]);
}

/**
 * Types a browser would run scripts in (spec §5.3); the file server serves them as
 * `application/octet-stream`. `image/svg+xml` is not among them: it is served as-is and made inert
 * by the Content-Security-Policy every file response carries.
 */
const SCRIPT_CAPABLE_TYPES = new Set([
  "text/html",
  "text/javascript",
  "application/javascript",
  "application/x-javascript",
  "text/xml",
  "application/xml",
  "application/xhtml+xml",
]);

/** Whether `type` (any case, parameters ignored) is one a browser would execute scripts in. */
export function isScriptCapableType(type: string): boolean {
  return SCRIPT_CAPABLE_TYPES.has(bareType(type));
}

/**
 * The Content-Type the file server sends for a stored type (spec §5.3): script-capable types and
 * an empty type become `application/octet-stream`; `text/*` gets `; charset=utf-8`; everything
 * else is sent as stored.
 */
export function servedContentType(storedType: string): string {
  const type = bareType(storedType);
  if (type === "" || SCRIPT_CAPABLE_TYPES.has(type)) return "application/octet-stream";
  if (type.startsWith("text/")) return `${type}; charset=utf-8`;
  return type;
}

/**
 * Whether a response of the served type `type` is rendered in the browser rather than downloaded
 * (spec §5.3): images, PDF, video and audio carry no Content-Disposition; everything else gets
 * `attachment`.
 */
export function isInlineServedType(type: string): boolean {
  const t = bareType(type);
  return t.startsWith("image/") || t === "application/pdf" || t.startsWith("video/") || t.startsWith("audio/");
}

/**
 * `attachment; filename="..."` for `filename`, with an RFC 5987 `filename*` when the name is not
 * plain printable ASCII. The quoted form keeps printable ASCII, escapes `"` and `\` as the
 * reference's Go quoting does, and replaces anything else with `_`, so the header is always valid
 * (Node refuses header values outside Latin-1) and old clients get a usable name.
 */
export function attachmentContentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "\\$&");
  const plain = /^[\x20-\x7e]*$/.test(filename);
  return plain ? `attachment; filename="${fallback}"` : `attachment; filename="${fallback}"; filename*=UTF-8''${encodeRfc5987(filename)}`;
}

/** RFC 5987 `value-chars`: percent-encoded UTF-8 except attr-chars. */
function encodeRfc5987(value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function bareType(type: string): string {
  const semicolon = type.indexOf(";");
  return (semicolon === -1 ? type : type.slice(0, semicolon)).trim().toLowerCase();
}

/** Default storage path template (spec §4.8). */
export const DEFAULT_FILEPATH_TEMPLATE = "assets/{timestamp}_{uuid}_{filename}";

/** Values for the placeholders of a storage path template. */
export interface StoragePathValues {
  readonly filename: string;
  /** Upload time; rendered in the server's local time zone, as the reference does. */
  readonly now: Date;
  /** @default a fresh UUIDv4 (one per rendering: every `{uuid}` gets the same value) */
  readonly uuid?: string;
}

/**
 * Renders a storage path template (spec §4.8): `{filename}`, `{timestamp}` (Unix seconds),
 * `{year}`, `{month}`, `{day}`, `{hour}`, `{minute}`, `{second}` (two digits, local time) and
 * `{uuid}`; unknown `{...}` tokens are left verbatim; `/{filename}` is appended when the template
 * has no `{filename}`. Placeholders are replaced in one pass, so braces inside the filename are
 * never expanded.
 */
export function renderStoragePath(template: string, values: StoragePathValues): string {
  const withFilename = template.includes("{filename}") ? template : `${template.replace(/\/+$/, "")}/{filename}`;
  const { now } = values;
  const uuid = values.uuid ?? randomUUID();
  const two = (n: number) => String(n).padStart(2, "0");
  const replacements: Record<string, string> = {
    filename: values.filename,
    timestamp: String(Math.floor(now.getTime() / 1000)),
    year: String(now.getFullYear()),
    month: two(now.getMonth() + 1),
    day: two(now.getDate()),
    hour: two(now.getHours()),
    minute: two(now.getMinutes()),
    second: two(now.getSeconds()),
    uuid,
  };
  return withFilename.replace(/\{(\w+)\}/g, (token, name: string) => (Object.hasOwn(replacements, name) ? replacements[name]! : token));
}

/** Longest filename part put into a storage path, in UTF-8 bytes (one path segment is at most 255). */
const MAX_STORED_FILENAME_BYTES = 160;

/**
 * A filename made safe to be part of a blob key: control characters replaced with `_`, and
 * shortened (keeping the extension) to at most 160 UTF-8 bytes so the rendered segment stays under
 * the 255-byte limit of filesystems and of the blob key rules. A valid attachment filename
 * contains no `/` or `\`, so it never adds a path segment.
 */
export function storageSafeFilename(filename: string): string {
  let name = filename.replace(/[\u0000-\u001f\u007f]/g, "_");
  if (Buffer.byteLength(name, "utf8") <= MAX_STORED_FILENAME_BYTES) return name;
  const dot = name.lastIndexOf(".");
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : "";
  // The longest whole-code-point prefix of the stem that fits beside the extension (one pass:
  // filenames can be very long).
  const budget = MAX_STORED_FILENAME_BYTES - Buffer.byteLength(ext, "utf8");
  let stem = "";
  let bytes = 0;
  for (const ch of name.slice(0, name.length - ext.length)) {
    bytes += Buffer.byteLength(ch, "utf8");
    if (bytes > budget) break;
    stem += ch;
  }
  return stem + ext;
}
