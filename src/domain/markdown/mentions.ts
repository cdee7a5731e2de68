import type { Nodes, Text } from "mdast";
import { isValidUsername } from "../username.js";
import type { MemoDocument } from "./memo-markdown.js";

/**
 * `@username` mentions of a memo (for MEMO_MENTION notifications), as the reference server finds
 * them: in literal text only (not in code, links, autolinked e-mail addresses, images, HTML or
 * math); `@` must not follow a username character (`hello@alice` and `foo-@bob` are not
 * mentions, `foo_@carol` and `中文@alice` are); the name is the whole run of ASCII letters,
 * digits and hyphens after it, and must be a valid username as a whole (`@alice-` and a 37-letter
 * run are not mentions, they are not cut short); an escaped `\@` is not a mention.
 * Answers the usernames, de-duplicated (case-sensitive), in first-seen order.
 */
export function extractMentions(doc: MemoDocument): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  const visit = (node: Nodes): void => {
    switch (node.type) {
      case "text":
        for (const name of scanText(node, doc)) {
          if (seen.has(name)) continue;
          seen.add(name);
          out.push(name);
        }
        return;
      case "link":
      case "linkReference":
      case "image":
      case "imageReference":
      case "inlineCode":
      case "code":
      case "html":
      case "inlineMath":
      case "math":
      case "definition":
        return;
      default:
        if ("children" in node) for (const child of node.children) visit(child as Nodes);
    }
  };
  visit(doc.root);
  return out;
}

const NAME_CHAR = /[A-Za-z0-9-]/;

function isNameChar(ch: string | undefined): boolean {
  return ch !== undefined && NAME_CHAR.test(ch);
}

function scanText(node: Text, doc: MemoDocument): string[] {
  const value = node.value;
  const opaque = doc.opaqueOf(node);
  const names: string[] = [];
  for (let at = value.indexOf("@"); at !== -1; at = value.indexOf("@", at + 1)) {
    if (opaque(at)) continue;
    // The character before the `@`: inside this text, or in the source just before it.
    const start = node.position?.start.offset;
    const before = at > 0 ? value[at - 1] : start !== undefined && start > 0 ? doc.source[start - 1] : undefined;
    if (isNameChar(before) && !(at > 0 && opaque(at - 1))) continue;
    let end = at + 1;
    while (end < value.length && isNameChar(value[end]) && !opaque(end)) end++;
    const name = value.slice(at + 1, end);
    if (name !== "" && isValidUsername(name)) names.push(name);
  }
  return names;
}
