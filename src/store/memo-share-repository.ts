import type { Selectable } from "kysely";
import type { Db } from "./database.js";
import type { MemoShareTable } from "./schema.js";

/** A share link row; `uid` is the token. */
export type MemoShareRow = Selectable<MemoShareTable>;

/** Queries over `memo_share`. */
export interface MemoShareRepository {
  create(share: { token: string; memoId: number; creatorId: number; expiresTs: number | null }): Promise<MemoShareRow>;
  /** Every share of `memoId`, newest first. */
  listByMemo(memoId: number): Promise<MemoShareRow[]>;
  findByToken(token: string): Promise<MemoShareRow | undefined>;
  /** Deletes the share `token` of `memoId`; false when there was none. */
  delete(memoId: number, token: string): Promise<boolean>;
}

export function createMemoShareRepository(db: Db): MemoShareRepository {
  return {
    create: ({ token, memoId, creatorId, expiresTs }) =>
      db
        .insertInto("memo_share")
        .values({ uid: token, memo_id: memoId, creator_id: creatorId, expires_ts: expiresTs })
        .returningAll()
        .executeTakeFirstOrThrow(),
    listByMemo: (memoId) =>
      db.selectFrom("memo_share").selectAll().where("memo_id", "=", memoId).orderBy("created_ts", "desc").orderBy("id", "desc").execute(),
    findByToken: (token) => db.selectFrom("memo_share").selectAll().where("uid", "=", token).executeTakeFirst(),
    async delete(memoId, token) {
      const res = await db.deleteFrom("memo_share").where("uid", "=", token).where("memo_id", "=", memoId).executeTakeFirst();
      return res.numDeletedRows > 0n;
    },
  };
}
