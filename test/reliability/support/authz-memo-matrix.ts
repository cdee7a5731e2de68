/**
 * The memo half of the authorization matrix, shared by authz-memos-read.test.ts and
 * authz-memos-write.test.ts: the memo targets (every visibility and state, top-level memos and
 * comments of either author and state), one seeded app per file, and the cells of a list of
 * memo operations (caller x target, per access mode).
 */
import { rotating, runCell } from "./authz-cells.js";
import { MEMO_OPS, READ_TRANSPORTS, type MemoOp, type MemoOpContext } from "./authz-memo-ops.js";
import { buildThread, FOUR_COMMENTS, type CommentSpec, type MemoSpec } from "./authz-seed.js";
import { ALL_TRANSPORTS, RpcCaller } from "./authz-transports.js";
import {
  ACCESS_MODES,
  CALLERS,
  effectiveUser,
  MemoModel,
  startAuthzWorld,
  VISIBILITIES,
  type AccessMode,
  type AuthzWorld,
  type CallerKey,
  type MemoFact,
  type RowState,
  type UserKey,
} from "./authz-world.js";

export const STATES: readonly RowState[] = ["NORMAL", "ARCHIVED"];

export interface MemoTarget {
  readonly key: string;
  readonly top: Omit<MemoSpec, "share" | "attachment" | "reaction">;
  readonly comment?: CommentSpec;
}

/** The owner's memos of every visibility and state, and four comments under each. */
export const MEMO_TARGETS: readonly MemoTarget[] = VISIBILITIES.flatMap((visibility) =>
  STATES.flatMap((state) => {
    const top = { creator: "owner" as const, visibility, state };
    return [
      { key: `owner's ${visibility} ${state} memo`, top },
      ...FOUR_COMMENTS.map((comment) => ({ key: `${comment.creator}'s ${comment.state} comment under owner's ${visibility} ${state} memo`, top, comment })),
    ];
  }),
);

/** One app seeded with the targets plus list fodder of the other user and the admin. */
export class MemoMatrix {
  readonly model = new MemoModel();
  readonly fixtures = new Map<string, MemoFact>();

  private constructor(
    readonly world: AuthzWorld,
    readonly caller: RpcCaller,
  ) {}

  static async start(): Promise<MemoMatrix> {
    const world = await startAuthzWorld();
    const m = new MemoMatrix(world, new RpcCaller(world.t.baseUrl));
    try {
      await m.seed();
    } catch (err) {
      await m.close();
      throw err;
    }
    return m;
  }

  private async seed(): Promise<void> {
    const { world, model, fixtures } = this;
    const extras = { share: true, attachment: true, reaction: true };
    const combos = VISIBILITIES.flatMap((visibility) => STATES.map((state) => ({ visibility, state })));
    // Threads are independent: build them side by side.
    await Promise.all([
      ...combos.map(async ({ visibility, state }) => {
        const owner = await buildThread(world, model, { creator: "owner", visibility, state, ...extras }, FOUR_COMMENTS);
        fixtures.set(`owner's ${visibility} ${state} memo`, owner.memo);
        FOUR_COMMENTS.forEach((c, i) => fixtures.set(`${c.creator}'s ${c.state} comment under owner's ${visibility} ${state} memo`, owner.comments[i]!));
      }),
      // The other user's and the admin's memos: list fodder the owner may not see when PRIVATE or archived.
      ...combos.map(({ visibility, state }) => buildThread(world, model, { creator: "other", visibility, state, ...extras })),
      ...VISIBILITIES.map((visibility) => buildThread(world, model, { creator: "admin", visibility, state: "NORMAL", reaction: true })),
    ]);
  }

  /** Every memo the viewer may read in this mode (spec §6.3). */
  readable(viewer: UserKey | undefined, mode: AccessMode): Set<string> {
    return new Set(this.model.all().filter((m) => this.model.read(m, viewer, mode) === "ok").map((m) => m.uid));
  }

  /** A fresh copy of a target for destructive cells (no attachment, reaction or share). */
  async scratchOf(target: MemoTarget): Promise<MemoFact> {
    const built = await buildThread(this.world, this.model, target.top, target.comment === undefined ? [] : [target.comment]);
    return target.comment === undefined ? built.memo : built.comments[0]!;
  }

  async close(): Promise<void> {
    this.caller.close();
    await this.world.close();
  }
}

/**
 * Declares, inside the current describe block of access mode `mode`, one test per caller x target
 * for each of `ops`. Reads and writes run on one transport per cell, rotating so each memo meets
 * every transport across the callers.
 */
export function describeMemoOps(matrix: () => MemoMatrix, ops: readonly MemoOp[], mode: AccessMode): void {
  const cells: Array<[CallerKey, string]> = CALLERS.flatMap((c) => MEMO_TARGETS.map((t): [CallerKey, string] => [c, t.key]));
  describe.each(ops.map((op): [string, MemoOp] => [op.rpc.method.name, op]))("%s", (_name, op) => {
    test.each(cells)("%s on %s", async (callerKey, targetKey) => {
      const mx = matrix();
      const target = MEMO_TARGETS.find((t) => t.key === targetKey)!;
      const viewer = effectiveUser(callerKey);
      const fixture = mx.fixtures.get(targetKey)!;
      const ctx: MemoOpContext = { world: mx.world, model: mx.model, mode, viewer };
      // A destructive call that should succeed gets a fresh copy; one that should be refused runs
      // on the fixture (and fails the cell anyway if the server lets it through).
      const m = op.scratch && op.expect(fixture, ctx) === "ok" ? await mx.scratchOf(target) : fixture;
      const index = CALLERS.indexOf(callerKey) + MEMO_TARGETS.indexOf(target) + MEMO_OPS.indexOf(op) + ACCESS_MODES.indexOf(mode);
      const kind = rotating(index, op.kind === "read" ? READ_TRANSPORTS : ALL_TRANSPORTS);
      const outcome = op.expect(m, ctx);
      const allowed = mx.readable(viewer, mode);
      const extra = outcome === "ok" ? (op.allowOnOk?.(m, ctx) ?? {}) : {};
      for (const uid of extra.uids ?? []) allowed.add(uid);
      const request = await op.request(m, ctx);
      const res = await runCell(mx.caller, mx.world, mx.model, kind, op.rpc, request, mx.world.token(callerKey), viewer, {
        outcome,
        allowed,
        allowedMarkers: new Set(extra.markers ?? []),
        requestNames: [m.uid, ...(extra.names ?? [])],
      });
      if (outcome === "ok") {
        op.check?.(res, m, ctx);
        op.after?.(m, ctx);
      }
    });
  });
}
