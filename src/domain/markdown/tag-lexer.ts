/**
 * The `#tag` lexer of spec §6.5, run over the literal text that the Markdown parser left after
 * resolving code, links, autolinks, HTML and math (see `memo-markdown.ts`).
 *
 * It works on decoded text values. Characters that came from a backslash escape or an HTML
 * character reference are "opaque": they never start a tag (`\#tag`, `&#35;tag`) and they end
 * one (`#R&amp;D` is `R`, `#foo\+bar` is `foo`), which is what lexing the raw source gives.
 */

/** One tag found in a text value: `[start, end)` covers `#` and the spelling, `value` is the tag. */
export interface TagMatch {
  readonly start: number;
  readonly end: number;
  readonly value: string;
}

/** Answers whether the UTF-16 code unit at an index came from an escape or a character reference. */
export type OpaqueTest = (index: number) => boolean;

const NOTHING_OPAQUE: OpaqueTest = () => false;

// Built with the constructor: the `v` flag (sets of strings) is newer than the compile target.
const RGI_EMOJI = new RegExp("\\p{RGI_Emoji}", "vy");
const XID_CONTINUE = /^\p{XID_Continue}$/u;
const DEFAULT_IGNORABLE = /^\p{Default_Ignorable_Code_Point}$/u;
const COMBINING_MARK = /^[\p{Mn}\p{Mc}]$/u;

function isXidContinue(ch: string): boolean {
  return XID_CONTINUE.test(ch);
}
function isIgnorable(ch: string): boolean {
  return DEFAULT_IGNORABLE.test(ch);
}
function isCombining(ch: string): boolean {
  return COMBINING_MARK.test(ch);
}
function isAsciiJoiner(ch: string): boolean {
  return ch === "-" || ch === "+" || ch === "&";
}
function isApostrophe(ch: string): boolean {
  return ch === "'" || ch === "\u2019";
}

/** Length in code units of the fully-qualified emoji sequence at `index`, or 0. */
function emojiLength(text: string, index: number): number {
  RGI_EMOJI.lastIndex = index;
  const match = RGI_EMOJI.exec(text);
  return match === null ? 0 : match[0].length;
}

function codePointAt(text: string, index: number): string {
  return String.fromCodePoint(text.codePointAt(index)!);
}

interface Segment {
  readonly end: number;
  readonly value: string;
}

class TagScanner {
  constructor(
    private readonly text: string,
    private readonly opaque: OpaqueTest,
  ) {}

  /** Whether a non-combining XID character (not an emoji) starts at `index`: an apostrophe's right side. */
  private startsWordCharacter(index: number): boolean {
    if (index >= this.text.length || this.opaque(index) || emojiLength(this.text, index) > 0) return false;
    const ch = codePointAt(this.text, index);
    return isXidContinue(ch) && !isCombining(ch) && !isIgnorable(ch);
  }

  /**
   * One segment starting at `index`: leading ignorable and combining characters are skipped, then
   * it needs a starter (emoji, `-`, `+`, `&`, or a non-combining XID character).
   */
  segment(index: number): Segment | undefined {
    const { text } = this;
    let pos = index;
    let value = "";
    let afterWord = false;
    for (;;) {
      if (pos >= text.length || this.opaque(pos)) return undefined;
      const emoji = emojiLength(text, pos);
      if (emoji > 0) {
        value += text.slice(pos, pos + emoji);
        pos += emoji;
        break;
      }
      const ch = codePointAt(text, pos);
      if (isIgnorable(ch) || (isXidContinue(ch) && isCombining(ch))) {
        pos += ch.length;
        continue;
      }
      if (isAsciiJoiner(ch) || isXidContinue(ch)) {
        value += ch;
        pos += ch.length;
        afterWord = isXidContinue(ch);
        break;
      }
      return undefined;
    }
    while (pos < text.length && !this.opaque(pos)) {
      const emoji = emojiLength(text, pos);
      if (emoji > 0) {
        value += text.slice(pos, pos + emoji);
        pos += emoji;
        afterWord = false;
        continue;
      }
      const ch = codePointAt(text, pos);
      if (isIgnorable(ch)) {
        pos += ch.length;
        afterWord = false;
      } else if (isApostrophe(ch) && afterWord && this.startsWordCharacter(pos + ch.length)) {
        value += ch;
        pos += ch.length;
        afterWord = false;
      } else if (isAsciiJoiner(ch) || isXidContinue(ch)) {
        value += ch;
        pos += ch.length;
        afterWord = isXidContinue(ch);
      } else {
        break;
      }
    }
    return { end: pos, value };
  }

  /** Segments joined by single `/`; a `/` not followed by a segment ends the tag before it. */
  identifier(index: number): Segment | undefined {
    const first = this.segment(index);
    if (first === undefined) return undefined;
    let { end, value } = first;
    while (this.text[end] === "/" && !this.opaque(end)) {
      const next = this.segment(end + 1);
      if (next === undefined) break;
      value += "/" + next.value;
      end = next.end;
    }
    return { end, value };
  }
}

/**
 * Every tag in one run of literal text, in order. An emoji sequence is skipped whole, so the
 * keycap `#️⃣` never introduces a tag; a `#` that fails to start one (`##tag`, `# x`) is plain text
 * and scanning resumes right after it.
 */
export function scanTags(text: string, opaque: OpaqueTest = NOTHING_OPAQUE): TagMatch[] {
  const scanner = new TagScanner(text, opaque);
  const matches: TagMatch[] = [];
  let pos = 0;
  while (pos < text.length) {
    const emoji = emojiLength(text, pos);
    if (emoji > 0) {
      pos += emoji;
      continue;
    }
    if (text[pos] !== "#" || opaque(pos)) {
      pos += codePointAt(text, pos).length;
      continue;
    }
    const found = scanner.identifier(pos + 1);
    if (found === undefined) {
      pos += 1;
      continue;
    }
    matches.push({ start: pos, end: found.end, value: found.value });
    pos = found.end;
  }
  return matches;
}

/** `a/b/c` -> `a`, `a/b`, `a/b/c` (ancestors first, spec §6.5). */
export function expandTagHierarchy(tag: string): string[] {
  const out: string[] = [];
  for (let slash = tag.indexOf("/"); slash >= 0; slash = tag.indexOf("/", slash + 1)) {
    out.push(tag.slice(0, slash));
  }
  out.push(tag);
  return out;
}
