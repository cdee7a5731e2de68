import type { Nodes } from "mdast";
import { parseMemoMarkdown, type MemoDocument } from "./memo-markdown.js";
import { isValidUid } from "../attachment-rules.js";

/**
 * A managed image reference that breaks the rules of spec §6.6. The service answers
 * `invalid_argument` with this message.
 */
export class ManagedImageError extends Error {
  override readonly name = "ManagedImageError";
  readonly code = "invalid_argument";
}

/** Options for recognising managed image URLs. */
export interface ManagedImageOptions {
  /**
   * The configured instance URL (e.g. `https://memos.example.com`); `undefined` or "" when none
   * is configured, in which case absolute URLs to `/file/attachments/` are rejected (spec §6.6
   * [QUIRK], kept for compatibility).
   */
  readonly instanceUrl?: string;
}

const FILE_PREFIX = "/file/attachments/";
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/**
 * The attachment UIDs that memo content embeds as managed images (spec §6.6), de-duplicated in
 * first-seen order. Image nodes and reference-style images count; links and code do not.
 * Throws `ManagedImageError` for a malformed managed URL, an absolute one without a configured
 * instance URL, a protocol-relative one to this instance, or raw HTML naming `/file/attachments/`.
 */
export function findManagedAttachmentImages(content: string | MemoDocument, options: ManagedImageOptions = {}): string[] {
  const doc = typeof content === "string" ? parseMemoMarkdown(content) : content;
  const definitions = new Map<string, string>();
  collectDefinitions(doc.root, definitions);
  const uids: string[] = [];
  const visit = (node: Nodes): void => {
    let url: string | undefined;
    if (node.type === "image") url = node.url;
    else if (node.type === "imageReference") url = definitions.get(node.identifier);
    else if (node.type === "html" && node.value.includes(FILE_PREFIX)) {
      throw new ManagedImageError(
        "invalid managed attachment image URL: raw HTML may not reference /file/attachments/ (use Markdown image syntax)",
      );
    }
    if (url !== undefined) {
      const uid = managedAttachmentUid(url, options);
      if (uid !== undefined && !uids.includes(uid)) uids.push(uid);
    }
    if ("children" in node) for (const child of node.children) visit(child as Nodes);
  };
  visit(doc.root);
  return uids;
}

/**
 * Classifies one image URL (spec §6.6): the attachment UID when it is a managed reference,
 * `undefined` when it points elsewhere; throws `ManagedImageError` when it breaks the rules.
 */
export function managedAttachmentUid(url: string, options: ManagedImageOptions = {}): string | undefined {
  const instance = parseInstanceUrl(options.instanceUrl);
  if (url.startsWith("//")) {
    let parsed: URL;
    try {
      parsed = new URL(`http:${url}`);
    } catch {
      return undefined;
    }
    if (!parsed.pathname.startsWith(FILE_PREFIX)) return undefined;
    if (instance === undefined || parsed.hostname === instance.hostname) throw invalid(url);
    return undefined;
  }
  if (SCHEME.test(url)) {
    if (!/^https?:/i.test(url)) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return undefined;
    }
    if (!parsed.pathname.startsWith(FILE_PREFIX)) return undefined;
    if (instance === undefined) {
      throw new ManagedImageError("absolute managed attachment image URLs require a configured instance URL");
    }
    if (parsed.origin !== instance.origin) return undefined;
    const afterAuthority = url.slice(url.indexOf("//") + 2);
    const rawPath = afterAuthority.slice(afterAuthority.indexOf("/"));
    return uidFromPath(rawPath, url);
  }
  if (!url.startsWith(FILE_PREFIX)) return undefined;
  return uidFromPath(url, url);
}

/** `/file/attachments/{uid}` or `/file/attachments/{uid}/{filename}`, nothing else. */
function uidFromPath(rawPath: string, url: string): string {
  if (/[?#%]/.test(rawPath) || !rawPath.startsWith(FILE_PREFIX)) throw invalid(url);
  const parts = rawPath.slice(FILE_PREFIX.length).split("/");
  if (parts.length > 2 || !isValidUid(parts[0]!) || parts[1] === "") throw invalid(url);
  return parts[0]!;
}

function invalid(url: string): ManagedImageError {
  return new ManagedImageError(`invalid managed attachment image URL: ${url}`);
}

function parseInstanceUrl(value: string | undefined): URL | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  try {
    return new URL(value.trim());
  } catch {
    return undefined;
  }
}

function collectDefinitions(node: Nodes, into: Map<string, string>): void {
  // CommonMark: the first definition of a label wins.
  if (node.type === "definition" && !into.has(node.identifier)) into.set(node.identifier, node.url);
  if ("children" in node) for (const child of node.children) collectDefinitions(child as Nodes, into);
}
