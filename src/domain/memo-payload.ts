import { analyzeMemoMarkdown, type MemoMarkdown, type MemoProperty } from "./markdown/memo-markdown.js";

/** A memo's location (spec §6.2). */
export interface MemoLocation {
  readonly placeholder: string;
  readonly latitude: number;
  readonly longitude: number;
}

/** Everything `memo.payload` holds, as the service reads it. */
export interface MemoPayload extends MemoMarkdown {
  readonly location?: MemoLocation;
}

/**
 * The stored `memo.payload` JSON (spec §7): protobuf-JSON style, camelCase, false booleans, empty
 * strings and empty arrays left out, so the filter SQL's "missing means false/empty" holds:
 * `{"property":{...},"location":{...},"tags":[...]}`. Beyond the reference, the snippet is stored
 * as well (`"snippet"`): deriving it means a full Markdown parse (about a millisecond per memo),
 * which would otherwise be paid for every memo of every list page. Payloads without it (written
 * by other tools) are still read correctly, by parsing on read.
 */
export function formatMemoPayload(derived: MemoMarkdown, location: MemoLocation | undefined): string {
  const out: Record<string, unknown> = {};
  const property: Record<string, unknown> = {};
  const p = derived.property;
  if (p.hasLink) property.hasLink = true;
  if (p.hasTaskList) property.hasTaskList = true;
  if (p.hasCode) property.hasCode = true;
  if (p.hasIncompleteTasks) property.hasIncompleteTasks = true;
  if (p.title !== "") property.title = p.title;
  if (Object.keys(property).length > 0) out.property = property;
  if (location !== undefined) {
    const loc: Record<string, unknown> = {};
    if (location.placeholder !== "") loc.placeholder = location.placeholder;
    if (location.latitude !== 0) loc.latitude = location.latitude;
    if (location.longitude !== 0) loc.longitude = location.longitude;
    out.location = loc;
  }
  if (derived.tags.length > 0) out.tags = derived.tags;
  // Always present (even ""), so reading never re-derives it.
  out.snippet = derived.snippet;
  return JSON.stringify(out);
}

/** Derives the payload of `content` (spec §6.5) with `location`, as stored JSON text. */
export function memoPayloadFor(content: string, location: MemoLocation | undefined): string {
  return formatMemoPayload(analyzeMemoMarkdown(content), location);
}

/**
 * Reads a stored payload (the parsed JSONB value) of a memo with `content`. Tags and property
 * come from the payload as stored; a payload without a stored snippet (written by another tool)
 * gets one derived from `content`, and so do empty-content memos trivially.
 */
export function readMemoPayload(stored: unknown, content: string): MemoPayload {
  const raw = (typeof stored === "string" ? safeParse(stored) : stored) as Record<string, unknown> | null | undefined;
  const obj = raw !== null && typeof raw === "object" && !Array.isArray(raw) ? raw : {};
  const prop = (obj.property !== null && typeof obj.property === "object" ? obj.property : {}) as Record<string, unknown>;
  const property: MemoProperty = {
    hasLink: prop.hasLink === true,
    hasTaskList: prop.hasTaskList === true,
    hasCode: prop.hasCode === true,
    hasIncompleteTasks: prop.hasIncompleteTasks === true,
    title: typeof prop.title === "string" ? prop.title : "",
  };
  const tags = Array.isArray(obj.tags) ? obj.tags.filter((t): t is string => typeof t === "string") : [];
  const snippet = typeof obj.snippet === "string" ? obj.snippet : content === "" ? "" : analyzeMemoMarkdown(content).snippet;
  const loc = obj.location;
  const location =
    loc !== null && typeof loc === "object" && !Array.isArray(loc)
      ? {
          placeholder: typeof (loc as Record<string, unknown>).placeholder === "string" ? ((loc as Record<string, unknown>).placeholder as string) : "",
          latitude: toNumber((loc as Record<string, unknown>).latitude),
          longitude: toNumber((loc as Record<string, unknown>).longitude),
        }
      : undefined;
  return { tags, property, snippet, ...(location === undefined ? {} : { location }) };
}

/** Just the snippet of a stored payload (relation endpoints), derived from `content` when missing. */
export function snippetOf(stored: unknown, content: string): string {
  const raw = typeof stored === "string" ? safeParse(stored) : stored;
  const snippet = raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>).snippet : undefined;
  if (typeof snippet === "string") return snippet;
  return content === "" ? "" : analyzeMemoMarkdown(content).snippet;
}

function toNumber(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
