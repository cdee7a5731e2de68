/**
 * Builds the memos of the authorization matrix through the public API, recording each in a
 * {@link MemoModel}: a memo of any visibility and state, with a bound PNG attachment, the
 * creator's reaction and a share, and comments of either author and state under it. Every memo
 * carries unique markers (content and tag, reaction type, attachment file name) and each
 * attachment unique bytes.
 */
import { randomBytes } from "node:crypto";
import sharp from "sharp";
import { State } from "../../../gen/memos/api/v1/common_pb.js";
import { Visibility as ProtoVisibility } from "../../../gen/memos/api/v1/memo_service_pb.js";
import { attachmentClients } from "../../attachments/support.js";
import { marker, type AuthzWorld, type MemoFact, type MemoModel, type RowState, type UserKey, type Visibility } from "./authz-world.js";

export const PROTO_VISIBILITY: Record<Visibility, ProtoVisibility> = {
  PRIVATE: ProtoVisibility.PRIVATE,
  PROTECTED: ProtoVisibility.PROTECTED,
  PUBLIC: ProtoVisibility.PUBLIC,
};

/**
 * A 16x16 PNG of one colour taken from `mark`, so every attachment's bytes are its own (the
 * server strips PNG metadata chunks, so a marker could not ride in one).
 */
export async function uniquePng(mark: string): Promise<Buffer> {
  const rgb = Buffer.from(mark.slice(-6).padStart(6, "0"), "hex");
  return sharp({ create: { width: 16, height: 16, channels: 3, background: { r: rgb[0]!, g: rgb[1]!, b: rgb[2]! } } })
    .png()
    .toBuffer();
}

export interface MemoSpec {
  readonly creator: UserKey;
  readonly visibility: Visibility;
  readonly state: RowState;
  /** Make a share (before archiving, so an archived memo has a dead share). Top-level memos only. */
  readonly share?: boolean;
  /** Bind a marked attachment. */
  readonly attachment?: boolean;
  /** React as the creator with a marked reaction type. */
  readonly reaction?: boolean;
}

export interface CommentSpec {
  readonly creator: UserKey;
  readonly state: RowState;
}

/**
 * Creates a memo and its comments. The memo is first made with another visibility that every user
 * can comment on, then given `visibility`, so each comment's stored visibility is stale and only
 * the parent's can be authoritative (spec §6.3). Archiving comes last.
 */
export async function buildThread(world: AuthzWorld, model: MemoModel, spec: MemoSpec, comments: readonly CommentSpec[] = []): Promise<{ memo: MemoFact; comments: MemoFact[] }> {
  const initial: Visibility = spec.visibility === "PUBLIC" ? "PROTECTED" : "PUBLIC";
  const memo = await createMarked(world, model, spec.creator, spec, initial, undefined);
  const made: MemoFact[] = [];
  for (const c of comments) made.push(await createMarked(world, model, c.creator, { ...c, visibility: initial, attachment: spec.attachment, reaction: spec.reaction }, initial, memo));
  const ownerClient = attachmentClients(world.t.baseUrl, world.users[spec.creator].token).memos;
  if (spec.visibility !== initial) {
    await ownerClient.updateMemo({ memo: { name: memo.name, visibility: PROTO_VISIBILITY[spec.visibility] }, updateMask: { paths: ["visibility"] } });
    memo.visibility = spec.visibility;
  }
  for (const c of made) {
    const spec = comments[made.indexOf(c)]!;
    if (spec.state === "ARCHIVED") await archive(world, c);
  }
  if (spec.state === "ARCHIVED") await archive(world, memo);
  return { memo, comments: made };
}

async function archive(world: AuthzWorld, m: MemoFact): Promise<void> {
  await attachmentClients(world.t.baseUrl, world.users[m.creator].token).memos.updateMemo({
    memo: { name: m.name, state: State.ARCHIVED },
    updateMask: { paths: ["state"] },
  });
  m.state = "ARCHIVED";
}

async function createMarked(
  world: AuthzWorld,
  model: MemoModel,
  creator: UserKey,
  spec: Omit<MemoSpec, "creator">,
  visibility: Visibility,
  parent: MemoFact | undefined,
): Promise<MemoFact> {
  const c = attachmentClients(world.t.baseUrl, world.users[creator].token);
  const uid = `m-${randomBytes(8).toString("hex")}`;
  const contentMarker = marker();
  const content = `${contentMarker} #${contentMarker} matrix memo`;
  const memo =
    parent === undefined
      ? await c.memos.createMemo({ memoId: uid, memo: { content, visibility: PROTO_VISIBILITY[visibility] } })
      : await c.memos.createMemoComment({ name: parent.name, commentId: uid, comment: { content } });
  const fact = model.add({
    uid,
    name: memo.name,
    creator,
    visibility,
    state: "NORMAL",
    ...(parent === undefined ? {} : { parent: parent.uid }),
    deleted: false,
    contentMarker,
  });
  if (spec.attachment) {
    const mark = marker();
    const bytes = await uniquePng(mark);
    const a = await c.attachments.createAttachment({ attachment: { filename: `${mark}.png`, type: "image/png", content: bytes, memo: memo.name } });
    fact.attachment = { uid: a.name.slice("attachments/".length), marker: mark, bytes };
  }
  if (spec.reaction) {
    fact.reactionMarker = marker();
    const r = await c.memos.upsertMemoReaction({ name: memo.name, reaction: { reactionType: fact.reactionMarker } });
    fact.reactionId = Number(r.name.split("/").pop());
  }
  if (spec.share && parent === undefined) {
    const share = await c.memos.createMemoShare({ parent: memo.name, memoShare: {} });
    fact.shareToken = share.name.split("/").pop()!;
  }
  return fact;
}

/** The standard comments of a thread: both authors, both states. */
export const FOUR_COMMENTS: readonly CommentSpec[] = [
  { creator: "owner", state: "NORMAL" },
  { creator: "owner", state: "ARCHIVED" },
  { creator: "other", state: "NORMAL" },
  { creator: "other", state: "ARCHIVED" },
];
