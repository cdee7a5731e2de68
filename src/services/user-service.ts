import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { EmptySchema, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { State } from "../../gen/memos/api/v1/common_pb.js";
import {
  BatchGetUsersResponseSchema,
  CreatePersonalAccessTokenResponseSchema,
  ListPersonalAccessTokensResponseSchema,
  ListUsersResponseSchema,
  PersonalAccessTokenSchema,
  User_Role,
  UserSchema,
  type PersonalAccessToken,
  type UserService,
} from "../../gen/memos/api/v1/user_service_pb.js";
import type { PasswordHasher } from "../auth/password.js";
import { generatePersonalAccessToken, hashPersonalAccessToken } from "../auth/personal-access-token.js";
import { clearedRefreshCookie, isSecureRequest } from "../auth/refresh-cookie.js";
import { encodeOffsetToken, resolveOffsetPage } from "../domain/page-token.js";
import { parsePersonalAccessTokenName, parseUserName } from "../domain/resource-name.js";
import { isValidUsername } from "../domain/username.js";
import type { PersonalAccessTokenRepository, PersonalAccessTokenRow } from "../store/personal-access-token-repository.js";
import { isUniqueViolation, type UserPatch, type UserRepository, type UserRow } from "../store/user-repository.js";
import { loadCaller, viewerOf } from "./caller.js";
import type { InstanceSettings } from "./instance-settings.js";
import { toUserMessage } from "./user-message.js";

/** What UserService needs from the rest of the server. */
export interface UserServiceDeps {
  readonly users: UserRepository;
  readonly passwords: PasswordHasher;
  readonly personalAccessTokens: PersonalAccessTokenRepository;
  readonly settings: InstanceSettings;
  readonly clock?: () => number;
}

/** Most usernames one BatchGetUsers call may name (spec §3.3). */
const MAX_BATCH_USERS = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Avatar data URIs accepted by UpdateUser (spec §3.3). */
const AVATAR_DATA_URI = /^data:(image\/(?:png|jpeg|jpg|gif|webp));base64,[A-Za-z0-9+/]*={0,2}$/;

/**
 * UserService, the account half (spec §3.3, §3.6): sign-up with first-user bootstrap, reads,
 * updates, deletion and personal access tokens. Settings, stats, webhooks and notifications
 * belong to other issues.
 */
export function createUserService(deps: UserServiceDeps): Partial<ServiceImpl<typeof UserService>> {
  const clock = deps.clock ?? Date.now;
  const nowSeconds = () => Math.floor(clock() / 1000);

  const requireCaller = async (ctx: HandlerContext) => {
    const caller = await loadCaller(ctx, deps.users);
    if (caller === undefined) throw new ConnectError("user not authenticated", Code.Unauthenticated);
    return caller;
  };
  const userByName = async (name: string) => {
    const username = parseUserName(name);
    if (username === undefined) throw new ConnectError(`invalid user name: ${name}`, Code.InvalidArgument);
    return deps.users.findByUsername(username);
  };
  const alreadyExists = (username: string) => new ConnectError(`user ${username} already exists`, Code.AlreadyExists);

  return {
    async createUser(req, ctx) {
      const input = req.user;
      if (input === undefined) throw new ConnectError("user is required", Code.InvalidArgument);
      if (req.userId !== "" && req.userId !== input.username) {
        throw new ConnectError("user_id must match user.username", Code.InvalidArgument);
      }
      if (!isValidUsername(input.username)) throw new ConnectError(`invalid username: ${input.username}`, Code.InvalidArgument);
      if (input.password === "") throw new ConnectError("password must not be empty", Code.InvalidArgument);

      const caller = await loadCaller(ctx, deps.users);
      const byAdmin = caller?.role === "ADMIN";
      const checkRegistrationOpen = async () => {
        const general = await deps.settings.general();
        if (general.disallowUserRegistration) throw new ConnectError("user registration is not allowed", Code.PermissionDenied);
        if (general.disallowPasswordAuth) throw new ConnectError("password signup is not allowed", Code.PermissionDenied);
      };
      // An admin picks the role; anybody else gets USER, except the very first user (ADMIN).
      const requested = byAdmin && input.role === User_Role.ADMIN ? "ADMIN" : "USER";
      const maybeFirst = !byAdmin && (await deps.users.count()) === 0;
      if (!byAdmin && !maybeFirst) await checkRegistrationOpen();

      if (req.validateOnly) {
        return create(UserSchema, {
          username: input.username,
          email: input.email,
          displayName: input.displayName,
          role: maybeFirst || requested === "ADMIN" ? User_Role.ADMIN : User_Role.USER,
        });
      }

      const fields = {
        username: input.username,
        email: input.email,
        nickname: input.displayName,
        password_hash: await deps.passwords.hash(input.password),
      };
      let created: UserRow | undefined;
      try {
        if (maybeFirst) {
          created = await deps.users.createFirstAdmin(fields);
          // Lost the race for the first account: carry on as an ordinary sign-up.
          if (created === undefined) await checkRegistrationOpen();
        }
        created ??= await deps.users.create({ ...fields, role: requested });
      } catch (err) {
        if (isUniqueViolation(err)) throw alreadyExists(input.username);
        throw err;
      }
      return toUserMessage(created, viewerOf(created));
    },

    async getUser(req, ctx) {
      const user = await userByName(req.name);
      if (user === undefined) throw new ConnectError("user not found", Code.NotFound);
      return toUserMessage(user, viewerOf(await loadCaller(ctx, deps.users)));
    },

    async listUsers(req, ctx) {
      const caller = await requireCaller(ctx);
      if (caller.role !== "ADMIN") throw new ConnectError("permission denied", Code.PermissionDenied);
      const username = parseUsernameFilter(req.filter);
      const page = resolveOffsetPage(req.pageSize, req.pageToken);
      if (page === undefined) throw new ConnectError(`invalid page token: ${req.pageToken}`, Code.InvalidArgument);
      const rows = await deps.users.list({ username, limit: page.limit + 1, offset: page.offset });
      const more = rows.length > page.limit;
      return create(ListUsersResponseSchema, {
        users: rows.slice(0, page.limit).map((row) => toUserMessage(row, viewerOf(caller))),
        nextPageToken: more ? encodeOffsetToken({ limit: page.limit, offset: page.offset + page.limit }) : "",
      });
    },

    async batchGetUsers(req, ctx) {
      const usernames = [...new Set(req.usernames.filter((u) => u !== ""))];
      if (usernames.length > MAX_BATCH_USERS) {
        throw new ConnectError(`too many usernames (max ${MAX_BATCH_USERS})`, Code.InvalidArgument);
      }
      const rows = await deps.users.findByUsernames(usernames, "NORMAL");
      const byName = new Map(rows.map((r) => [r.username, r]));
      const viewer = viewerOf(await loadCaller(ctx, deps.users));
      return create(BatchGetUsersResponseSchema, {
        users: usernames.flatMap((u) => {
          const row = byName.get(u);
          return row === undefined ? [] : [toUserMessage(row, viewer)];
        }),
      });
    },

    async updateUser(req, ctx) {
      const paths = req.updateMask?.paths ?? [];
      if (paths.length === 0) throw new ConnectError("update mask is required", Code.InvalidArgument);
      const input = req.user;
      if (input === undefined) throw new ConnectError("user is required", Code.InvalidArgument);
      const target = await userByName(input.name);
      if (target === undefined) throw new ConnectError("user not found", Code.NotFound);
      const caller = await requireCaller(ctx);
      const isAdmin = caller.role === "ADMIN";
      if (caller.id !== target.id && !isAdmin) throw new ConnectError("permission denied", Code.PermissionDenied);

      const patch: UserPatch = { updated_ts: nowSeconds() };
      let general: Awaited<ReturnType<InstanceSettings["general"]>> | undefined;
      const generalSetting = async () => (general ??= await deps.settings.general());
      for (const path of paths) {
        switch (path) {
          case "username":
            if ((await generalSetting()).disallowChangeUsername && !isAdmin) {
              throw new ConnectError("permission denied: disallow change username", Code.PermissionDenied);
            }
            if (!isValidUsername(input.username)) throw new ConnectError(`invalid username: ${input.username}`, Code.InvalidArgument);
            patch.username = input.username;
            break;
          case "display_name":
            if ((await generalSetting()).disallowChangeNickname && !isAdmin) {
              throw new ConnectError("permission denied: disallow change nickname", Code.PermissionDenied);
            }
            patch.nickname = input.displayName;
            break;
          case "email":
            patch.email = input.email;
            break;
          case "avatar_url":
            if (input.avatarUrl !== "" && !AVATAR_DATA_URI.test(input.avatarUrl)) {
              throw new ConnectError("invalid avatar: expected a base64 data URI of a PNG, JPEG, GIF or WebP image", Code.InvalidArgument);
            }
            patch.avatar_url = input.avatarUrl;
            break;
          case "description":
            patch.description = input.description;
            break;
          case "role":
            if (!isAdmin) throw new ConnectError("permission denied", Code.PermissionDenied);
            patch.role = input.role === User_Role.ADMIN ? "ADMIN" : "USER";
            break;
          case "password":
            if (input.password === "") throw new ConnectError("password must not be empty", Code.InvalidArgument);
            patch.password_hash = await deps.passwords.hash(input.password);
            break;
          case "state":
            if (!isAdmin) throw new ConnectError("permission denied", Code.PermissionDenied);
            patch.row_status = input.state === State.ARCHIVED ? "ARCHIVED" : "NORMAL";
            break;
          default:
            throw new ConnectError(`invalid update path: ${path}`, Code.InvalidArgument);
        }
      }
      let updated: UserRow | undefined;
      try {
        updated = await deps.users.update(target.id, patch);
      } catch (err) {
        if (isUniqueViolation(err)) throw alreadyExists(input.username);
        throw err;
      }
      if (updated === undefined) throw new ConnectError("user not found", Code.NotFound);
      return toUserMessage(updated, viewerOf(caller.id === updated.id ? updated : caller));
    },

    async deleteUser(req, ctx) {
      const target = await userByName(req.name);
      if (target === undefined) throw new ConnectError("user not found", Code.NotFound);
      const caller = await requireCaller(ctx);
      if (caller.id !== target.id && caller.role !== "ADMIN") throw new ConnectError("permission denied", Code.PermissionDenied);
      await deps.users.deleteCompletely(target.id);
      if (caller.id === target.id) ctx.responseHeader.append("Set-Cookie", clearedRefreshCookie(isSecureRequest(ctx.requestHeader)));
      return create(EmptySchema);
    },

    async listPersonalAccessTokens(req, ctx) {
      const owner = await userByName(req.parent);
      if (owner === undefined) throw new ConnectError(`invalid user name: ${req.parent}`, Code.InvalidArgument);
      const caller = await requireCaller(ctx);
      if (caller.id !== owner.id && caller.role !== "ADMIN") throw new ConnectError("permission denied", Code.PermissionDenied);
      const rows = await deps.personalAccessTokens.listByUser(owner.id);
      return create(ListPersonalAccessTokensResponseSchema, {
        personalAccessTokens: rows.map((row) => toPatMessage(owner.username, row)),
      });
    },

    async createPersonalAccessToken(req, ctx) {
      const owner = await userByName(req.parent);
      if (owner === undefined) throw new ConnectError(`invalid user name: ${req.parent}`, Code.InvalidArgument);
      const caller = await requireCaller(ctx);
      // Only the owner: an admin must not mint credentials that act as somebody else.
      if (caller.id !== owner.id) throw new ConnectError("permission denied", Code.PermissionDenied);
      let expiresTs: number | null = null;
      if (req.expiresInDays > 0) {
        const expires = new Date(clock());
        expires.setUTCDate(expires.getUTCDate() + req.expiresInDays);
        expiresTs = Math.floor(expires.getTime() / 1000);
      }
      const token = generatePersonalAccessToken();
      const row = await deps.personalAccessTokens.create({
        id: randomUUID(),
        userId: owner.id,
        tokenHash: hashPersonalAccessToken(token),
        description: req.description,
        expiresTs,
      });
      return create(CreatePersonalAccessTokenResponseSchema, { personalAccessToken: toPatMessage(owner.username, row), token });
    },

    async deletePersonalAccessToken(req, ctx) {
      const parsed = parsePersonalAccessTokenName(req.name);
      if (parsed === undefined) throw new ConnectError(`invalid personal access token name: ${req.name}`, Code.InvalidArgument);
      const [username, tokenId] = parsed;
      const owner = await deps.users.findByUsername(username);
      if (owner === undefined) throw new ConnectError(`invalid user name: users/${username}`, Code.InvalidArgument);
      const caller = await requireCaller(ctx);
      if (caller.id !== owner.id) throw new ConnectError("permission denied", Code.PermissionDenied);
      // Deleting an unknown token succeeds (idempotent); a non-UUID id cannot name one.
      if (UUID.test(tokenId)) await deps.personalAccessTokens.delete(owner.id, tokenId.toLowerCase());
      return create(EmptySchema);
    },
  };
}

function toPatMessage(username: string, row: PersonalAccessTokenRow): PersonalAccessToken {
  return create(PersonalAccessTokenSchema, {
    name: `users/${username}/personalAccessTokens/${row.id}`,
    description: row.description,
    createdAt: timestampFromMs(row.created_ts * 1000),
    expiresAt: row.expires_ts === null ? undefined : timestampFromMs(row.expires_ts * 1000),
    lastUsedAt: row.last_used_ts === null ? undefined : timestampFromMs(row.last_used_ts * 1000),
  });
}

/**
 * ListUsers filter (spec §3.3): empty, or exactly `username == "<name>"` (double or single
 * quotes, backslash escapes). Anything else is InvalidArgument.
 */
export function parseUsernameFilter(filter: string): string | undefined {
  if (filter.trim() === "") return undefined;
  const m = /^\s*username\s*==\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*$/.exec(filter);
  if (m === null) throw new ConnectError(`invalid filter: only username == "name" is supported`, Code.InvalidArgument);
  return (m[1] ?? m[2]!).replace(/\\(.)/g, "$1");
}
