/**
 * MIME types of attachments (spec §4.3 step 3): normalisation as Go's `mime.ParseMediaType` does
 * it, the extension table (Go's built-in entries plus the common `mime.types` ones), and content
 * sniffing as Go's `http.DetectContentType` (the WHATWG MIME sniffing subset).
 */

/** Longest MIME type accepted, in characters (spec §4.3). */
export const MAX_MIME_TYPE_LENGTH = 255;

/** Outcome of {@link normalizeMimeType}: the bare lowercased type, or the spec's error message. */
export type NormalizedMimeType = { readonly ok: true; readonly type: string } | { readonly ok: false; readonly message: string };

/**
 * Normalises a declared or guessed MIME type (spec §4.3): trimmed; empty or longer than 255
 * characters refused; parsed as a media type with parameters; answered as the lowercased media
 * type alone (`audio/webm;codecs=opus` -> `audio/webm`, `IMAGE/PNG` -> `image/png`). Malformed
 * input, including malformed parameters (an unterminated quote), is refused with
 * "invalid MIME type format". A bare token with no `/` is accepted, as Go accepts it.
 */
export function normalizeMimeType(raw: string): NormalizedMimeType {
  const value = raw.trim();
  if (value === "" || value.length > MAX_MIME_TYPE_LENGTH) return { ok: false, message: "invalid MIME type format" };
  const parsed = parseMediaType(value);
  return parsed === undefined ? { ok: false, message: "invalid MIME type format" } : { ok: true, type: parsed.type };
}

/** A parsed media type: lowercased type and parameters (names lowercased). */
export interface MediaType {
  readonly type: string;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Go's `mime.ParseMediaType` (RFC 1521/2045 tokens and quoted strings; duplicate parameters and
 * malformed parameters are errors; a single trailing `;` is tolerated). `undefined` for any error.
 * RFC 2231 continuations are not assembled (only the type is kept downstream anyway).
 */
export function parseMediaType(value: string): MediaType | undefined {
  const semicolon = value.indexOf(";");
  const base = (semicolon === -1 ? value : value.slice(0, semicolon)).trim().toLowerCase();
  if (!isValidMediaTypeBase(base)) return undefined;
  const params: Record<string, string> = {};
  let rest = semicolon === -1 ? "" : value.slice(semicolon);
  for (;;) {
    rest = trimLeftWs(rest);
    if (rest === "") break;
    const param = consumeMediaParam(rest);
    if (param === undefined) {
      if (rest.trim() === ";") break; // a trailing semicolon is ignored
      return undefined;
    }
    if (Object.hasOwn(params, param.name)) return undefined;
    params[param.name] = param.value;
    rest = param.rest;
  }
  return { type: base, params };
}

/** `type` or `type/subtype`, each an RFC 2045 token. */
function isValidMediaTypeBase(base: string): boolean {
  const slash = base.indexOf("/");
  if (slash === -1) return isToken(base);
  return isToken(base.slice(0, slash)) && isToken(base.slice(slash + 1));
}

const TSPECIALS = new Set(['(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=']);

function isTokenChar(c: string): boolean {
  const code = c.charCodeAt(0);
  return code > 0x20 && code < 0x7f && !TSPECIALS.has(c);
}

function isToken(s: string): boolean {
  return s !== "" && [...s].every(isTokenChar);
}

function trimLeftWs(s: string): string {
  return s.replace(/^[ \t]+/, "");
}

function consumeToken(s: string): [token: string, rest: string] {
  let i = 0;
  while (i < s.length && isTokenChar(s[i]!)) i++;
  return [s.slice(0, i), s.slice(i)];
}

/** A token or a quoted string (with `\` escapes); `undefined` for an unterminated quote. */
function consumeValue(s: string): [value: string, rest: string] | undefined {
  if (!s.startsWith('"')) return consumeToken(s);
  let out = "";
  for (let i = 1; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') return [out, s.slice(i + 1)];
    // Go keeps a backslash before a non-special character literally (MSIE's unescaped paths).
    if (c === "\\" && i + 1 < s.length && TSPECIALS.has(s[i + 1]!)) {
      out += s[++i];
      continue;
    }
    if (c === "\r" || c === "\n") return undefined;
    out += c;
  }
  return undefined;
}

function consumeMediaParam(s: string): { name: string; value: string; rest: string } | undefined {
  let rest = trimLeftWs(s);
  if (!rest.startsWith(";")) return undefined;
  rest = trimLeftWs(rest.slice(1));
  const [name, afterName] = consumeToken(rest);
  if (name === "") return undefined;
  rest = trimLeftWs(afterName);
  if (!rest.startsWith("=")) return undefined;
  rest = trimLeftWs(rest.slice(1));
  const consumed = consumeValue(rest);
  if (consumed === undefined) return undefined;
  const [value, afterValue] = consumed;
  if (value === "" && afterValue === rest) return undefined;
  return { name: name.toLowerCase(), value, rest: afterValue };
}

/**
 * Extension -> MIME type. Go's built-in table (`.avif .css .gif .htm .html .jpeg .jpg .js .json
 * .mjs .pdf .png .svg .wasm .webp .xml`, parameters dropped) and the common entries of a Debian
 * `/etc/mime.types`, which Go also reads on the reference's hosts.
 */
const EXTENSION_TYPES: ReadonlyMap<string, string> = new Map(
  Object.entries({
    // Go built-ins
    ".avif": "image/avif",
    ".css": "text/css",
    ".gif": "image/gif",
    ".htm": "text/html",
    ".html": "text/html",
    ".jpeg": "image/jpeg",
    ".jpg": "image/jpeg",
    ".js": "text/javascript",
    ".json": "application/json",
    ".mjs": "text/javascript",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
    ".webp": "image/webp",
    ".xml": "text/xml",
    // images
    ".bmp": "image/bmp",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".ico": "image/vnd.microsoft.icon",
    ".jfif": "image/jpeg",
    ".jpe": "image/jpeg",
    ".jxl": "image/jxl",
    ".svgz": "image/svg+xml",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".psd": "image/vnd.adobe.photoshop",
    ".dng": "image/x-adobe-dng",
    ".cr2": "image/x-canon-cr2",
    ".nef": "image/x-nikon-nef",
    // audio
    ".aac": "audio/aac",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".mid": "audio/midi",
    ".midi": "audio/midi",
    ".mp3": "audio/mpeg",
    ".oga": "audio/ogg",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".wav": "audio/x-wav",
    ".weba": "audio/webm",
    // video
    ".3gp": "video/3gpp",
    ".avi": "video/x-msvideo",
    ".m4v": "video/x-m4v",
    ".mkv": "video/x-matroska",
    ".mov": "video/quicktime",
    ".mp4": "video/mp4",
    ".mpeg": "video/mpeg",
    ".mpg": "video/mpeg",
    ".ogv": "video/ogg",
    ".webm": "video/webm",
    // text and documents
    ".csv": "text/csv",
    ".ics": "text/calendar",
    ".log": "text/plain",
    ".markdown": "text/markdown",
    ".md": "text/markdown",
    ".rtf": "application/rtf",
    ".text": "text/plain",
    ".tsv": "text/tab-separated-values",
    ".txt": "text/plain",
    ".vcf": "text/vcard",
    ".xhtml": "application/xhtml+xml",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".epub": "application/epub+zip",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ppt": "application/vnd.ms-powerpoint",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    // archives and others
    ".7z": "application/x-7z-compressed",
    ".bz2": "application/x-bzip2",
    ".gz": "application/gzip",
    ".rar": "application/vnd.rar",
    ".tar": "application/x-tar",
    ".tgz": "application/gzip",
    ".xz": "application/x-xz",
    ".zip": "application/zip",
    ".zst": "application/zstd",
    ".apk": "application/vnd.android.package-archive",
    ".otf": "font/otf",
    ".ttf": "font/ttf",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
  }),
);

/**
 * The MIME type for `filename`'s extension (from the last `.`, matched case-insensitively as Go
 * falls back to), or `undefined`.
 */
export function mimeTypeFromExtension(filename: string): string | undefined {
  const dot = filename.lastIndexOf(".");
  if (dot === -1) return undefined;
  return EXTENSION_TYPES.get(filename.slice(dot).toLowerCase());
}

/** Bytes Go's sniffer looks at. */
export const SNIFF_BYTES = 512;

type Signature = (data: Uint8Array, firstNonWs: number) => string | undefined;

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

function exact(pattern: string, type: string): Signature {
  const pat = ascii(pattern);
  return (data) => (pat.length <= data.length && pat.every((b, i) => data[i] === b) ? type : undefined);
}

function masked(mask: string, pattern: string, type: string, skipWs = false): Signature {
  const m = ascii(mask);
  const pat = ascii(pattern);
  return (data, firstNonWs) => {
    const d = skipWs ? data.subarray(firstNonWs) : data;
    if (d.length < pat.length) return undefined;
    return pat.every((b, i) => (d[i]! & m[i]!) === b) ? type : undefined;
  };
}

function html(tag: string): Signature {
  const pat = ascii(tag);
  return (data, firstNonWs) => {
    const d = data.subarray(firstNonWs);
    if (d.length < pat.length + 1) return undefined;
    for (let i = 0; i < pat.length; i++) {
      let db = d[i]!;
      if (pat[i]! >= 0x41 && pat[i]! <= 0x5a) db &= 0xdf;
      if (db !== pat[i]) return undefined;
    }
    const next = d[pat.length];
    return next === 0x20 || next === 0x3e ? "text/html; charset=utf-8" : undefined;
  };
}

const mp4: Signature = (data) => {
  if (data.length < 12) return undefined;
  const boxSize = ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0;
  if (data.length < boxSize || boxSize % 4 !== 0) return undefined;
  if (String.fromCharCode(...data.subarray(4, 8)) !== "ftyp") return undefined;
  for (let st = 8; st < boxSize; st += 4) {
    if (st === 12) continue; // the major brand's version
    if (data[st] === 0x6d && data[st + 1] === 0x70 && data[st + 2] === 0x34) return "video/mp4";
  }
  return undefined;
};

const text: Signature = (data, firstNonWs) => {
  for (let i = firstNonWs; i < data.length; i++) {
    const b = data[i]!;
    if (b <= 0x08 || b === 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f)) return undefined;
  }
  return "text/plain; charset=utf-8";
};

/** Go's `sniffSignatures`, in Go's order (the first match wins). */
const SIGNATURES: readonly Signature[] = [
  ...["<!DOCTYPE HTML", "<HTML", "<HEAD", "<SCRIPT", "<IFRAME", "<H1", "<DIV", "<FONT", "<TABLE", "<A", "<STYLE", "<TITLE", "<B", "<BODY", "<BR", "<P", "<!--"].map(html),
  masked("\xFF\xFF\xFF\xFF\xFF", "<?xml", "text/xml; charset=utf-8", true),
  exact("%PDF-", "application/pdf"),
  exact("%!PS-Adobe-", "application/postscript"),
  masked("\xFF\xFF\x00\x00", "\xFE\xFF\x00\x00", "text/plain; charset=utf-16be"),
  masked("\xFF\xFF\x00\x00", "\xFF\xFE\x00\x00", "text/plain; charset=utf-16le"),
  masked("\xFF\xFF\xFF\x00", "\xEF\xBB\xBF\x00", "text/plain; charset=utf-8"),
  exact("\x00\x00\x01\x00", "image/x-icon"),
  exact("\x00\x00\x02\x00", "image/x-icon"),
  exact("BM", "image/bmp"),
  exact("GIF87a", "image/gif"),
  exact("GIF89a", "image/gif"),
  masked("\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF\xFF\xFF", "RIFF\x00\x00\x00\x00WEBPVP", "image/webp"),
  exact("\x89PNG\x0D\x0A\x1A\x0A", "image/png"),
  exact("\xFF\xD8\xFF", "image/jpeg"),
  masked("\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF", "FORM\x00\x00\x00\x00AIFF", "audio/aiff"),
  masked("\xFF\xFF\xFF", "ID3", "audio/mpeg"),
  masked("\xFF\xFF\xFF\xFF\xFF", "OggS\x00", "application/ogg"),
  masked("\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF", "MThd\x00\x00\x00\x06", "audio/midi"),
  masked("\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF", "RIFF\x00\x00\x00\x00AVI ", "video/avi"),
  masked("\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF", "RIFF\x00\x00\x00\x00WAVE", "audio/wave"),
  mp4,
  exact("\x1A\x45\xDF\xA3", "video/webm"),
  masked("\x00".repeat(34) + "\xFF\xFF", "\x00".repeat(34) + "LP", "application/vnd.ms-fontobject"),
  exact("\x00\x01\x00\x00", "font/ttf"),
  exact("OTTO", "font/otf"),
  exact("ttcf", "font/collection"),
  exact("wOFF", "font/woff"),
  exact("wOF2", "font/woff2"),
  exact("\x1F\x8B\x08", "application/x-gzip"),
  exact("PK\x03\x04", "application/zip"),
  exact("Rar!\x1A\x07\x00", "application/x-rar-compressed"),
  exact("Rar!\x1A\x07\x01\x00", "application/x-rar-compressed"),
  exact("\x00\x61\x73\x6D", "application/wasm"),
  text,
];

/**
 * Go's `http.DetectContentType`: the type the first 512 bytes of `content` look like, with
 * parameters as Go writes them (`text/plain; charset=utf-8`), `application/octet-stream` when
 * nothing matches. Empty content is `text/plain; charset=utf-8`, as in Go.
 */
export function sniffMimeType(content: Uint8Array): string {
  const data = content.subarray(0, SNIFF_BYTES);
  let firstNonWs = 0;
  while (firstNonWs < data.length && [0x09, 0x0a, 0x0c, 0x0d, 0x20].includes(data[firstNonWs]!)) firstNonWs++;
  for (const signature of SIGNATURES) {
    const type = signature(data, firstNonWs);
    if (type !== undefined) return type;
  }
  return "application/octet-stream";
}

/**
 * The type of an upload that declared none (spec §4.3): from the filename's extension, else
 * sniffed from the first bytes, else `application/octet-stream`; always normalised.
 */
export function guessMimeType(filename: string, head: Uint8Array): string {
  const guessed = mimeTypeFromExtension(filename) ?? sniffMimeType(head);
  const normalized = normalizeMimeType(guessed);
  return normalized.ok ? normalized.type : "application/octet-stream";
}
