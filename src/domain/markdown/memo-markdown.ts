import type { Nodes, Paragraph, Parent, PhrasingContent, Root, Text } from "mdast";
import { fromMarkdown, type CompileContext, type Extension, type Token } from "mdast-util-from-markdown";
import { gfmAutolinkLiteralFromMarkdown } from "mdast-util-gfm-autolink-literal";
import { gfmStrikethroughFromMarkdown } from "mdast-util-gfm-strikethrough";
import { gfmTableFromMarkdown } from "mdast-util-gfm-table";
import { gfmTaskListItemFromMarkdown } from "mdast-util-gfm-task-list-item";
import { mathFromMarkdown } from "mdast-util-math";
import { gfmAutolinkLiteral } from "micromark-extension-gfm-autolink-literal";
import { gfmStrikethrough } from "micromark-extension-gfm-strikethrough";
import { gfmTable } from "micromark-extension-gfm-table";
import { gfmTaskListItem } from "micromark-extension-gfm-task-list-item";
import { math } from "micromark-extension-math";
import { expandTagHierarchy, scanTags, type OpaqueTest } from "./tag-lexer.js";

/** `memo.property` (spec §6.5); stored in `payload.property` with false/empty values left out. */
export interface MemoProperty {
  readonly hasLink: boolean;
  readonly hasTaskList: boolean;
  readonly hasCode: boolean;
  readonly hasIncompleteTasks: boolean;
  /** Plain text of the first block when it is an H1, else "". */
  readonly title: string;
}

/** Everything spec §6.5 derives from a memo's content, from one parse. */
export interface MemoMarkdown {
  /** Tags with ancestors expanded, de-duplicated by exact string, in first-seen order. */
  readonly tags: string[];
  readonly property: MemoProperty;
  /** Plain-text summary, at most 64 characters plus ` ...`. */
  readonly snippet: string;
}

/** A parsed memo: the mdast tree with autolink literals resolved, plus the source. */
export interface MemoDocument {
  readonly root: Root;
  readonly source: string;
  /** For a literal text node of `root`: which of its code units came from escapes or references. */
  opaqueOf(node: Text): OpaqueTest;
}

/** Snippets longer than this many characters (code points) are cut (spec §6.5). */
export const SNIPPET_MAX_CHARS = 64;

const autolinkLiteral = gfmAutolinkLiteralFromMarkdown();
const linkifyTransforms = autolinkLiteral.transforms ?? [];
// The autolink-literal transform runs per text node in `resolveLiterals`, where the offsets of
// escapes and references are still known; here only its token handlers are kept.
const autolinkTokenHandlers: Extension = { ...autolinkLiteral, transforms: [] };

const NOTHING_OPAQUE: OpaqueTest = () => false;

/**
 * Parses memo content: CommonMark + GFM tables, strikethrough, task lists and autolink literals
 * (www., http(s), e-mail) + `$math$` / `$$math$$` (spec §6.5). GFM footnotes are not enabled,
 * as upstream does not enable them. Invalid link reference definitions stay text (CommonMark).
 */
export function parseMemoMarkdown(source: string): MemoDocument {
  const marks = new WeakMap<Text, Array<[number, number]>>();
  const root = fromMarkdown(source, {
    extensions: [gfmAutolinkLiteral(), gfmStrikethrough(), gfmTable(), gfmTaskListItem(), math()],
    mdastExtensions: [
      autolinkTokenHandlers,
      gfmStrikethroughFromMarkdown(),
      gfmTableFromMarkdown(),
      gfmTaskListItemFromMarkdown(),
      mathFromMarkdown(),
      opaqueMarks(marks),
    ],
  });
  const opaque = new WeakMap<Text, OpaqueTest>();
  resolveLiterals(root, marks, opaque);
  return { root, source, opaqueOf: (node) => opaque.get(node) ?? NOTHING_OPAQUE };
}

/** Tags, property and snippet of memo content (spec §6.5). */
export function analyzeMemoMarkdown(content: string): MemoMarkdown {
  return analyzeMemoDocument(parseMemoMarkdown(content));
}

/** Spec §6.5 tags only. */
export function extractMemoTags(content: string): string[] {
  return analyzeMemoMarkdown(content).tags;
}

/** Spec §6.5 snippet only. */
export function buildMemoSnippet(content: string): string {
  return analyzeMemoMarkdown(content).snippet;
}

/** Derived fields of an already parsed document. */
export function analyzeMemoDocument(doc: MemoDocument): MemoMarkdown {
  const walker = new Walker(doc);
  walker.visit(doc.root, false);
  const first = doc.root.children[0];
  const title = first?.type === "heading" && first.depth === 1 ? plainText(first, doc).trim() : "";
  return {
    tags: walker.tags,
    property: {
      hasLink: walker.hasLink,
      hasTaskList: walker.hasTaskList,
      hasCode: walker.hasCode,
      hasIncompleteTasks: walker.hasIncompleteTasks,
      title,
    },
    snippet: truncateSnippet(walker.snippet.trim()),
  };
}

/**
 * Cuts a trimmed plain text to the snippet rule of spec §6.5: over 64 characters, keep the first
 * 64, back up to the last whitespace inside them (if any), then append ` ...`.
 */
export function truncateSnippet(text: string, max = SNIPPET_MAX_CHARS): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  let prefix = chars.slice(0, max).join("");
  const lastSpace = Math.max(
    prefix.lastIndexOf(" "),
    prefix.lastIndexOf("\t"),
    prefix.lastIndexOf("\n"),
    prefix.lastIndexOf("\r"),
  );
  if (lastSpace > 0) prefix = prefix.slice(0, lastSpace);
  return prefix + " ...";
}

/** Block nodes that the snippet separates with one space. */
const SNIPPET_BLOCKS = new Set(["paragraph", "heading", "listItem", "tableRow", "tableCell"]);

class Walker {
  readonly tags: string[] = [];
  private readonly seen = new Set<string>();
  snippet = "";
  hasLink = false;
  hasCode = false;
  hasTaskList = false;
  hasIncompleteTasks = false;

  constructor(private readonly doc: MemoDocument) {}

  visit(node: Nodes, inLink: boolean): void {
    if (SNIPPET_BLOCKS.has(node.type) && this.snippet !== "" && !/\s$/u.test(this.snippet)) this.snippet += " ";
    switch (node.type) {
      case "text":
        this.snippet += softBreaksToSpaces(node.value);
        if (!inLink) this.addTags(node);
        return;
      case "link":
      case "linkReference":
        this.hasLink = true;
        this.visitChildren(node, true);
        return;
      case "image":
      case "imageReference":
        this.snippet += node.alt ?? "";
        return;
      case "inlineCode":
        this.hasCode = true;
        this.snippet += softBreaksToSpaces(node.value);
        return;
      case "code":
        this.hasCode = true;
        return;
      case "inlineMath":
      case "math":
        this.snippet += softBreaksToSpaces(mathSource(node, this.doc));
        return;
      case "break":
        this.snippet += " ";
        return;
      case "html":
      case "definition":
      case "thematicBreak":
        return;
      case "listItem":
        if (typeof node.checked === "boolean") {
          this.hasTaskList = true;
          if (!node.checked) this.hasIncompleteTasks = true;
        }
        this.visitChildren(node, inLink);
        return;
      default:
        if ("children" in node) this.visitChildren(node, inLink);
    }
  }

  private visitChildren(node: Parent, inLink: boolean): void {
    for (const child of node.children) this.visit(child as Nodes, inLink);
  }

  private addTags(node: Text): void {
    for (const match of scanTags(node.value, this.doc.opaqueOf(node))) {
      for (const tag of expandTagHierarchy(match.value)) {
        if (this.seen.has(tag)) continue;
        this.seen.add(tag);
        this.tags.push(tag);
      }
    }
  }
}

/** Plain text of inline content (the title): text, code, alt text, link text, math source. */
function plainText(node: Nodes, doc: MemoDocument): string {
  switch (node.type) {
    case "text":
    case "inlineCode":
      return softBreaksToSpaces(node.value);
    case "inlineMath":
      return mathSource(node, doc);
    case "image":
    case "imageReference":
      return node.alt ?? "";
    case "break":
      return " ";
    case "html":
      return "";
    default:
      return "children" in node ? node.children.map((c) => plainText(c as Nodes, doc)).join("") : "";
  }
}

function softBreaksToSpaces(value: string): string {
  return value.replace(/\r\n|\r|\n/g, " ");
}

/**
 * Math with its delimiters (spec §6.5: "math source kept"). Rebuilt from the node rather than
 * sliced from the source, so container prefixes (`> `) of later lines stay out.
 */
function mathSource(node: Nodes & { value: string }, doc: MemoDocument): string {
  if (node.type === "math") {
    const meta = "meta" in node && typeof node.meta === "string" && node.meta !== "" ? node.meta : "";
    return `$$${meta}\n${node.value}\n$$`;
  }
  const start = node.position?.start.offset;
  const fence = start === undefined ? "$" : (/^\$+/.exec(doc.source.slice(start, start + 64))?.[0] ?? "$");
  return fence + node.value + fence;
}

/**
 * A from-markdown extension that records, per text node, the value ranges produced by
 * backslash escapes and character references. The handlers repeat what the library's own
 * `onenterdata` / `onexitcharacterreference` do (an extension replaces a handler, it cannot
 * wrap it) and note the range.
 */
function opaqueMarks(marks: WeakMap<Text, Array<[number, number]>>): Extension {
  let open: { node: Text; start: number } | undefined;
  function enter(this: CompileContext, token: Token): undefined {
    const parent = this.stack[this.stack.length - 1] as Parent;
    let tail = parent.children[parent.children.length - 1];
    if (tail === undefined || tail.type !== "text") {
      tail = { type: "text", value: "", position: { start: { ...token.start }, end: { ...token.start } } };
      parent.children.push(tail);
    }
    this.stack.push(tail);
    open = { node: tail, start: tail.value.length };
    return undefined;
  }
  function close(): void {
    if (open === undefined) return;
    const { node, start } = open;
    open = undefined;
    if (node.value.length === start) return;
    const list = marks.get(node) ?? [];
    list.push([start, node.value.length]);
    marks.set(node, list);
  }
  return {
    enter: { characterEscape: enter, characterReference: enter },
    exit: {
      // The escape's value handler already popped the text node and set its end.
      characterEscape: close,
      characterReference(this: CompileContext, token: Token): undefined {
        const tail = this.stack.pop() as Text;
        if (tail.position !== undefined) tail.position.end = { ...token.end };
        close();
        return undefined;
      },
    },
  };
}

/**
 * Runs the GFM autolink-literal transform on every text node outside links, one node at a
 * time, so each remaining text piece keeps its offset into the original value and with it the
 * escape/reference marks; records an `OpaqueTest` for every literal text node.
 */
function resolveLiterals(
  node: Nodes,
  marks: WeakMap<Text, Array<[number, number]>>,
  opaque: WeakMap<Text, OpaqueTest>,
): void {
  if (!("children" in node) || node.type === "link" || node.type === "linkReference") return;
  const children = node.children as Nodes[];
  for (let i = 0; i < children.length; i++) {
    const child = children[i]!;
    if (child.type !== "text") {
      resolveLiterals(child, marks, opaque);
      continue;
    }
    const mask = new Uint8Array(child.value.length);
    for (const [start, end] of marks.get(child) ?? []) mask.fill(1, start, end);
    const pieces = linkify(child);
    let offset = 0;
    for (const piece of pieces) {
      if (piece.type === "text") {
        const base = offset;
        opaque.set(piece, (index) => mask[base + index] === 1);
        offset += piece.value.length;
      } else {
        offset += plainLength(piece);
      }
    }
    if (pieces.length !== 1 || pieces[0] !== child) {
      children.splice(i, 1, ...(pieces as Nodes[]));
      i += pieces.length - 1;
    }
  }
}

function linkify(text: Text): PhrasingContent[] {
  if (linkifyTransforms.length === 0) return [text];
  const paragraph: Paragraph = { type: "paragraph", children: [text] };
  const root: Root = { type: "root", children: [paragraph] };
  for (const transform of linkifyTransforms) transform(root);
  return paragraph.children;
}

function plainLength(node: Nodes): number {
  if (node.type === "text") return node.value.length;
  if ("children" in node) return (node.children as Nodes[]).reduce((sum, c) => sum + plainLength(c), 0);
  return 0;
}
