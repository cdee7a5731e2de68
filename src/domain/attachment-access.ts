/**
 * Read access to memos (spec §6.3) and to attachment bytes through the file server (spec §5.2),
 * as pure decisions over already-loaded facts. The facts that cost a query (instance access mode,
 * the caller's identity, a share token's validity) are asked for lazily, only when a decision
 * depends on them.
 */

/** The state of a memo that read access depends on. */
export interface MemoAccessFacts {
  readonly creatorId: number;
  /** `PUBLIC`, `PROTECTED` or `PRIVATE`; anything else is treated as PRIVATE. */
  readonly visibility: string;
  /** `NORMAL` or `ARCHIVED`. */
  readonly rowStatus: string;
}

/**
 * A memo an attachment is linked to. A comment carries its parent; `parent: undefined` on a
 * comment means the parent row is gone.
 */
export interface LinkedMemoFacts extends MemoAccessFacts {
  readonly id: number;
  readonly isComment: boolean;
  readonly parent?: MemoAccessFacts;
}

/** A signed-in caller. */
export interface Viewer {
  readonly userId: number;
  /** `ADMIN` or `USER`. */
  readonly role: string;
}

/** A read decision: allowed, or how the denial surfaces (404, 401, 403). */
export type ReadDecision = "allow" | "not-found" | "unauthenticated" | "forbidden";

/**
 * Whether `viewer` (undefined: anonymous) may read `memo` (spec §6.3). A memo that is not NORMAL
 * is readable by its creator only when ARCHIVED, else not found. PUBLIC: anyone on a PUBLIC
 * instance, otherwise any signed-in user. PROTECTED: any signed-in user. PRIVATE: the creator
 * only, admins included in "others". For a comment, its own state check applies and then the
 * parent decides with its own state and visibility; a missing parent is not found.
 */
export function memoReadDecision(memo: MemoAccessFacts & { isComment?: boolean; parent?: MemoAccessFacts }, viewer: Viewer | undefined, instanceIsPublic: boolean): ReadDecision {
  const state = stateDecision(memo, viewer);
  if (state !== undefined) return state;
  if (memo.isComment === true) {
    // An archived comment is its author's, but the thread still belongs to the parent: its
    // state and visibility decide next, for the author too.
    if (memo.parent === undefined) return "not-found";
    const parentState = stateDecision(memo.parent, viewer);
    if (parentState !== undefined) return parentState;
    return visibilityDecision(memo.parent, viewer, instanceIsPublic);
  }
  return visibilityDecision(memo, viewer, instanceIsPublic);
}

/**
 * The denial a memo's state makes, or `undefined` when the visibility decides: NORMAL memos, and
 * ARCHIVED ones seen by their creator (whom every visibility lets in).
 */
function stateDecision(memo: MemoAccessFacts, viewer: Viewer | undefined): ReadDecision | undefined {
  if (memo.rowStatus === "NORMAL") return undefined;
  if (memo.rowStatus === "ARCHIVED" && viewer !== undefined && viewer.userId === memo.creatorId) return undefined;
  return "not-found";
}

function visibilityDecision(memo: MemoAccessFacts, viewer: Viewer | undefined, instanceIsPublic: boolean): ReadDecision {
  switch (memo.visibility) {
    case "PUBLIC":
      return instanceIsPublic || viewer !== undefined ? "allow" : "unauthenticated";
    case "PROTECTED":
      return viewer !== undefined ? "allow" : "unauthenticated";
    default:
      if (viewer === undefined) return "unauthenticated";
      return viewer.userId === memo.creatorId ? "allow" : "forbidden";
  }
}

/**
 * How the file server may serve an attachment: `public` (anonymously readable: `Cache-Control:
 * public, no-cache`), `private` (readable by this caller only: `private, no-store`), or a denial.
 */
export type FileAccess = "public" | "private" | "not-found" | "unauthenticated" | "forbidden";

/** What {@link decideAttachmentFileAccess} needs, the costly parts as lazy callbacks. */
export interface AttachmentFileAccessQuery {
  /** The attachment's creator. */
  readonly creatorId: number;
  /**
   * The linked memo: `undefined` for an unlinked attachment, `"missing"` when the attachment
   * names a memo that no longer exists.
   */
  readonly memo: LinkedMemoFacts | "missing" | undefined;
  /** Whether the instance access mode is PUBLIC; read only for PUBLIC memos. */
  instanceIsPublic(): Promise<boolean>;
  /** The caller, from credentials (Bearer, PAT, refresh cookie); read only when needed. */
  viewer(): Promise<Viewer | undefined>;
  /**
   * Whether the request's `share_token` names an existing, unexpired share of memo `memoId`;
   * `undefined` when the request carries no share token.
   */
  readonly shareGrants?: (memoId: number) => Promise<boolean>;
}

/**
 * The file server's authorization (spec §5.2):
 * 1. Unlinked attachment: the caller must be signed in (else 401) and be its creator or an admin
 *    (else 403).
 * 2. Linked attachment: a missing memo, or a comment whose parent is missing, is not found.
 *    a. If an anonymous caller could read the memo, serve publicly; credentials are not even
 *       looked at, so stale ones never break public access.
 *    b. Else a valid share token of exactly this memo (never of a comment) grants access.
 *    c. Else the caller's own memo read access decides.
 */
export async function decideAttachmentFileAccess(query: AttachmentFileAccessQuery): Promise<FileAccess> {
  const { memo } = query;
  if (memo === undefined) {
    const viewer = await query.viewer();
    if (viewer === undefined) return "unauthenticated";
    return viewer.userId === query.creatorId || viewer.role === "ADMIN" ? "private" : "forbidden";
  }
  if (memo === "missing") return "not-found";
  if (memo.isComment && memo.parent === undefined) return "not-found";

  let instanceIsPublic: boolean | undefined;
  const readInstanceMode = async () => (instanceIsPublic ??= await query.instanceIsPublic());
  const target = memo.isComment ? memo.parent! : memo;
  const anonymouslyPublic =
    memo.rowStatus === "NORMAL" && target.rowStatus === "NORMAL" && target.visibility === "PUBLIC" && (await readInstanceMode());
  if (anonymouslyPublic) return "public";

  if (query.shareGrants !== undefined && !memo.isComment && memo.rowStatus === "NORMAL" && (await query.shareGrants(memo.id))) {
    return "private";
  }

  const viewer = await query.viewer();
  const decision = memoReadDecision(memo, viewer, target.visibility === "PUBLIC" && viewer === undefined ? await readInstanceMode() : false);
  return decision === "allow" ? "private" : decision;
}
