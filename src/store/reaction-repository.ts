import type { Selectable } from "kysely";
import type { Db } from "./database.js";
import type { ReactionTable } from "./schema.js";

/** A reaction row with its creator's username. */
export type ReactionRecord = Selectable<ReactionTable> & { readonly creator_username: string };

/** Queries over `reaction`. */
export interface ReactionRepository {
  /**
   * The reactions on any of `memoIds` whose creator still exists (spec §6.2), by id ascending.
   */
  listForMemos(memoIds: readonly number[]): Promise<ReactionRecord[]>;
  /**
   * Adds (creator, memo, type) unless it exists. Answers the reaction and whether it was
   * created now; the same triple twice answers the existing row (spec §10 Q2).
   */
  upsert(reaction: { creatorId: number; memoId: number; reactionType: string }): Promise<{ reaction: ReactionRecord; created: boolean }>;
  /** The reaction with its memo's UID (`null` when the memo is gone). */
  findById(id: number): Promise<(ReactionRecord & { readonly memo_uid: string | null }) | undefined>;
  delete(id: number): Promise<void>;
}

export function createReactionRepository(db: Db): ReactionRepository {
  const withCreator = () =>
    db.selectFrom("reaction").innerJoin("user", "user.id", "reaction.creator_id").selectAll("reaction").select("user.username as creator_username");
  return {
    async listForMemos(memoIds) {
      if (memoIds.length === 0) return [];
      return withCreator()
        .where("reaction.memo_id", "in", [...new Set(memoIds)])
        .orderBy("reaction.id")
        .execute();
    },
    async upsert({ creatorId, memoId, reactionType }) {
      // The unique (creator, memo, type) constraint decides; a concurrent duplicate also lands here.
      const inserted = await db
        .insertInto("reaction")
        .values({ creator_id: creatorId, memo_id: memoId, reaction_type: reactionType })
        .onConflict((oc) => oc.columns(["creator_id", "memo_id", "reaction_type"]).doNothing())
        .returning("id")
        .executeTakeFirst();
      const row = await (inserted !== undefined
        ? withCreator().where("reaction.id", "=", inserted.id)
        : withCreator()
            .where("reaction.creator_id", "=", creatorId)
            .where("reaction.memo_id", "=", memoId)
            .where("reaction.reaction_type", "=", reactionType)
      ).executeTakeFirstOrThrow();
      return { reaction: row, created: inserted !== undefined };
    },
    findById: (id) =>
      withCreator().leftJoin("memo", "memo.id", "reaction.memo_id").select("memo.uid as memo_uid").where("reaction.id", "=", id).executeTakeFirst(),
    async delete(id) {
      await db.deleteFrom("reaction").where("id", "=", id).execute();
    },
  };
}
