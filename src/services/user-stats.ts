import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { Expression, SqlBool } from "kysely";
import { State } from "../../gen/memos/api/v1/common_pb.js";
import {
  ListAllUserStatsResponseSchema,
  UserStats_MemoTypeStatsSchema,
  UserStatsSchema,
  type UserService,
  type UserStats,
} from "../../gen/memos/api/v1/user_service_pb.js";
import type { AccessModeReader } from "../auth/access-policy.js";
import { compileMemoFilter } from "../domain/filter/memo-filter.js";
import { parseUserName } from "../domain/resource-name.js";
import type { CreatorMemoStats, MemoStatsRepository } from "../store/memo-stats-repository.js";
import type { UserRepository, UserRow } from "../store/user-repository.js";
import { loadCaller } from "./caller.js";

/** What the stats RPCs need. */
export interface UserStatsDeps {
  readonly users: UserRepository;
  readonly stats: MemoStatsRepository;
  readonly readAccessMode: AccessModeReader;
  /** Milliseconds since the epoch (the filter's `now`). Default `Date.now`. */
  readonly clock?: () => number;
}

/**
 * UserService GetUserStats and ListAllUserStats: per-user memo statistics (counts by kind, tags,
 * pinned memos, creation and update times) over the memos the caller may read, aggregated in the
 * database in one statement. Comments never count. The scope is ListMemos' (spec §6.7): an
 * anonymous caller (PUBLIC instances only) counts PUBLIC memos, a signed-in one their own memos
 * of any visibility plus everyone's PUBLIC and PROTECTED ones; ARCHIVED counts only the caller's
 * own archived memos. Users who are not NORMAL have no stats.
 */
export function createUserStatsRpcs(deps: UserStatsDeps): Pick<ServiceImpl<typeof UserService>, "getUserStats" | "listAllUserStats"> {
  const clock = deps.clock ?? Date.now;

  /** The caller; an anonymous one only on a PUBLIC instance (the gate says so too; spec §6.7 step 1). */
  const readerOf = async (ctx: HandlerContext): Promise<UserRow | undefined> => {
    const caller = await loadCaller(ctx, deps.users);
    if (caller === undefined && (await deps.readAccessMode()) !== "PUBLIC") {
      throw new ConnectError("user not authenticated", Code.Unauthenticated);
    }
    return caller;
  };

  return {
    async getUserStats(req, ctx) {
      const username = parseUserName(req.name);
      if (username === undefined) throw new ConnectError(`invalid user name: ${req.name}`, Code.InvalidArgument);
      const caller = await readerOf(ctx);
      // The web app asks for the caller's own stats after every change: no second user read then.
      const user = caller?.username === username ? caller : await deps.users.findByUsername(username);
      if (user === undefined || user.row_status !== "NORMAL") throw new ConnectError("user not found", Code.NotFound);
      const [row] = await deps.stats.byCreator({ rows: { state: "NORMAL", viewerId: caller?.id }, creatorId: user.id });
      return toStatsMessage(user.username, row);
    },

    async listAllUserStats(req, ctx) {
      const caller = await readerOf(ctx);
      let filter: Expression<SqlBool>;
      try {
        filter = compileMemoFilter(req.filter, { now: Math.floor(clock() / 1000) });
      } catch (err) {
        if ((err as { code?: unknown })?.code === "invalid_argument") throw new ConnectError((err as Error).message, Code.InvalidArgument);
        throw err;
      }
      if (req.state === State.ARCHIVED) {
        if (caller === undefined) return create(ListAllUserStatsResponseSchema, { stats: [] });
        const rows = await deps.stats.byCreator({ rows: { state: "ARCHIVED", archivedOf: caller.id }, filter });
        return create(ListAllUserStatsResponseSchema, { stats: rows.map((r) => toStatsMessage(r.username, r)) });
      }
      const rows = await deps.stats.byCreator({ rows: { state: "NORMAL", viewerId: caller?.id }, filter });
      return create(ListAllUserStatsResponseSchema, { stats: rows.map((r) => toStatsMessage(r.username, r)) });
    },
  };
}

/** The UserStats message (`users/{username}/stats`) of one creator's aggregates (none: all zero). */
function toStatsMessage(username: string, row: CreatorMemoStats | undefined): UserStats {
  return create(UserStatsSchema, {
    name: `users/${username}/stats`,
    memoTypeStats: create(UserStats_MemoTypeStatsSchema, {
      linkCount: row?.linkCount ?? 0,
      codeCount: row?.codeCount ?? 0,
      todoCount: row?.todoCount ?? 0,
      undoCount: row?.undoCount ?? 0,
    }),
    tagCount: row?.tagCount ?? {},
    pinnedMemos: (row?.pinnedUids ?? []).map((uid) => `memos/${uid}`),
    totalMemoCount: row?.total ?? 0,
    memoCreatedTimestamps: (row?.createdTs ?? []).map((s) => timestampFromMs(s * 1000)),
    memoUpdatedTimestamps: (row?.updatedTs ?? []).map((s) => timestampFromMs(s * 1000)),
  });
}
