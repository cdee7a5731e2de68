import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { decodeOffsetToken, type OffsetPage } from "./page-token.js";

/**
 * A page token that cannot be used: garbage, tampered with, signed with another key, too old,
 * or minted for a different query. The service answers `invalid_argument` with `message`
 * (already `invalid page token: ...`, as spec §2.2 words it). Check `.name` across realms.
 */
export class PageTokenError extends Error {
  override readonly name = "PageTokenError";
  readonly code = "invalid_argument";
}

/** What a keyset cursor remembers: the sort-key values of the last row, id (tie-breaker) last. */
export type CursorValues = ReadonlyArray<string | number | boolean | null>;

/**
 * The keyset-token key for an instance: HMAC-SHA256 of a fixed label under the instance secret
 * (the one that signs JWTs). Every replica, before and after a restart, derives the same key, so
 * a token minted by one is accepted by all; the label keeps it distinct from the JWT key.
 */
export function deriveKeysetTokenKey(instanceSecret: string): Uint8Array {
  return createHmac("sha256", instanceSecret).update("memos-connect/keyset-page-token/v1").digest();
}

/** Options of `createKeysetTokenCodec`. */
export interface KeysetTokenOptions {
  /** HMAC-SHA256 key (e.g. derived from the instance secret). At least 16 bytes. */
  readonly key: Uint8Array | string;
  /** Tokens older than this many seconds are rejected. Default: no age limit. */
  readonly maxAgeSeconds?: number;
  /** Clock in Unix seconds. Default: `Date.now() / 1000`. */
  readonly now?: () => number;
}

/** Mints and checks keyset cursor tokens bound to one query. */
export interface KeysetTokenCodec {
  /**
   * An opaque token for the page after the row with `values`. `query` is anything that
   * identifies the listing (filter, order, state, caller...); it is hashed into the token so a
   * token reused with a different query is rejected.
   */
  encode(values: CursorValues, query: unknown): string;
  /** The cursor values of a token minted by `encode` for the same `query`; else `PageTokenError`. */
  decode(token: string, query: unknown): CursorValues;
}

/**
 * Keyset tokens: `k1.` + base64url(mac[16] ‖ JSON{v, q, t}). `v` is the cursor, `q` a hash of
 * the query, `t` the issue time; the MAC (HMAC-SHA256, truncated to 128 bits) covers the JSON.
 * The `.` cannot occur in the standard-base64 offset tokens of spec §2.2, so the two formats
 * never collide (see `decodeMemoPageToken`).
 */
export function createKeysetTokenCodec(options: KeysetTokenOptions): KeysetTokenCodec {
  const key = typeof options.key === "string" ? Buffer.from(options.key, "utf8") : Buffer.from(options.key);
  if (key.length < 16) throw new TypeError("keyset token key must be at least 16 bytes");
  const now = options.now ?? (() => Date.now() / 1000);
  const mac = (body: Buffer): Buffer => createHmac("sha256", key).update(PREFIX).update(body).digest().subarray(0, MAC_BYTES);

  return {
    encode(values, query) {
      for (const v of values) {
        if (!isCursorValue(v)) throw new TypeError("cursor values must be strings, finite numbers, booleans or null");
      }
      const body = Buffer.from(JSON.stringify({ v: values, q: queryHash(query), t: Math.floor(now()) }), "utf8");
      return PREFIX + Buffer.concat([mac(body), body]).toString("base64url");
    },
    decode(token, query) {
      if (!token.startsWith(PREFIX)) throw new PageTokenError("invalid page token: not a page token of this server");
      const encoded = token.slice(PREFIX.length);
      if (!/^[A-Za-z0-9_-]+$/.test(encoded) || encoded.length > MAX_TOKEN_CHARS) {
        throw new PageTokenError("invalid page token: malformed");
      }
      const raw = Buffer.from(encoded, "base64url");
      if (raw.length <= MAC_BYTES) throw new PageTokenError("invalid page token: malformed");
      const body = raw.subarray(MAC_BYTES);
      if (!timingSafeEqual(raw.subarray(0, MAC_BYTES), mac(body))) {
        throw new PageTokenError("invalid page token: signature mismatch (tampered, or issued by another key)");
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString("utf8"));
      } catch {
        throw new PageTokenError("invalid page token: malformed");
      }
      const p = parsed as { v?: unknown; q?: unknown; t?: unknown };
      if (
        typeof parsed !== "object" ||
        parsed === null ||
        !Array.isArray(p.v) ||
        !p.v.every(isCursorValue) ||
        typeof p.q !== "string" ||
        typeof p.t !== "number"
      ) {
        throw new PageTokenError("invalid page token: malformed");
      }
      if (p.q !== queryHash(query)) {
        throw new PageTokenError("invalid page token: it belongs to a different query (filter, order or state changed)");
      }
      if (options.maxAgeSeconds !== undefined && now() - p.t > options.maxAgeSeconds) {
        throw new PageTokenError("invalid page token: expired");
      }
      return p.v as CursorValues;
    },
  };
}

const PREFIX = "k1.";
const MAC_BYTES = 16;
const MAX_TOKEN_CHARS = 4096;

function isCursorValue(v: unknown): v is string | number | boolean | null {
  return v === null || typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));
}

/** A short, stable hash of a query description (object keys sorted). */
function queryHash(query: unknown): string {
  return createHash("sha256").update(stableJson(query)).digest("base64url").slice(0, 22);
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** A ListMemos page token, either format. */
export type MemoPageToken =
  | { readonly kind: "first" }
  | { readonly kind: "keyset"; readonly values: CursorValues }
  | { readonly kind: "offset"; readonly page: OffsetPage };

/**
 * Reads a ListMemos `page_token`: "" is the first page; a keyset token from `codec` gives its
 * cursor; a legacy offset token (spec §2.2, e.g. `CAIQAg==`, decoded by `page-token.ts`) is
 * still accepted so clients holding one keep working. Anything else is a `PageTokenError`.
 */
export function decodeMemoPageToken(token: string, query: unknown, codec: KeysetTokenCodec): MemoPageToken {
  if (token === "") return { kind: "first" };
  if (token.startsWith(PREFIX)) return { kind: "keyset", values: codec.decode(token, query) };
  const page = decodeOffsetToken(token);
  if (page === undefined) throw new PageTokenError("invalid page token: neither a cursor nor an offset token");
  return { kind: "offset", page };
}
