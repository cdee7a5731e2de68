/**
 * The memo operations of the authorization matrix: every MemoService RPC that acts on one memo,
 * with its request and the outcome spec §1.3, §6.3 and §6.8-§6.13 give for a caller, a memo and
 * an access mode. Written from the spec, not from the server.
 */
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { MemoService } from "../../../gen/memos/api/v1/memo_service_pb.js";
import { attachmentClients } from "../../attachments/support.js";
import { creatorOrAdmin, first } from "./authz-cells.js";
import { ALL_TRANSPORTS, procedureOf, rpc, type CallResult, type Outcome, type Rpc, type TransportKind } from "./authz-transports.js";
import { gate, marker, type AccessMode, type AuthzWorld, type MemoFact, type MemoModel, type UserKey } from "./authz-world.js";

export interface MemoOpContext {
  readonly world: AuthzWorld;
  readonly model: MemoModel;
  readonly mode: AccessMode;
  readonly viewer: UserKey | undefined;
}

export interface MemoOp {
  readonly rpc: Rpc;
  /** "read" ops run on every transport; "write" ops on one transport per cell, in rotation. */
  readonly kind: "read" | "write";
  /** Writes that destroy the memo run on a fresh copy of the target, built for the cell. */
  readonly scratch?: boolean;
  /** The request, after any preparation the cell needs (e.g. a reaction to delete). */
  request(m: MemoFact, ctx: MemoOpContext): Promise<MessageInitShape<DescMessage>>;
  expect(m: MemoFact, ctx: MemoOpContext): Outcome;
  /** More memos, markers or bare memo names the response may show when the call succeeds. */
  allowOnOk?(m: MemoFact, ctx: MemoOpContext): { uids?: string[]; markers?: string[]; names?: string[] };
  /** Checks on a successful response beyond "nothing forbidden leaked". */
  check?(res: CallResult, m: MemoFact, ctx: MemoOpContext): void;
  /** Model changes after a successful call. */
  after?(m: MemoFact, ctx: MemoOpContext): void;
}

export const READ_TRANSPORTS: readonly TransportKind[] = ALL_TRANSPORTS;

const memoService = (name: string) => rpc(MemoService, name);

/** The gate for the op's procedure, then a not-found memo. */
function gateAndExists(op: Rpc, m: MemoFact, ctx: MemoOpContext): Outcome | undefined {
  return gate(procedureOf(op), ctx.viewer, ctx.mode) ?? (m.deleted ? Code.NotFound : undefined);
}

/**
 * Visible as a relation endpoint (spec §6.2): own memos, or PUBLIC/PROTECTED ones for signed-in
 * callers (PUBLIC for anonymous ones), a comment by its thread's visibility.
 */
function relationVisible(m: MemoFact, model: MemoModel, viewer: UserKey | undefined): boolean {
  const visibility = model.shownVisibility(m);
  if (viewer === undefined) return visibility === "PUBLIC";
  return m.creator === viewer || visibility !== "PRIVATE";
}

const isShareable = (m: MemoFact) => m.parent === undefined && m.state === "NORMAL" && !m.deleted;

function clientOf(ctx: MemoOpContext, user: UserKey) {
  return attachmentClients(ctx.world.t.baseUrl, ctx.world.users[user].token).memos;
}

const GetMemo = memoService("GetMemo");
const ListMemoAttachments = memoService("ListMemoAttachments");
const ListMemoComments = memoService("ListMemoComments");
const ListMemoRelations = memoService("ListMemoRelations");
const ListMemoReactions = memoService("ListMemoReactions");
const UpdateMemo = memoService("UpdateMemo");
const DeleteMemo = memoService("DeleteMemo");
const SetMemoAttachments = memoService("SetMemoAttachments");
const SetMemoRelations = memoService("SetMemoRelations");
const CreateMemoComment = memoService("CreateMemoComment");
const UpsertMemoReaction = memoService("UpsertMemoReaction");
const DeleteMemoReaction = memoService("DeleteMemoReaction");
const CreateMemoShare = memoService("CreateMemoShare");
const ListMemoShares = memoService("ListMemoShares");
const DeleteMemoShare = memoService("DeleteMemoShare");
const GetSharedMemo = memoService("GetSharedMemo");

/** Reaction listing rule (spec §6.12): PRIVATE memos (a comment's visibility is its parent's) for their creator and admins. */
function reactionRule(m: MemoFact, ctx: MemoOpContext): Outcome | undefined {
  if (ctx.model.shownVisibility(m) !== "PRIVATE") return undefined;
  return ctx.viewer === m.creator || ctx.viewer === "admin" ? undefined : Code.PermissionDenied;
}

export const MEMO_OPS: readonly MemoOp[] = [
  {
    rpc: GetMemo,
    kind: "read",
    request: async (m) => ({ name: m.name }),
    expect: (m, ctx) => first(gate(procedureOf(GetMemo), ctx.viewer, ctx.mode), ctx.model.read(m, ctx.viewer, ctx.mode)),
    check(res, m) {
      expect(res.raw).toContain(m.contentMarker);
      if (m.reactionMarker !== undefined) expect(res.raw).toContain(m.reactionMarker);
      if (m.attachment !== undefined) expect(res.raw).toContain(m.attachment.marker);
    },
  },
  {
    rpc: ListMemoAttachments,
    kind: "read",
    request: async (m) => ({ name: m.name }),
    expect: (m, ctx) => first(gate(procedureOf(ListMemoAttachments), ctx.viewer, ctx.mode), ctx.model.read(m, ctx.viewer, ctx.mode)),
    check(res, m) {
      if (m.attachment !== undefined) expect(res.raw).toContain(m.attachment.marker);
    },
  },
  {
    rpc: ListMemoComments,
    kind: "read",
    request: async (m) => ({ name: m.name, pageSize: 1000 }),
    expect: (m, ctx) => first(gate(procedureOf(ListMemoComments), ctx.viewer, ctx.mode), ctx.model.read(m, ctx.viewer, ctx.mode)),
    check(res, m, ctx) {
      // Archived comments are left out for everyone, their author included (spec §6.11).
      const listed = ctx.model.commentsOf(m).map((c) => [c.uid, res.raw.includes(c.contentMarker)]);
      expect(listed).toEqual(ctx.model.commentsOf(m).map((c) => [c.uid, c.state === "NORMAL"]));
    },
  },
  {
    rpc: ListMemoRelations,
    kind: "read",
    request: async (m) => ({ name: m.name }),
    // Authenticated only; no read check on the memo itself (spec §6.10), endpoints filtered.
    expect: (m, ctx) => first(gateAndExists(ListMemoRelations, m, ctx)),
    check(res, m, ctx) {
      const shown = (x: MemoFact) => relationVisible(x, ctx.model, ctx.viewer) && ctx.model.read(x, ctx.viewer, ctx.mode) === "ok";
      for (const c of ctx.model.commentsOf(m)) {
        if (shown(c) && shown(m)) expect([c.uid, res.raw.includes(`memos/${c.uid}`)]).toEqual([c.uid, true]);
      }
    },
  },
  {
    rpc: ListMemoReactions,
    kind: "read",
    request: async (m) => ({ name: m.name }),
    expect: (m, ctx) => first(gateAndExists(ListMemoReactions, m, ctx), reactionRule(m, ctx)),
    allowOnOk: (m) => ({ markers: m.reactionMarker === undefined ? [] : [m.reactionMarker] }),
    check(res, m) {
      if (m.reactionMarker !== undefined) expect(res.raw).toContain(m.reactionMarker);
    },
  },
  {
    rpc: GetSharedMemo,
    kind: "read",
    request: async (m) => ({ shareToken: m.shareToken ?? "noSuchShareToken000000" }),
    // Bootstrap method: anyone, any mode; the share's own memo only, never a comment or archived memo (spec §6.13).
    expect: (m) => (m.shareToken !== undefined && isShareable(m) ? "ok" : Code.NotFound),
    allowOnOk: (m) => ({ uids: [m.uid] }),
    check(res, m, ctx) {
      expect(res.raw).toContain(m.contentMarker);
      // No relations, so no comment of the memo shows, readable or not.
      for (const c of ctx.model.commentsOf(m)) expect([c.uid, res.raw.includes(c.contentMarker)]).toEqual([c.uid, false]);
    },
  },
  {
    rpc: UpdateMemo,
    kind: "write",
    request: async (m) => ({ memo: { name: m.name, pinned: false }, updateMask: { paths: ["pinned"] } }),
    expect: (m, ctx) => first(gateAndExists(UpdateMemo, m, ctx), creatorOrAdmin(m.creator, ctx.viewer)),
    // The answer is the memo as written; a comment's `parent` field names its parent (only the name).
    allowOnOk: (m) => ({ uids: [m.uid], names: m.parent === undefined ? [] : [m.parent] }),
  },
  {
    rpc: SetMemoAttachments,
    kind: "write",
    request: async (m) => ({ name: m.name, attachments: m.attachment === undefined ? [] : [{ name: `attachments/${m.attachment.uid}` }] }),
    expect: (m, ctx) => first(gateAndExists(SetMemoAttachments, m, ctx), creatorOrAdmin(m.creator, ctx.viewer)),
  },
  {
    rpc: SetMemoRelations,
    kind: "write",
    request: async (m) => ({ name: m.name, relations: [] }),
    expect: (m, ctx) => first(gateAndExists(SetMemoRelations, m, ctx), creatorOrAdmin(m.creator, ctx.viewer)),
  },
  {
    rpc: CreateMemoComment,
    kind: "write",
    request: async (m) => ({ name: m.name, comment: { content: "a matrix comment" } }),
    // The memo must be readable, then NORMAL (spec §6.11).
    expect: (m, ctx) =>
      first(
        gateAndExists(CreateMemoComment, m, ctx),
        ctx.model.read(m, ctx.viewer, ctx.mode) === "ok" ? undefined : ctx.model.read(m, ctx.viewer, ctx.mode),
        m.state === "NORMAL" ? undefined : Code.FailedPrecondition,
      ),
  },
  {
    rpc: UpsertMemoReaction,
    kind: "write",
    request: async (m) => ({ name: m.name, reaction: { reactionType: `r${marker("")}` } }),
    expect: (m, ctx) => first(gateAndExists(UpsertMemoReaction, m, ctx), reactionRule(m, ctx)),
  },
  {
    rpc: DeleteMemoReaction,
    kind: "write",
    async request(m, ctx) {
      // A fresh reaction by the memo's creator, which any rule lets its creator make.
      const r = await clientOf(ctx, m.creator).upsertMemoReaction({ name: m.name, reaction: { reactionType: `d${marker("")}` } });
      return { name: r.name };
    },
    // Reaction creator or admin (spec §6.12).
    expect: (m, ctx) => first(gate(procedureOf(DeleteMemoReaction), ctx.viewer, ctx.mode), creatorOrAdmin(m.creator, ctx.viewer)),
  },
  {
    rpc: CreateMemoShare,
    kind: "write",
    request: async (m) => ({ parent: m.name, memoShare: {} }),
    expect: (m, ctx) =>
      first(
        gateAndExists(CreateMemoShare, m, ctx),
        creatorOrAdmin(m.creator, ctx.viewer),
        m.parent !== undefined || m.state !== "NORMAL" ? Code.FailedPrecondition : undefined,
      ),
    allowOnOk: (m) => ({ uids: [m.uid] }),
  },
  {
    rpc: ListMemoShares,
    kind: "write",
    request: async (m) => ({ parent: m.name }),
    expect: (m, ctx) => first(gateAndExists(ListMemoShares, m, ctx), creatorOrAdmin(m.creator, ctx.viewer)),
    allowOnOk: (m) => ({ uids: [m.uid] }),
  },
  {
    rpc: DeleteMemoShare,
    kind: "write",
    async request(m, ctx) {
      if (!isShareable(m)) return { name: `${m.name}/shares/noSuchShareToken000000` };
      const share = await clientOf(ctx, m.creator).createMemoShare({ parent: m.name, memoShare: {} });
      return { name: share.name };
    },
    expect: (m, ctx) => first(gateAndExists(DeleteMemoShare, m, ctx), creatorOrAdmin(m.creator, ctx.viewer), isShareable(m) ? undefined : Code.NotFound),
  },
  {
    rpc: DeleteMemo,
    kind: "write",
    scratch: true,
    request: async (m) => ({ name: m.name }),
    expect: (m, ctx) => first(gateAndExists(DeleteMemo, m, ctx), creatorOrAdmin(m.creator, ctx.viewer)),
    after(m, ctx) {
      m.deleted = true;
      for (const c of ctx.model.commentsOf(m)) c.deleted = true;
    },
  },
];
