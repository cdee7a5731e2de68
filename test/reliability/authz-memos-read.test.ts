/**
 * Authorization matrix, memo reads: every caller (anonymous, owner, another user, admin, the
 * owner's PAT, an expired token) x every memo target (PRIVATE/PROTECTED/PUBLIC, NORMAL/ARCHIVED,
 * top-level memos and comments of either author and state) x every MemoService read (GetMemo,
 * ListMemoAttachments, ListMemoComments, ListMemoRelations, ListMemoReactions, GetSharedMemo)
 * x both access modes, plus ListMemos with filters aimed at other users' memos and the user stats.
 * One transport per cell in rotation (Connect JSON, Connect binary, gRPC over h2c, REST). The raw
 * bytes of every response are searched for the markers (content, tag, reaction type, attachment
 * file name) of memos the caller may not read, and for e-mail addresses. Expected outcomes come
 * from spec §1.3, §6.3 and §6.7-§6.13 (support/authz-memo-ops.ts), not from the server.
 */
import { Code } from "@connectrpc/connect";
import { jest } from "@jest/globals";
import { MemoService } from "../../gen/memos/api/v1/memo_service_pb.js";
import { first, rotating, runCell } from "./support/authz-cells.js";
import { MEMO_LIST_RPCS } from "./support/authz-coverage.js";
import { MEMO_OPS } from "./support/authz-memo-ops.js";
import { describeMemoOps, MemoMatrix, STATES } from "./support/authz-memo-matrix.js";
import { ALL_TRANSPORTS, procedureOf, rpc } from "./support/authz-transports.js";
import { ACCESS_MODES, CALLERS, effectiveUser, gate, type AuthzWorld, type CallerKey, type MemoFact, type RowState, type UserKey } from "./support/authz-world.js";

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
  describeMemoOps(() => matrix, MEMO_OPS.filter((op) => op.kind === "read"), mode);

  /** ListMemos filters, some aimed at other users' private memos, with the same predicate in JS. */
  const FILTERS: Array<[string, (w: AuthzWorld) => string, (m: MemoFact, w: AuthzWorld) => boolean]> = [
    ["no filter", () => "", () => true],
    ['visibility == "PRIVATE"', () => 'visibility == "PRIVATE"', (m) => m.visibility === "PRIVATE"],
    ["every visibility", () => 'visibility in ["PRIVATE", "PROTECTED", "PUBLIC"]', () => true],
    ["creator == other", (w) => `creator == "${w.users.other.name}"`, (m) => m.creator === "other"],
    ["creator == owner", (w) => `creator == "${w.users.owner.name}"`, (m) => m.creator === "owner"],
    ["creator == admin", (w) => `creator == "${w.users.admin.name}"`, (m) => m.creator === "admin"],
    ["creator_id == owner's id", (w) => `creator_id == ${w.users.owner.id}`, (m) => m.creator === "owner"],
    ["content contains the marker prefix", () => 'content.contains("zq")', () => true],
    ["private or owner's", (w) => `visibility == "PRIVATE" || creator == "${w.users.owner.name}"`, (m) => m.visibility === "PRIVATE" || m.creator === "owner"],
    ["not PUBLIC", () => '!(visibility == "PUBLIC")', (m) => m.visibility !== "PUBLIC"],
    ["pinned or not", () => "pinned || !pinned", () => true],
  ];
  const { ListMemos, GetUserStats, ListAllUserStats } = MEMO_LIST_RPCS;

  describe("ListMemos", () => {
    const listCells = CALLERS.flatMap((c) => STATES.flatMap((s) => FILTERS.map((f): [CallerKey, RowState, string] => [c, s, f[0]])));
    test.each(listCells)("%s lists %s memos, filter: %s", async (callerKey, state, filterName) => {
      const [, filterOf, predicate] = FILTERS.find((f) => f[0] === filterName)!;
      const viewer = effectiveUser(callerKey);
      const outcome = first(gate(procedureOf(ListMemos), viewer, mode));
      // Scope of spec §6.7: NORMAL = own memos + others' PUBLIC/PROTECTED (anonymous: PUBLIC);
      // ARCHIVED = own archived memos only. Comments never. Admins get nothing more.
      const inScope = (m: MemoFact) =>
        m.parent === undefined &&
        !m.deleted &&
        m.state === state &&
        (state === "ARCHIVED"
          ? viewer !== undefined && m.creator === viewer
          : viewer === undefined
            ? m.visibility === "PUBLIC"
            : m.creator === viewer || m.visibility !== "PRIVATE") &&
        predicate(m, matrix.world);
      for (const kind of [rotating(listCells.findIndex((c) => c[0] === callerKey && c[1] === state && c[2] === filterName), ALL_TRANSPORTS)]) {
        const res = await runCell(matrix.caller, matrix.world, matrix.model, kind, ListMemos, { pageSize: 1000, state: state === "ARCHIVED" ? 2 : 1, filter: filterOf(matrix.world) }, matrix.world.token(callerKey), viewer, {
          outcome,
          allowed: matrix.readable(viewer, mode),
        });
        if (outcome !== "ok") continue;
        const listed = matrix.model
          .all()
          .filter((m) => res.raw.includes(m.contentMarker))
          .map((m) => m.uid)
          .sort();
        expect({ kind, listed }).toEqual({ kind, listed: matrix.model.all().filter(inScope).map((m) => m.uid).sort() });
      }
    });
  });

  describe("user stats never count or name memos the caller cannot read", () => {
    const statCells = CALLERS.flatMap((c) => (["owner", "other", "admin", "all"] as const).map((u): [CallerKey, string] => [c, u]));
    test.each(statCells)("%s reads the stats of %s", async (callerKey, of) => {
      const viewer = effectiveUser(callerKey);
      const r = of === "all" ? ListAllUserStats : GetUserStats;
      const request = of === "all" ? {} : { name: matrix.world.users[of as UserKey].name };
      for (const kind of [rotating(statCells.findIndex((c) => c[0] === callerKey && c[1] === of), ALL_TRANSPORTS)]) {
        const res = await runCell(matrix.caller, matrix.world, matrix.model, kind, r, request, matrix.world.token(callerKey), viewer, {
          outcome: first(gate(procedureOf(r), viewer, mode)),
          allowed: matrix.readable(viewer, mode),
        });
        if (res.outcome !== "ok" || of === "all") continue;
        // The tags of the user's memos the caller can list show up in the tag counts.
        const visibleTop = matrix.model.all().filter(
          (m) => m.creator === of && m.parent === undefined && !m.deleted && m.state === "NORMAL" && matrix.model.read(m, viewer, mode) === "ok",
        );
        for (const m of visibleTop) expect([kind, m.uid, res.raw.includes(m.contentMarker)]).toEqual([kind, m.uid, true]);
      }
    });
  });
});

test("unauthenticated reads of unknown memos are not told apart from known ones", async () => {
  // Anonymous on a PRIVATE instance: the gate answers before anything is looked up.
  await matrix.world.setAccessMode("PRIVATE");
  const known = await matrix.caller.call("connect-json", rpc(MemoService, "GetMemo"), { name: matrix.fixtures.get("owner's PUBLIC NORMAL memo")!.name }, undefined);
  const unknown = await matrix.caller.call("connect-json", rpc(MemoService, "GetMemo"), { name: "memos/m-nosuchmemo" }, undefined);
  expect([known.outcome, unknown.outcome]).toEqual([Code.Unauthenticated, Code.Unauthenticated]);
});
