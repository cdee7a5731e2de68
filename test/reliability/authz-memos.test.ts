/**
 * Authorization matrix, memos: every caller (anonymous, owner, another user, admin, the owner's
 * PAT, an expired token) x every memo state (PRIVATE/PROTECTED/PUBLIC, NORMAL/ARCHIVED, top-level
 * memos and comments of either author and state, whose stored visibility is stale) x every
 * memo RPC x both instance access modes. Reads run over Connect JSON, Connect binary, gRPC (h2c)
 * and REST; writes over one of them per cell, in rotation. Each response's raw bytes are searched
 * for the markers of memos, reactions and attachments the caller may not read, and for e-mail
 * addresses. Expected outcomes come from spec §1.3, §6.3 and §6.7-§6.13 (support/authz-*.ts).
 */
import { Code } from "@connectrpc/connect";
import { jest } from "@jest/globals";
import { MemoService } from "../../gen/memos/api/v1/memo_service_pb.js";
import { first, rotating, runCell } from "./support/authz-cells.js";
import { MEMO_LIST_RPCS } from "./support/authz-coverage.js";
import { MEMO_OPS, READ_TRANSPORTS, type MemoOp, type MemoOpContext } from "./support/authz-memo-ops.js";
import { buildThread, FOUR_COMMENTS, type CommentSpec, type MemoSpec } from "./support/authz-seed.js";
import { ALL_TRANSPORTS, procedureOf, rpc, RpcCaller } from "./support/authz-transports.js";
import {
  ACCESS_MODES,
  CALLERS,
  effectiveUser,
  gate,
  MemoModel,
  startAuthzWorld,
  VISIBILITIES,
  type AccessMode,
  type AuthzWorld,
  type CallerKey,
  type MemoFact,
  type RowState,
  type UserKey,
} from "./support/authz-world.js";

jest.setTimeout(120_000);

interface Target {
  readonly key: string;
  readonly top: Omit<MemoSpec, "share" | "attachment" | "reaction">;
  readonly comment?: CommentSpec;
}

const STATES: readonly RowState[] = ["NORMAL", "ARCHIVED"];
const TARGETS: Target[] = [];
for (const visibility of VISIBILITIES) {
  for (const state of STATES) {
    const top = { creator: "owner" as const, visibility, state };
    TARGETS.push({ key: `owner's ${visibility} ${state} memo`, top });
    for (const comment of FOUR_COMMENTS) TARGETS.push({ key: `${comment.creator}'s ${comment.state} comment under owner's ${visibility} ${state} memo`, top, comment });
  }
}

let world: AuthzWorld;
let caller: RpcCaller;
const model = new MemoModel();
const fixtures = new Map<string, MemoFact>();

beforeAll(async () => {
  world = await startAuthzWorld();
  caller = new RpcCaller(world.t.baseUrl);
  for (const visibility of VISIBILITIES) {
    for (const state of STATES) {
      const extras = { share: true, attachment: true, reaction: true };
      const owner = await buildThread(world, model, { creator: "owner", visibility, state, ...extras }, FOUR_COMMENTS);
      fixtures.set(`owner's ${visibility} ${state} memo`, owner.memo);
      FOUR_COMMENTS.forEach((c, i) => fixtures.set(`${c.creator}'s ${c.state} comment under owner's ${visibility} ${state} memo`, owner.comments[i]!));
      // The other user's memos: list fodder, which the owner may not see when PRIVATE or archived.
      await buildThread(world, model, { creator: "other", visibility, state, ...extras });
    }
    // The admin's memos: only list fodder, which nobody else may see when PRIVATE.
    await buildThread(world, model, { creator: "admin", visibility, state: "NORMAL", reaction: true });
  }
}, 300_000);

afterAll(async () => {
  caller?.close();
  await world?.close();
});

/** Every memo the viewer may read in this mode (spec §6.3). */
function readable(viewer: UserKey | undefined, mode: AccessMode): Set<string> {
  return new Set(model.all().filter((m) => model.read(m, viewer, mode) === "ok").map((m) => m.uid));
}

/** A fresh copy of the target for destructive cells (no attachment, reaction or share). */
async function scratchOf(target: Target): Promise<MemoFact> {
  const built = await buildThread(world, model, target.top, target.comment === undefined ? [] : [target.comment]);
  return target.comment === undefined ? built.memo : built.comments[0]!;
}

const CELLS: Array<[CallerKey, string]> = CALLERS.flatMap((c) => TARGETS.map((t): [CallerKey, string] => [c, t.key]));

describe.each(ACCESS_MODES)("%s instance", (mode) => {
  beforeAll(() => world.setAccessMode(mode));

  describe.each(MEMO_OPS.map((op, i): [string, MemoOp, number] => [op.rpc.method.name, op, i]))("%s", (_name, op, opIndex) => {
    test.each(CELLS)("%s on %s", async (callerKey, targetKey) => {
      const target = TARGETS.find((t) => t.key === targetKey)!;
      const viewer = effectiveUser(callerKey);
      const fixture = fixtures.get(targetKey)!;
      const ctx: MemoOpContext = { world, model, mode, viewer };
      // A destructive call that should succeed gets a fresh copy; one that should be refused
      // runs on the fixture (and fails the cell anyway if the server lets it through).
      const m = op.scratch && op.expect(fixture, ctx) === "ok" ? await scratchOf(target) : fixture;
      // One transport per cell, rotating so every memo meets every transport across the callers.
      const cellIndex = CALLERS.indexOf(callerKey) + TARGETS.indexOf(target) + opIndex + ACCESS_MODES.indexOf(mode);
      const kinds = [rotating(cellIndex, op.kind === "read" ? READ_TRANSPORTS : ALL_TRANSPORTS)];
      for (const kind of kinds) {
        const outcome = op.expect(m, ctx);
        const allowed = readable(viewer, mode);
        const extra = outcome === "ok" ? (op.allowOnOk?.(m, ctx) ?? {}) : {};
        for (const uid of extra.uids ?? []) allowed.add(uid);
        const request = await op.request(m, ctx);
        const res = await runCell(caller, world, model, kind, op.rpc, request, world.token(callerKey), viewer, {
          outcome,
          allowed,
          allowedMarkers: new Set(extra.markers ?? []),
          requestNames: [m.uid],
        });
        if (outcome === "ok") {
          op.check?.(res, m, ctx);
          op.after?.(m, ctx);
        }
      }
    });
  });

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
        predicate(m, world);
      for (const kind of [rotating(listCells.findIndex((c) => c[0] === callerKey && c[1] === state && c[2] === filterName), ALL_TRANSPORTS)]) {
        const res = await runCell(caller, world, model, kind, ListMemos, { pageSize: 1000, state: state === "ARCHIVED" ? 2 : 1, filter: filterOf(world) }, world.token(callerKey), viewer, {
          outcome,
          allowed: readable(viewer, mode),
        });
        if (outcome !== "ok") continue;
        const listed = model
          .all()
          .filter((m) => res.raw.includes(m.contentMarker))
          .map((m) => m.uid)
          .sort();
        expect({ kind, listed }).toEqual({ kind, listed: model.all().filter(inScope).map((m) => m.uid).sort() });
      }
    });
  });

  describe("user stats never count or name memos the caller cannot read", () => {
    const statCells = CALLERS.flatMap((c) => (["owner", "other", "admin", "all"] as const).map((u): [CallerKey, string] => [c, u]));
    test.each(statCells)("%s reads the stats of %s", async (callerKey, of) => {
      const viewer = effectiveUser(callerKey);
      const r = of === "all" ? ListAllUserStats : GetUserStats;
      const request = of === "all" ? {} : { name: world.users[of as UserKey].name };
      for (const kind of [rotating(statCells.findIndex((c) => c[0] === callerKey && c[1] === of), ALL_TRANSPORTS)]) {
        const res = await runCell(caller, world, model, kind, r, request, world.token(callerKey), viewer, {
          outcome: first(gate(procedureOf(r), viewer, mode)),
          allowed: readable(viewer, mode),
        });
        if (res.outcome !== "ok" || of === "all") continue;
        // The tags of the user's memos the caller can list show up in the tag counts.
        const visibleTop = model.all().filter(
          (m) => m.creator === of && m.parent === undefined && !m.deleted && m.state === "NORMAL" && model.read(m, viewer, mode) === "ok",
        );
        for (const m of visibleTop) expect([kind, m.uid, res.raw.includes(m.contentMarker)]).toEqual([kind, m.uid, true]);
      }
    });
  });
});

test("unauthenticated reads of unknown memos are not told apart from known ones", async () => {
  // Anonymous on a PRIVATE instance: the gate answers before anything is looked up.
  await world.setAccessMode("PRIVATE");
  const known = await caller.call("connect-json", rpc(MemoService, "GetMemo"), { name: fixtures.get("owner's PUBLIC NORMAL memo")!.name }, undefined);
  const unknown = await caller.call("connect-json", rpc(MemoService, "GetMemo"), { name: "memos/m-nosuchmemo" }, undefined);
  expect([known.outcome, unknown.outcome]).toEqual([Code.Unauthenticated, Code.Unauthenticated]);
});
