/**
 * The rules for a memo's attachment set (spec §6.9) and the managed images in its content
 * (spec §6.6), as pure decisions over already-loaded rows.
 */

/** What the rules need to know about one attachment. */
export interface AttachmentFacts {
  readonly id: number;
  readonly uid: string;
  readonly creatorId: number;
  /** The memo it is bound to, or `null`. */
  readonly memoId: number | null;
  /** Normalised MIME type. */
  readonly type: string;
  /** `''` (DATABASE), `LOCAL`, `S3` or `EXTERNAL`. */
  readonly storageType: string;
  /** The motion-media group (e.g. an Apple Live Photo's still and video), when in one. */
  readonly motionGroupId?: string;
}

/** A rule violation; `code` names the Connect code the service answers with. */
export class MemoRuleError extends Error {
  override readonly name = "MemoRuleError";
  constructor(
    readonly code: "invalid_argument" | "not_found" | "failed_precondition",
    message: string,
  ) {
    super(message);
  }
}

/** What {@link planAttachmentSet} decides. */
export interface AttachmentPlan {
  /** The memo's attachments afterwards, in display order. */
  readonly result: readonly AttachmentFacts[];
  /** Currently bound attachments that leave the memo; they are deleted, not unlinked. */
  readonly removed: readonly AttachmentFacts[];
}

/**
 * Replaces a memo's attachment set with the requested one (spec §6.9, full replacement; `[]`
 * clears):
 * 1. every requested UID must exist (`not_found`);
 * 2. one made by someone other than the memo's creator and not already on this memo is hidden
 *    (`not_found`, admins included);
 * 3. one bound to another memo cannot move (`failed_precondition`);
 * 4. motion groups stay together at their first member's position, and a group of two or more
 *    currently on the memo that the request does not name in full is dropped whole;
 * 5. what leaves the memo must have been made by the memo's creator (`failed_precondition`).
 * `memoId` is `undefined` for a memo being created (nothing is bound to it yet).
 */
export function planAttachmentSet(input: {
  readonly requestedUids: readonly string[];
  /** The existing attachments among the requested UIDs. */
  readonly found: ReadonlyMap<string, AttachmentFacts>;
  readonly memoId: number | undefined;
  readonly memoCreatorId: number;
  /** The attachments bound to the memo now. */
  readonly current: readonly AttachmentFacts[];
}): AttachmentPlan {
  const { memoId, memoCreatorId } = input;
  const requested: AttachmentFacts[] = [];
  const seen = new Set<string>();
  for (const uid of input.requestedUids) {
    if (seen.has(uid)) continue;
    seen.add(uid);
    const a = input.found.get(uid);
    const onThisMemo = a !== undefined && memoId !== undefined && a.memoId === memoId;
    if (a === undefined || (!onThisMemo && a.creatorId !== memoCreatorId)) {
      throw new MemoRuleError("not_found", `attachment not found: ${uid}`);
    }
    if (!onThisMemo && a.memoId !== null) {
      throw new MemoRuleError("failed_precondition", `attachment ${uid} is already bound to another memo`);
    }
    requested.push(a);
  }

  // Groups currently on the memo with 2+ members must be named in full, or they go whole.
  const currentGroups = new Map<string, AttachmentFacts[]>();
  for (const a of input.current) {
    if (a.motionGroupId === undefined) continue;
    currentGroups.set(a.motionGroupId, [...(currentGroups.get(a.motionGroupId) ?? []), a]);
  }
  const brokenGroups = new Set<string>();
  for (const [group, members] of currentGroups) {
    if (members.length >= 2 && !members.every((m) => seen.has(m.uid))) brokenGroups.add(group);
  }

  // Keep motion groups together at the position of their first member.
  const result: AttachmentFacts[] = [];
  const placedGroups = new Set<string>();
  for (const a of requested) {
    const group = a.motionGroupId;
    if (group === undefined) {
      result.push(a);
      continue;
    }
    if (brokenGroups.has(group) || placedGroups.has(group)) continue;
    placedGroups.add(group);
    result.push(...requested.filter((m) => m.motionGroupId === group));
  }

  const kept = new Set(result.map((a) => a.id));
  const removed = input.current.filter((a) => !kept.has(a.id));
  for (const a of removed) {
    if (a.creatorId !== memoCreatorId) {
      throw new MemoRuleError("failed_precondition", "cannot remove another user's attachment from this memo");
    }
  }
  return { result, removed };
}

/**
 * Every managed image reference in the final content must name an attachment of the final set
 * (`failed_precondition`), of an `image/*` type and stored by this server, not EXTERNAL
 * (`invalid_argument`) — spec §6.6.
 */
export function checkManagedImages(managedUids: readonly string[], finalSet: readonly AttachmentFacts[]): void {
  const byUid = new Map(finalSet.map((a) => [a.uid, a]));
  for (const uid of managedUids) {
    const a = byUid.get(uid);
    if (a === undefined) throw new MemoRuleError("failed_precondition", `managed image attachment ${uid} must be bound to the memo`);
    if (!a.type.startsWith("image/")) throw new MemoRuleError("invalid_argument", `managed image attachment ${uid} is not an image`);
    if (a.storageType === "EXTERNAL") throw new MemoRuleError("invalid_argument", `managed image attachment ${uid} is an external link`);
  }
}

/** The motion group id in an attachment's stored payload JSON (`motionMedia.groupId`), if any. */
export function motionGroupOf(payloadJson: string): string | undefined {
  try {
    const parsed = JSON.parse(payloadJson) as { motionMedia?: { groupId?: unknown } } | null;
    const group = parsed?.motionMedia?.groupId;
    return typeof group === "string" && group !== "" ? group : undefined;
  } catch {
    return undefined;
  }
}
