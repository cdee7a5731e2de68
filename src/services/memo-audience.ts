import { memoReadDecision, type MemoAccessFacts } from "../domain/attachment-access.js";
import type { MemoRecord } from "../store/memo-repository.js";

/**
 * What read access to a memo depends on (spec §6.3): its own creator, visibility and state and,
 * for a comment, its parent's (`parent` undefined on a comment: the parent is gone). Plain JSON,
 * so it can travel between replicas with an event.
 */
export interface MemoAudience extends MemoAccessFacts {
  readonly isComment?: boolean;
  readonly parent?: MemoAccessFacts;
}

/** The audience facts of a memo as read by the memo repository. */
export function audienceOf(record: MemoRecord): MemoAudience {
  const own = { creatorId: record.creator_id, visibility: record.visibility, rowStatus: record.row_status };
  if (record.parent_id === null) return own;
  return {
    ...own,
    isComment: true,
    ...(record.parent_creator_id === null
      ? {}
      : { parent: { creatorId: record.parent_creator_id, visibility: record.parent_visibility ?? "PRIVATE", rowStatus: record.parent_row_status ?? "NORMAL" } }),
  };
}

/** Whether signed-in user `viewer` may read a memo with these facts (spec §6.3). */
export function audienceIncludes(audience: MemoAudience, viewer: { readonly userId: number; readonly role: string }): boolean {
  // A signed-in viewer never depends on the instance access mode.
  return memoReadDecision(audience, viewer, false) === "allow";
}
