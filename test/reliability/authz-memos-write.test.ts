/**
 * Authorization matrix, memo writes: every caller (anonymous, owner, another user, admin, the
 * owner's PAT, an expired token) x every memo target (PRIVATE/PROTECTED/PUBLIC, NORMAL/ARCHIVED,
 * top-level memos and comments of either author and state) x every MemoService RPC that changes
 * a memo, its comments, relations, attachments, reactions or shares x both access modes, one
 * transport per cell in rotation (Connect JSON, Connect binary, gRPC, REST). Expected outcomes
 * from spec §1.3, §6.3 and §6.8-§6.13 (support/authz-memo-ops.ts); every response is searched
 * for markers of memos the caller may not read, and the reads that show relations and comments run
 * again after the writes.
 */
import { jest } from "@jest/globals";
import { MEMO_OPS } from "./support/authz-memo-ops.js";
import { describeMemoOps, MemoMatrix } from "./support/authz-memo-matrix.js";
import { ACCESS_MODES } from "./support/authz-world.js";

jest.setTimeout(120_000);

let matrix: MemoMatrix;
beforeAll(async () => {
  matrix = await MemoMatrix.start();
}, 300_000);
afterAll(async () => {
  await matrix?.close();
});

describe.each(ACCESS_MODES)("%s instance", (mode) => {
  beforeAll(() => matrix.world.setAccessMode(mode));
  describeMemoOps(() => matrix, MEMO_OPS.filter((op) => op.kind === "write"), mode);
  // Reads again after the writes: comments of comments, new reactions and shares must not open
  // a way around the rules either.
  describe("after the writes", () => {
    describeMemoOps(() => matrix, MEMO_OPS.filter((op) => ["GetMemo", "ListMemoRelations", "ListMemoComments"].includes(op.rpc.method.name)), mode);
  });
});
