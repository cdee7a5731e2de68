/**
 * Resource-name parsing (spec §2.1): split on `/`, exactly 2×(collections) segments, each
 * collection segment literal, each id segment non-empty. Answers the ids, or `undefined`.
 */
export function parseResourceName(name: string, collections: readonly string[]): string[] | undefined {
  const parts = name.split("/");
  if (parts.length !== collections.length * 2) return undefined;
  const ids: string[] = [];
  for (let i = 0; i < collections.length; i++) {
    if (parts[2 * i] !== collections[i] || parts[2 * i + 1] === "") return undefined;
    ids.push(parts[2 * i + 1]!);
  }
  return ids;
}

/** `users/{username}` -> username. */
export function parseUserName(name: string): string | undefined {
  return parseResourceName(name, ["users"])?.[0];
}

/** `users/{username}/personalAccessTokens/{tokenId}` -> [username, tokenId]. */
export function parsePersonalAccessTokenName(name: string): [string, string] | undefined {
  const ids = parseResourceName(name, ["users", "personalAccessTokens"]);
  return ids === undefined ? undefined : [ids[0]!, ids[1]!];
}
