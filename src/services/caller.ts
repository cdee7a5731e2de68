import type { HandlerContext } from "@connectrpc/connect";
import { identityKey, type Identity } from "../auth/identity.js";
import type { UserRepository, UserRow } from "../store/user-repository.js";
import type { UserViewer } from "./user-message.js";

/**
 * The calling user, loaded from the database on every call (spec §1.3): `undefined` for an
 * anonymous caller, and also for a user who was deleted or archived since the token was checked.
 * The row the token verifier read for this call is that load, when there is one.
 */
export async function loadCaller(ctx: HandlerContext, users: UserRepository): Promise<UserRow | undefined> {
  const identity = ctx.values.get(identityKey);
  if (identity === undefined) return undefined;
  const row = identity.user ?? (await users.findById(identity.userId));
  return row !== undefined && row.row_status === "NORMAL" ? row : undefined;
}

/** How the caller authenticated, or `undefined` when anonymous. */
export function callerIdentity(ctx: HandlerContext): Identity | undefined {
  return ctx.values.get(identityKey);
}

/** The viewer to render user messages for. */
export function viewerOf(row: UserRow | undefined): UserViewer | undefined {
  return row === undefined ? undefined : { userId: row.id, role: row.role };
}
