/**
 * The client's address for throttling and session records: the first `X-Forwarded-For` entry,
 * else `X-Real-Ip`, else the TCP peer. Proxy headers are trusted as the reference server trusts
 * them; deploy behind a proxy that overwrites them (the per-username limit holds regardless).
 */
export function clientAddress(headers: Pick<Headers, "get">, peer: string): string {
  const first = headers.get("x-forwarded-for")?.split(",")[0]?.trim();
  if (first) return first;
  const real = headers.get("x-real-ip")?.trim();
  if (real) return real;
  return peer.startsWith("::ffff:") ? peer.slice("::ffff:".length) : peer;
}
