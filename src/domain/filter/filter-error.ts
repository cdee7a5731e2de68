/**
 * An invalid `filter` (spec §6.7.1, §6.7.2): a syntax error, an unknown identifier, a type error
 * or something outside the supported subset. The service answers `invalid_argument` with
 * `message`, which already reads `invalid filter: ...` as upstream's does.
 *
 * Check `err.name === "FilterError"` rather than `instanceof` where errors may cross realms.
 */
export class FilterError extends Error {
  override readonly name = "FilterError";
  /** The Connect code the service maps this error to. */
  readonly code = "invalid_argument";

  constructor(
    /** What is wrong, without the `invalid filter: ` prefix or the position. */
    readonly detail: string,
    /** 0-based UTF-16 offset into the filter text, when known. */
    readonly position?: number,
    source?: string,
  ) {
    super(`invalid filter: ${detail}${describePosition(position, source)}`);
  }
}

function describePosition(position: number | undefined, source: string | undefined): string {
  if (position === undefined) return "";
  if (source === undefined) return ` at offset ${position}`;
  const before = source.slice(0, position);
  const line = before.split("\n").length;
  const column = position - (before.lastIndexOf("\n") + 1) + 1;
  return line === 1 ? ` at column ${column}` : ` at line ${line}, column ${column}`;
}
