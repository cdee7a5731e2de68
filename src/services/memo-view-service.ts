import { create } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { ListMemoViewsResponseSchema, MemoViewSchema, type MemoView, type MemoViewService } from "../../gen/memos/api/v1/memo_view_service_pb.js";
import { generateShortUuid } from "../domain/attachment-rules.js";
import { compileMemoFilter } from "../domain/filter/memo-filter.js";
import { parseResourceName, parseUserName } from "../domain/resource-name.js";
import type { UserRepository, UserRow } from "../store/user-repository.js";
import type { UserSettingRepository } from "../store/user-setting-repository.js";
import { loadCaller } from "./caller.js";

/** What MemoViewService needs. */
export interface MemoViewServiceDeps {
  readonly users: UserRepository;
  readonly userSettings: UserSettingRepository;
  /** Milliseconds since the epoch (the filter's `now` when checking it). Default `Date.now`. */
  readonly clock?: () => number;
}

/** The `user_setting` key the views live under (the reference's MEMO_VIEWS). */
export const MEMO_VIEWS_SETTING = "MEMO_VIEWS";
/** Most views one user may keep. */
export const MAX_MEMO_VIEWS = 100;
/** Longest view title, in characters. */
export const MAX_MEMO_VIEW_TITLE = 256;

interface StoredView {
  id: string;
  title: string;
  filter: string;
}

/**
 * MemoViewService: saved memo filters of a user, named `users/{username}/views/{id}`, kept as
 * the reference keeps them: one protobuf-JSON `user_setting` row (key MEMO_VIEWS,
 * `{"memoViews":[{"id","title","filter"}]}`), changed under a row lock so concurrent edits never
 * lose each other, and deleted with the user. Only the user themself may see or change them. A
 * view needs a title and a filter that compiles as a ListMemos filter (spec §6.7.1).
 */
export function createMemoViewService(deps: MemoViewServiceDeps): Partial<ServiceImpl<typeof MemoViewService>> {
  const clock = deps.clock ?? Date.now;

  const requireSelf = async (ctx: HandlerContext, username: string): Promise<UserRow> => {
    const caller = await loadCaller(ctx, deps.users);
    if (caller === undefined) throw new ConnectError("user not authenticated", Code.Unauthenticated);
    if (caller.username !== username) {
      if ((await deps.users.findByUsername(username)) === undefined) throw new ConnectError("user not found", Code.NotFound);
      throw new ConnectError("permission denied", Code.PermissionDenied);
    }
    return caller;
  };
  const ownerOfParent = (ctx: HandlerContext, parent: string) => {
    const username = parseUserName(parent);
    if (username === undefined) throw new ConnectError(`invalid user name: ${parent}`, Code.InvalidArgument);
    return requireSelf(ctx, username);
  };
  const parseViewName = (name: string): [string, string] => {
    const ids = parseResourceName(name, ["users", "views"]);
    if (ids === undefined) throw new ConnectError(`invalid memo view name: ${name}`, Code.InvalidArgument);
    return [ids[0]!, ids[1]!];
  };
  const checkTitle = (title: string) => {
    if (title.trim() === "") throw new ConnectError("title is required", Code.InvalidArgument);
    if (Array.from(title).length > MAX_MEMO_VIEW_TITLE) throw new ConnectError(`title is too long (max ${MAX_MEMO_VIEW_TITLE} characters)`, Code.InvalidArgument);
  };
  const checkFilter = (filter: string) => {
    if (filter.trim() === "") throw new ConnectError("invalid filter: filter cannot be empty", Code.InvalidArgument);
    try {
      compileMemoFilter(filter, { now: Math.floor(clock() / 1000) });
    } catch (err) {
      if ((err as { code?: unknown })?.code === "invalid_argument") throw new ConnectError((err as Error).message, Code.InvalidArgument);
      throw err;
    }
  };
  const readViews = async (userId: number) => parseViews(await deps.userSettings.get(userId, MEMO_VIEWS_SETTING));
  const notFound = () => new ConnectError("memo view not found", Code.NotFound);

  return {
    async listMemoViews(req, ctx) {
      const owner = await ownerOfParent(ctx, req.parent);
      const views = await readViews(owner.id);
      return create(ListMemoViewsResponseSchema, { memoViews: views.map((v) => toMessage(owner.username, v)) });
    },

    async getMemoView(req, ctx) {
      const [username, id] = parseViewName(req.name);
      const owner = await requireSelf(ctx, username);
      const view = (await readViews(owner.id)).find((v) => v.id === id);
      if (view === undefined) throw notFound();
      return toMessage(owner.username, view);
    },

    async createMemoView(req, ctx) {
      const owner = await ownerOfParent(ctx, req.parent);
      const input = req.memoView;
      if (input === undefined) throw new ConnectError("memo view is required", Code.InvalidArgument);
      checkTitle(input.title);
      checkFilter(input.filter);
      const view: StoredView = { id: generateShortUuid(), title: input.title, filter: input.filter };
      if (req.validateOnly) return toMessage(owner.username, view);
      await deps.userSettings.modify(owner.id, MEMO_VIEWS_SETTING, (current) => {
        const views = parseViews(current);
        if (views.length >= MAX_MEMO_VIEWS) throw new ConnectError(`too many memo views (max ${MAX_MEMO_VIEWS})`, Code.FailedPrecondition);
        return { value: formatViews([...views, view]), result: undefined };
      });
      return toMessage(owner.username, view);
    },

    async updateMemoView(req, ctx) {
      const input = req.memoView;
      if (input === undefined) throw new ConnectError("memo view is required", Code.InvalidArgument);
      const [username, id] = parseViewName(input.name);
      const owner = await requireSelf(ctx, username);
      const paths = req.updateMask?.paths ?? [];
      if (paths.length === 0) throw new ConnectError("update mask is required", Code.InvalidArgument);
      for (const path of paths) {
        if (path === "title") checkTitle(input.title);
        else if (path === "filter") checkFilter(input.filter);
        else throw new ConnectError(`invalid update path: ${path}`, Code.InvalidArgument);
      }
      const updated = await deps.userSettings.modify(owner.id, MEMO_VIEWS_SETTING, (current) => {
        const views = parseViews(current);
        const view = views.find((v) => v.id === id);
        if (view === undefined) throw notFound();
        if (paths.includes("title")) view.title = input.title;
        if (paths.includes("filter")) view.filter = input.filter;
        return { value: formatViews(views), result: { ...view } };
      });
      return toMessage(owner.username, updated);
    },

    async deleteMemoView(req, ctx) {
      const [username, id] = parseViewName(req.name);
      const owner = await requireSelf(ctx, username);
      await deps.userSettings.modify(owner.id, MEMO_VIEWS_SETTING, (current) => {
        const views = parseViews(current);
        const kept = views.filter((v) => v.id !== id);
        if (kept.length === views.length) throw notFound();
        return { value: formatViews(kept), result: undefined };
      });
      return create(EmptySchema);
    },
  };
}

function toMessage(username: string, view: StoredView): MemoView {
  return create(MemoViewSchema, { name: `users/${username}/views/${view.id}`, title: view.title, filter: view.filter });
}

/** The stored views; entries that are not objects with a string id are skipped. */
function parseViews(stored: string | undefined): StoredView[] {
  if (stored === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch (cause) {
    throw new ConnectError("stored memo views are not valid JSON", Code.Internal, undefined, undefined, cause);
  }
  const list = (parsed as { memoViews?: unknown } | null)?.memoViews;
  if (!Array.isArray(list)) return [];
  return list.flatMap((v: unknown) => {
    if (v === null || typeof v !== "object") return [];
    const { id, title, filter } = v as Record<string, unknown>;
    if (typeof id !== "string" || id === "") return [];
    return [{ id, title: typeof title === "string" ? title : "", filter: typeof filter === "string" ? filter : "" }];
  });
}

function formatViews(views: readonly StoredView[]): string {
  return JSON.stringify({ memoViews: views.map(({ id, title, filter }) => ({ id, title, filter })) });
}
