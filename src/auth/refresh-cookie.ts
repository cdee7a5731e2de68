/** Name of the refresh-token cookie (spec §3.4). */
export const REFRESH_COOKIE = "memos_refresh";

/** Request headers, as services see them (`ctx.requestHeader`). */
type HeaderReader = Pick<Headers, "get">;

/**
 * The `Set-Cookie` value for a refresh token, attributes in the reference server's order:
 * `memos_refresh=<jwt>; Path=/; HttpOnly; Expires=<IMF-fixdate>; SameSite=Lax[; Secure]`.
 * `expiresAt` is in Unix seconds.
 */
export function refreshCookie(token: string, expiresAt: number, secure: boolean): string {
  return `${REFRESH_COOKIE}=${token}; Path=/; HttpOnly; Expires=${new Date(expiresAt * 1000).toUTCString()}; SameSite=Lax${secure ? "; Secure" : ""}`;
}

/** The `Set-Cookie` value that deletes the refresh cookie (same attributes, empty value, epoch expiry). */
export function clearedRefreshCookie(secure: boolean): string {
  return refreshCookie("", 0, secure);
}

/**
 * Whether the request reached us over HTTPS as far as the headers tell (spec §3.4): any
 * comma-separated `X-Forwarded-Proto` value equal to `https` (any case), a `Forwarded` header
 * with `proto=https`, or an `Origin` starting with `https://`.
 */
export function isSecureRequest(headers: HeaderReader): boolean {
  const xfp = headers.get("x-forwarded-proto");
  if (xfp !== null && xfp.split(",").some((v) => v.trim().toLowerCase() === "https")) return true;
  const forwarded = headers.get("forwarded");
  if (forwarded !== null && /(^|[;,\s])proto="?https"?(\s*[;,]|\s*$)/i.test(forwarded)) return true;
  return headers.get("origin")?.toLowerCase().startsWith("https://") ?? false;
}

/** The value of cookie `name` in a `Cookie` header (first occurrence), or `undefined`. */
export function readCookie(cookieHeader: string | null, name: string): string | undefined {
  if (cookieHeader === null) return undefined;
  for (const part of cookieHeader.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value;
  }
  return undefined;
}
