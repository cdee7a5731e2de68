import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { PageTokenSchema } from "../../gen/memos/api/v1/common_pb.js";

/** Page size normalisation (spec §2.2): `<= 0` means 50, anything above 1000 is 1000. */
export function normalizePageSize(size: number): number {
  if (size <= 0) return 50;
  return Math.min(size, 1000);
}

/** An offset page: how many rows and from where. */
export interface OffsetPage {
  readonly limit: number;
  readonly offset: number;
}

/** Standard padded base64 of `PageToken{limit, offset}` (spec §2.2; limit 2/offset 2 is `CAIQAg==`). */
export function encodeOffsetToken(page: OffsetPage): string {
  return Buffer.from(toBinary(PageTokenSchema, create(PageTokenSchema, page))).toString("base64");
}

/**
 * Decodes an offset token; `undefined` when it is not one. A token's limit wins over the
 * request's page size; a negative offset counts as 0.
 */
export function decodeOffsetToken(token: string): OffsetPage | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(token) || token.length % 4 !== 0) return undefined;
  try {
    const msg = fromBinary(PageTokenSchema, Buffer.from(token, "base64"));
    return { limit: normalizePageSize(msg.limit), offset: Math.max(0, msg.offset) };
  } catch {
    return undefined;
  }
}

/** The page to read for a request's `page_size`/`page_token` pair, or `undefined` for a bad token. */
export function resolveOffsetPage(pageSize: number, pageToken: string): OffsetPage | undefined {
  if (pageToken === "") return { limit: normalizePageSize(pageSize), offset: 0 };
  return decodeOffsetToken(pageToken);
}
