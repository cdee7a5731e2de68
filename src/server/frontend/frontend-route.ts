import { createReadStream, type Stats } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { extname, join, posix, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { mimeTypeFromExtension } from "../../domain/mime.js";
import type { Logger } from "../../logger.js";
import type { NodeRequest, NodeResponse, RouteHandler } from "../http-handler.js";

/** Options of {@link createFrontendRoute}. */
export interface FrontendRouteOptions {
  /** The built web app (`dist/`), holding `index.html`. */
  readonly root: string;
  readonly logger?: Pick<Logger, "warn">;
}

/** Cache rules of the reference's frontend handler (spec/web-app-flows.md). */
const HTML_CACHE = "no-cache, no-store, must-revalidate";
const ASSET_CACHE = "public, max-age=2592000, immutable";
/** Other files (favicon, manifest, service worker): revalidated with the ETag on every use. */
const OTHER_CACHE = "no-cache";

/** Paths that belong to the API and file server: never served from the web app's files. */
const NEVER_SERVED = [/^\/api(\/|$)/, /^\/file(\/|$)/, /^\/memos\.api\.v1\./, /^\/healthz$/];
/** Paths that may be files of the web app but never fall back to `index.html`. */
const NO_FALLBACK = [/\/rss\.xml$/, /^\/robots\.txt$/, /^\/sitemap\.xml$/];

/** Types of what a web build holds, with charsets for text; anything else by the shared extension table. */
const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".htm": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".webmanifest": "application/manifest+json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".xml": "application/xml; charset=utf-8",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
  ".wasm": "application/wasm",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
};

function contentTypeOf(path: string): string {
  const ext = extname(path).toLowerCase();
  return TYPES[ext] ?? mimeTypeFromExtension(path) ?? "application/octet-stream";
}

/**
 * Serves a built Memos web app from `/`, as the reference server does (`frontend.go`): files of
 * `root` for GET and HEAD, and for any other extension-less path the app's `index.html` (the SPA
 * fallback, so client-side routes such as `/explore` or `/memos/abc` load the app). API, file
 * server, Connect, RSS, robots and sitemap paths never fall back. HTML is never cached
 * (`no-cache, no-store, must-revalidate`); `/assets/*` (content-hashed names) is cached for 30
 * days as immutable; everything carries an ETag and Last-Modified, answered with 304 when they
 * match. Requests that leave `root` (`..`, encoded slashes, NUL, symlinks pointing out) are not
 * served. Answers false for requests it does not serve, so the 404 handler runs.
 */
export function createFrontendRoute(options: FrontendRouteOptions): RouteHandler {
  let rootReal: Promise<string> | undefined;
  const root = () => (rootReal ??= realpath(options.root));

  /** The regular file at `relative` inside the root, or `undefined`. */
  const find = async (relative: string): Promise<{ path: string; stats: Stats } | undefined> => {
    const base = await root();
    const candidate = join(base, relative);
    if (candidate !== base && !candidate.startsWith(base + sep)) return undefined;
    try {
      const real = await realpath(candidate);
      if (real !== base && !real.startsWith(base + sep)) return undefined;
      const stats = await stat(real);
      if (stats.isDirectory()) return find(posix.join(relative, "index.html"));
      return stats.isFile() ? { path: real, stats } : undefined;
    } catch {
      return undefined;
    }
  };

  return async (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const rawPath = (req.url ?? "/").split("?")[0]!;
    if (!rawPath.startsWith("/") || NEVER_SERVED.some((re) => re.test(rawPath))) return false;
    const path = decodePath(rawPath);
    if (path === undefined) return false;

    let file = await find(path);
    let isFallback = false;
    if (file === undefined) {
      const last = path.slice(path.lastIndexOf("/") + 1);
      if (last.includes(".") || NO_FALLBACK.some((re) => re.test(path))) return false;
      file = await find("index.html");
      isFallback = true;
      if (file === undefined) return false;
    }
    await send(req, res, file, isFallback || extname(file.path).toLowerCase() === ".html" ? HTML_CACHE : path.startsWith("/assets/") ? ASSET_CACHE : OTHER_CACHE, options.logger);
    return true;
  };
}

/**
 * Percent-decodes a request path and normalises it; `undefined` for anything that could escape
 * the root or names no file: bad escapes, NUL, encoded `/` or `\`, and `..` segments.
 */
function decodePath(raw: string): string | undefined {
  const segments: string[] = [];
  for (const part of raw.split("/")) {
    let segment: string;
    try {
      segment = decodeURIComponent(part);
    } catch {
      return undefined;
    }
    if (segment.includes("\0") || segment.includes("/") || segment.includes("\\")) return undefined;
    if (segment === "..") return undefined;
    if (segment === "" || segment === ".") continue;
    segments.push(segment);
  }
  const trailing = raw.endsWith("/") && segments.length > 0 ? "/" : "";
  return "/" + segments.join("/") + trailing;
}

async function send(req: NodeRequest, res: NodeResponse, file: { path: string; stats: Stats }, cacheControl: string, logger?: Pick<Logger, "warn">): Promise<void> {
  const { stats } = file;
  const etag = `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
  const lastModified = new Date(Math.floor(stats.mtimeMs / 1000) * 1000);
  res.setHeader("Content-Type", contentTypeOf(file.path));
  res.setHeader("Cache-Control", cacheControl);
  res.setHeader("ETag", etag);
  res.setHeader("Last-Modified", lastModified.toUTCString());
  res.setHeader("X-Content-Type-Options", "nosniff");
  if (notModified(req, etag, lastModified)) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.statusCode = 200;
  res.setHeader("Content-Length", String(stats.size));
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  try {
    await pipeline(createReadStream(file.path), res as NodeJS.WritableStream);
  } catch (err) {
    // A client that went away is normal; anything else is worth a line.
    if (!res.destroyed) logger?.warn({ err, path: file.path }, "failed to send a web app file");
    res.destroy();
  }
}

/** RFC 9110 §13.1: If-None-Match decides when present (weak comparison); else If-Modified-Since. */
function notModified(req: NodeRequest, etag: string, lastModified: Date): boolean {
  const inm = req.headers["if-none-match"];
  if (inm !== undefined) {
    const tags = String(inm).split(",").map((t) => t.trim().replace(/^W\//, ""));
    return tags.includes("*") || tags.includes(etag.replace(/^W\//, ""));
  }
  const ims = req.headers["if-modified-since"];
  if (ims === undefined) return false;
  const since = Date.parse(String(ims));
  return Number.isFinite(since) && lastModified.getTime() <= since;
}
