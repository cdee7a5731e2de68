import { Code, ConnectError } from "@connectrpc/connect";

/**
 * A streaming `multipart/form-data` parser (RFC 7578 / RFC 2046) over a byte stream: it never
 * holds more than one chunk plus a boundary's worth of a part body, so a file part can be piped
 * to storage at the pace storage accepts it.
 */

/** One event of the body, in order. */
export type MultipartEvent =
  | { readonly kind: "part"; readonly name: string; readonly filename: string | undefined; readonly contentType: string }
  | { readonly kind: "data"; readonly chunk: Buffer }
  | { readonly kind: "end" };

/** Largest header block of one part. */
const MAX_HEADER_BYTES = 16 * 1024;
/** Most parts accepted. */
const MAX_PARTS = 64;

export function malformed(reason: string): ConnectError {
  return new ConnectError(`malformed multipart body: ${reason}`, Code.InvalidArgument);
}

/** The boundary of a `multipart/form-data` Content-Type, or `undefined` when it is not one. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const [type, ...params] = contentType.split(";");
  if (type!.trim().toLowerCase() !== "multipart/form-data") return undefined;
  for (const p of params) {
    const eq = p.indexOf("=");
    if (eq === -1 || p.slice(0, eq).trim().toLowerCase() !== "boundary") continue;
    let value = p.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    return value.length >= 1 && value.length <= 70 ? value : undefined;
  }
  return undefined;
}

/**
 * The events of a multipart body read from `source`. Throws {@link malformed} errors
 * (InvalidArgument) for a body that breaks the format or ends before its closing delimiter
 * (e.g. a client that went away mid-upload); errors of `source` propagate as they are.
 */
export async function* multipartEvents(source: AsyncIterable<Buffer | string>, boundary: string): AsyncGenerator<MultipartEvent> {
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  // The first delimiter may come without the leading CRLF: pretend it had one.
  let buf: Buffer = Buffer.from("\r\n");
  let state: "preamble" | "after-delimiter" | "headers" | "body" | "done" = "preamble";
  let parts = 0;
  for await (const raw of source) {
    const chunk = typeof raw === "string" ? Buffer.from(raw) : raw;
    if (state === "done") continue; // epilogue
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    for (;;) {
      if (state === "preamble") {
        const at = buf.indexOf(delimiter);
        if (at === -1) {
          if (buf.length > MAX_HEADER_BYTES) throw malformed("no boundary found");
          break;
        }
        buf = buf.subarray(at + delimiter.length);
        state = "after-delimiter";
      } else if (state === "after-delimiter") {
        // Optional transport padding (spaces, tabs) then CRLF, or `--` for the end.
        let i = 0;
        while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
        if (buf.length - i < 2) break;
        if (buf[i] === 0x2d && buf[i + 1] === 0x2d) {
          state = "done";
          yield { kind: "end" };
          break;
        }
        if (buf[i] !== 0x0d || buf[i + 1] !== 0x0a) throw malformed("bad delimiter line");
        buf = buf.subarray(i + 2);
        state = "headers";
      } else if (state === "headers") {
        const end = buf.indexOf("\r\n\r\n");
        if (end === -1) {
          if (buf.length > MAX_HEADER_BYTES) throw malformed("part headers too large");
          break;
        }
        if (++parts > MAX_PARTS) throw malformed("too many parts");
        yield parsePartHeaders(buf.subarray(0, end).toString("utf8"));
        buf = buf.subarray(end + 4);
        state = "body";
      } else if (state === "body") {
        const at = buf.indexOf(delimiter);
        if (at !== -1) {
          if (at > 0) yield { kind: "data", chunk: buf.subarray(0, at) };
          buf = buf.subarray(at + delimiter.length);
          state = "after-delimiter";
          continue;
        }
        // Keep what could be the start of a delimiter; hand out the rest.
        const safe = buf.length - (delimiter.length - 1);
        if (safe > 0) {
          const out = buf.subarray(0, safe);
          buf = Buffer.from(buf.subarray(safe));
          yield { kind: "data", chunk: out };
        }
        break;
      } else break;
    }
  }
  if (state !== "done") throw malformed("unexpected end of body");
}

function parsePartHeaders(block: string): MultipartEvent {
  let disposition: string | undefined;
  let contentType = "";
  for (const line of block.split("\r\n")) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw malformed("bad part header");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-disposition") disposition = value;
    else if (name === "content-type") contentType = value;
  }
  if (disposition === undefined) throw malformed("part without Content-Disposition");
  const params = dispositionParams(disposition);
  if (params === undefined) throw malformed("part is not form-data");
  const name = params.get("name");
  if (name === undefined) throw malformed("part without a name");
  return { kind: "part", name, filename: params.get("filename*") ?? params.get("filename"), contentType };
}

/** `form-data; name="x"; filename="y"` parameters (quoted strings with `\` escapes, RFC 5987 `filename*`). */
function dispositionParams(value: string): Map<string, string> | undefined {
  const semi = value.indexOf(";");
  if ((semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase() !== "form-data") return undefined;
  const params = new Map<string, string>();
  const re = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (const m of value.slice(semi === -1 ? value.length : semi).matchAll(re)) {
    const key = m[1]!.toLowerCase();
    let v = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3]!.trim();
    if (key === "filename*") {
      const ext = /^([\w-]+)'[^']*'(.*)$/.exec(v);
      if (ext === null) continue;
      try {
        v = decodeURIComponent(ext[2]!);
      } catch {
        continue;
      }
    }
    params.set(key, v);
  }
  return params;
}
