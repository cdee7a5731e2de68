/**
 * Shared pieces of the authorization-matrix test files: the per-cell check (outcome per transport,
 * then a search of the raw response for anything the caller may not see) and the registry of
 * which RPCs a matrix file covers, so a coverage test can demand an entry for every RPC.
 */
import { Code } from "@connectrpc/connect";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { outcomeName, procedureOf, type CallResult, type Outcome, type Rpc, type RpcCaller, type TransportKind } from "./authz-transports.js";
import { leaksIn, type AuthzWorld, type MemoModel, type UserKey } from "./authz-world.js";

/** What one cell expects and allows. */
export interface CellExpectation {
  readonly outcome: Outcome;
  /** Memos whose markers and names may appear in the response. */
  readonly allowed: ReadonlySet<string>;
  /** Further markers that may appear (e.g. reaction types visible through ListMemoReactions). */
  readonly allowedMarkers?: ReadonlySet<string>;
  /** Markers not tied to a memo that must not appear (e.g. of unlinked attachments). */
  readonly forbiddenMarkers?: readonly string[];
  /** Names the request itself carries (they may be echoed). */
  readonly requestNames?: readonly string[];
}

/**
 * Runs one call and checks it against the cell: the outcome, and no forbidden marker, memo name,
 * e-mail address or password hash anywhere in the response bytes (success or error).
 */
export async function runCell(
  rpcCaller: RpcCaller,
  world: AuthzWorld,
  model: MemoModel,
  kind: TransportKind,
  r: Rpc,
  request: MessageInitShape<DescMessage>,
  token: string | undefined,
  viewer: UserKey | undefined,
  expected: CellExpectation,
): Promise<CallResult> {
  const res = await rpcCaller.call(kind, r, request, token);
  const leaks = leaksIn(res.raw, model, expected.allowed, {
    viewer,
    users: world.users,
    ...(expected.requestNames === undefined ? {} : { requestNames: expected.requestNames }),
    ...(expected.allowedMarkers === undefined ? {} : { allowedMarkers: expected.allowedMarkers }),
    ...(expected.forbiddenMarkers === undefined ? {} : { forbiddenMarkers: expected.forbiddenMarkers }),
  });
  expect({ transport: kind, rpc: procedureOf(r), outcome: outcomeName(res.outcome), leaks }).toEqual({
    transport: kind,
    rpc: procedureOf(r),
    outcome: outcomeName(expected.outcome),
    leaks: [],
  });
  return res;
}

/** `a ?? b` for outcomes: the first decided outcome wins. */
export function first(...outcomes: Array<Outcome | undefined>): Outcome {
  for (const o of outcomes) if (o !== undefined) return o;
  return "ok";
}

/** Creator-or-admin write rule (spec §6.3 "Write permissions"). */
export function creatorOrAdmin(creator: UserKey, viewer: UserKey | undefined): Outcome | undefined {
  if (viewer === undefined) return Code.Unauthenticated;
  return viewer === creator || viewer === "admin" ? undefined : Code.PermissionDenied;
}

/** Picks one transport per cell, cycling, so write paths see every transport without multiplying calls. */
export function rotating(index: number, kinds: readonly TransportKind[]): TransportKind {
  return kinds[index % kinds.length]!;
}
