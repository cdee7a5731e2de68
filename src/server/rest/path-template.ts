/**
 * Path templates of `google.api.http` rules (google/api/http.proto):
 *
 * ```
 * Template = "/" Segments [ Verb ] ;
 * Segments = Segment { "/" Segment } ;
 * Segment  = "*" | "**" | LITERAL | Variable ;
 * Variable = "{" FieldPath [ "=" Segments ] "}" ;
 * FieldPath = IDENT { "." IDENT } ;
 * Verb     = ":" LITERAL ;
 * ```
 *
 * A template is flattened into a list of segment matchers; each variable remembers the span of
 * segments it captures. `{name}` is short for `{name=*}`.
 */

/** One path segment of a template. */
export type TemplateSegment =
  | { readonly kind: "literal"; readonly value: string }
  /** `*`: exactly one non-empty segment (no `/`). */
  | { readonly kind: "wildcard" }
  /** `**`: the rest of the path, zero or more segments; only allowed last. */
  | { readonly kind: "deep" };

/** A variable of a template: the request field it fills and the segments it captures. */
export interface TemplateVariable {
  /** Dotted field path as written in the template, split (`memo.name` -> `["memo", "name"]`). */
  readonly fieldPath: readonly string[];
  /** Index of the first captured segment. */
  readonly start: number;
  /** Index after the last captured segment; for a variable ending in `**`, the path's end. */
  readonly end: number;
  /** The variable's own segments (`memos/*`), used for documentation. */
  readonly segments: readonly TemplateSegment[];
}

/** A parsed path template. */
export interface PathTemplate {
  readonly source: string;
  readonly segments: readonly TemplateSegment[];
  /** The custom verb after the last `:` (`batchDelete`), or `undefined`. */
  readonly verb: string | undefined;
  readonly variables: readonly TemplateVariable[];
}

/** Thrown for a template that does not follow the grammar; the message names the template. */
export class PathTemplateError extends Error {
  constructor(template: string, reason: string) {
    super(`invalid path template "${template}": ${reason}`);
    this.name = "PathTemplateError";
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LITERAL = /^[^/{}:*=]+$/;

/** Parses a `google.api.http` path template. Throws {@link PathTemplateError} when it is invalid. */
export function parsePathTemplate(source: string): PathTemplate {
  const fail = (reason: string): never => {
    throw new PathTemplateError(source, reason);
  };
  if (!source.startsWith("/")) fail("must start with /");

  // The verb is the text after the last ':' that is outside braces and after the last '/'.
  let depth = 0;
  let verbAt = -1;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "{") depth++;
    else if (c === "}") depth--;
    else if (depth === 0 && c === "/") verbAt = -1;
    else if (depth === 0 && c === ":") verbAt = i;
    if (depth < 0 || depth > 1) fail("unbalanced or nested braces");
  }
  if (depth !== 0) fail("unbalanced braces");
  const path = verbAt === -1 ? source : source.slice(0, verbAt);
  const verb = verbAt === -1 ? undefined : source.slice(verbAt + 1);
  if (verb !== undefined && !LITERAL.test(verb)) fail(`invalid verb "${verb}"`);

  const segments: TemplateSegment[] = [];
  const variables: TemplateVariable[] = [];
  const seen = new Set<string>();
  // Split on '/' outside braces.
  const parts: string[] = [];
  let current = "";
  depth = 0;
  for (const c of path.slice(1)) {
    if (c === "{") depth++;
    if (c === "}") depth--;
    if (c === "/" && depth === 0) {
      parts.push(current);
      current = "";
    } else current += c;
  }
  parts.push(current);

  for (const part of parts) {
    if (part.startsWith("{")) {
      if (!part.endsWith("}")) fail(`invalid variable "${part}"`);
      const inner = part.slice(1, -1);
      const eq = inner.indexOf("=");
      const fieldPath = (eq === -1 ? inner : inner.slice(0, eq)).split(".");
      if (!fieldPath.every((p) => IDENT.test(p))) fail(`invalid field path in "${part}"`);
      const key = fieldPath.join(".");
      if (seen.has(key)) fail(`field path "${key}" bound twice`);
      seen.add(key);
      const own = eq === -1 ? [{ kind: "wildcard" } as const] : inner.slice(eq + 1).split("/").map((s) => plainSegment(s, fail));
      if (own.length === 0) fail(`empty variable "${part}"`);
      const start = segments.length;
      segments.push(...own);
      variables.push({ fieldPath, start, end: segments.length, segments: own });
    } else {
      segments.push(plainSegment(part, fail));
    }
  }
  const deepAt = segments.findIndex((s) => s.kind === "deep");
  if (deepAt !== -1 && deepAt !== segments.length - 1) fail("** must be the last segment");
  return { source, segments, verb, variables };
}

function plainSegment(text: string, fail: (reason: string) => never): TemplateSegment {
  if (text === "*") return { kind: "wildcard" };
  if (text === "**") return { kind: "deep" };
  if (!LITERAL.test(text)) fail(`invalid segment "${text}"`);
  return { kind: "literal", value: text };
}

/**
 * Splits a request path (without query) into decoded segments and the verb candidate of its
 * last segment. Segments are split on raw `/` before decoding, so an encoded `%2F` stays inside
 * its segment; it is kept encoded so a `*` value never contains `/` (spec §1.2). Returns
 * `undefined` when the path is not absolute or holds malformed percent-encoding.
 */
export function splitRequestPath(path: string): { segments: string[]; verb: string | undefined; last: string } | undefined {
  if (path.charCodeAt(0) !== 47 /* / */) return undefined;
  const raw = path.slice(1).split("/");
  const lastRaw = raw[raw.length - 1]!;
  const colon = lastRaw.lastIndexOf(":");
  const segments = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const s = i === raw.length - 1 && colon > 0 ? lastRaw.slice(0, colon) : raw[i]!;
    const decoded = decodeSegment(s);
    if (decoded === undefined) return undefined;
    segments[i] = decoded;
  }
  let verb: string | undefined;
  let last = segments[segments.length - 1]!;
  if (colon > 0) {
    verb = decodeSegment(lastRaw.slice(colon + 1));
    const whole = decodeSegment(lastRaw);
    if (verb === undefined || whole === undefined) return undefined;
    last = whole;
  }
  return { segments, verb, last };
}

/** Percent-decodes one segment, keeping `%2F` encoded; `undefined` for malformed escapes. */
function decodeSegment(s: string): string | undefined {
  if (!s.includes("%")) return s;
  try {
    return s
      .split(/%2F/i)
      .map((p) => decodeURIComponent(p))
      .join("%2F");
  } catch {
    return undefined;
  }
}

/** Formats a template back into its canonical text (used in error messages and documentation). */
export function formatPathTemplate(t: PathTemplate): string {
  const out: string[] = [];
  for (let i = 0; i < t.segments.length; ) {
    const v = t.variables.find((x) => x.start === i);
    if (v !== undefined) {
      out.push(`{${v.fieldPath.join(".")}=${v.segments.map(segmentText).join("/")}}`);
      i = v.end;
    } else out.push(segmentText(t.segments[i++]!));
  }
  return "/" + out.join("/") + (t.verb === undefined ? "" : `:${t.verb}`);
}

function segmentText(s: TemplateSegment): string {
  return s.kind === "literal" ? s.value : s.kind === "wildcard" ? "*" : "**";
}
