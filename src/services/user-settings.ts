import { create, fromJsonString, toJsonString, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  ListUserSettingsResponseSchema,
  UserSetting_GeneralSettingSchema,
  UserSetting_Key,
  UserSetting_TagsSettingSchema,
  UserSetting_WebhooksSettingSchema,
  UserSettingSchema,
  type UserService,
  type UserSetting,
  type UserSetting_GeneralSetting,
  type UserSetting_TagsSetting,
} from "../../gen/memos/api/v1/user_service_pb.js";
import { parseResourceName, parseUserName } from "../domain/resource-name.js";
import type { UserRepository, UserRow } from "../store/user-repository.js";
import type { UserSettingRepository } from "../store/user-setting-repository.js";
import { loadCaller } from "./caller.js";

/** What the user-setting RPCs need. */
export interface UserSettingDeps {
  readonly users: UserRepository;
  readonly userSettings: UserSettingRepository;
}

/** The keys of `UserSetting` served, in the order ListUserSettings answers them. */
const SERVED_KEYS = [UserSetting_Key.GENERAL, UserSetting_Key.TAGS, UserSetting_Key.WEBHOOKS] as const;
type ServedKey = (typeof SERVED_KEYS)[number];

/** Memo visibilities a user may pick as their default. */
const MEMO_VISIBILITIES = new Set(["PRIVATE", "PROTECTED", "PUBLIC"]);

/**
 * The reference server's defaults for an unset GENERAL setting: English, new memos PRIVATE, the
 * web app's default theme (""), media metadata not kept.
 */
export function defaultGeneralSetting(): UserSetting_GeneralSetting {
  return create(UserSetting_GeneralSettingSchema, { locale: "en", memoVisibility: "PRIVATE", theme: "" });
}

/**
 * Reads a user's settings with defaults, for other services (e.g. an upload deciding whether to
 * keep media metadata).
 */
export interface UserSettingsReader {
  general(userId: number): Promise<UserSetting_GeneralSetting>;
}

export function createUserSettingsReader(repo: UserSettingRepository): UserSettingsReader {
  return {
    async general(userId) {
      return readGeneral(await repo.get(userId, UserSetting_Key[UserSetting_Key.GENERAL]));
    },
  };
}

/**
 * UserService ListUserSettings / GetUserSetting / UpdateUserSetting (the reference's behaviour):
 * settings are stored per user as protobuf-JSON in `user_setting` under the key's name (GENERAL,
 * TAGS, WEBHOOKS) and read with defaults when absent. Only the user themself may read or change
 * them (admins included in "others": settings are personal). WEBHOOKS is read-only here (its
 * RPCs own it) and never shows signing secrets.
 */
export function createUserSettingRpcs(deps: UserSettingDeps): Pick<ServiceImpl<typeof UserService>, "listUserSettings" | "getUserSetting" | "updateUserSetting"> {
  /** The owner of `username` when the caller is that user; the denial otherwise. */
  const requireSelf = async (ctx: HandlerContext, username: string): Promise<UserRow> => {
    const caller = await loadCaller(ctx, deps.users);
    if (caller === undefined) throw new ConnectError("user not authenticated", Code.Unauthenticated);
    if (caller.username !== username) {
      const owner = await deps.users.findByUsername(username);
      if (owner === undefined) throw new ConnectError("user not found", Code.NotFound);
      throw new ConnectError("permission denied", Code.PermissionDenied);
    }
    return caller;
  };

  const readSetting = async (user: UserRow, key: ServedKey, stored?: string): Promise<UserSetting> => {
    const raw = stored ?? (await deps.userSettings.get(user.id, UserSetting_Key[key]));
    return toSettingMessage(user.username, key, raw);
  };

  return {
    async listUserSettings(req, ctx) {
      const username = parseUserName(req.parent);
      if (username === undefined) throw new ConnectError(`invalid user name: ${req.parent}`, Code.InvalidArgument);
      const user = await requireSelf(ctx, username);
      const rows = await deps.userSettings.list(user.id, SERVED_KEYS.map((k) => UserSetting_Key[k]));
      const byKey = new Map(rows.map((r) => [r.key, r.value]));
      return create(ListUserSettingsResponseSchema, {
        settings: SERVED_KEYS.map((key) => toSettingMessage(user.username, key, byKey.get(UserSetting_Key[key]))),
        nextPageToken: "",
      });
    },

    async getUserSetting(req, ctx) {
      const [username, key] = parseSettingName(req.name);
      const user = await requireSelf(ctx, username);
      return readSetting(user, key);
    },

    async updateUserSetting(req, ctx) {
      const setting = req.setting;
      if (setting === undefined) throw new ConnectError("setting is required", Code.InvalidArgument);
      const [username, key] = parseSettingName(setting.name);
      const user = await requireSelf(ctx, username);
      const paths = req.updateMask?.paths ?? [];
      if (paths.length === 0) throw new ConnectError("update mask is required", Code.InvalidArgument);
      const keyName = UserSetting_Key[key];
      switch (key) {
        case UserSetting_Key.GENERAL: {
          if (setting.value.case !== "generalSetting") throw new ConnectError("general setting is required", Code.InvalidArgument);
          const input = setting.value.value;
          if (paths.includes("memo_visibility") && input.memoVisibility !== "" && !MEMO_VISIBILITIES.has(input.memoVisibility)) {
            throw new ConnectError("invalid memo_visibility: expected PRIVATE, PROTECTED or PUBLIC", Code.InvalidArgument);
          }
          // Read-modify-write under a row lock: two tabs changing different fields both win.
          const stored = await deps.userSettings.modify(user.id, keyName, (current) => {
            const next = readGeneral(current);
            // Other paths are ignored, as the reference does (older web apps send e.g. `appearance`).
            for (const path of paths) {
              if (path === "locale") next.locale = input.locale;
              else if (path === "memo_visibility") next.memoVisibility = input.memoVisibility === "" ? "PRIVATE" : input.memoVisibility;
              else if (path === "theme") next.theme = input.theme;
              else if (path === "save_media_metadata") next.saveMediaMetadata = input.saveMediaMetadata;
            }
            const value = toJsonString(UserSetting_GeneralSettingSchema, next);
            return { value, result: value };
          });
          return readSetting(user, key, stored);
        }
        case UserSetting_Key.TAGS: {
          if (paths.length !== 1 || paths[0] !== "tags") throw new ConnectError('the TAGS setting only supports update mask ["tags"]', Code.InvalidArgument);
          if (setting.value.case !== "tagsSetting") throw new ConnectError("tags setting is required", Code.InvalidArgument);
          const value = toJsonString(UserSetting_TagsSettingSchema, checkTagsSetting(setting.value.value));
          await deps.userSettings.upsert(user.id, keyName, value);
          return readSetting(user, key, value);
        }
        default:
          throw new ConnectError(`setting ${keyName} cannot be updated with UpdateUserSetting`, Code.InvalidArgument);
      }
    },
  };
}

/** `users/{username}/settings/{KEY}` -> [username, key]; anything else is InvalidArgument. */
function parseSettingName(name: string): [string, ServedKey] {
  const ids = parseResourceName(name, ["users", "settings"]);
  const key = ids === undefined ? undefined : (UserSetting_Key as unknown as Record<string, number>)[ids[1]!];
  if (ids === undefined || key === undefined || !(SERVED_KEYS as readonly number[]).includes(key)) {
    throw new ConnectError(`invalid user setting name: ${name}`, Code.InvalidArgument);
  }
  return [ids[0]!, key as ServedKey];
}

function toSettingMessage(username: string, key: ServedKey, stored: string | undefined): UserSetting {
  const setting = create(UserSettingSchema, { name: `users/${username}/settings/${UserSetting_Key[key]}` });
  switch (key) {
    case UserSetting_Key.GENERAL:
      setting.value = { case: "generalSetting", value: readGeneral(stored) };
      break;
    case UserSetting_Key.TAGS:
      setting.value = { case: "tagsSetting", value: readStored(UserSetting_TagsSettingSchema, stored) };
      break;
    case UserSetting_Key.WEBHOOKS: {
      const webhooks = readStored(UserSetting_WebhooksSettingSchema, stored);
      for (const w of webhooks.webhooks) {
        w.signingSecretSet = w.signingSecret !== "";
        w.signingSecret = "";
      }
      setting.value = { case: "webhooksSetting", value: webhooks };
      break;
    }
  }
  return setting;
}

/** The stored GENERAL setting over the defaults: fields the user never set keep the default. */
function readGeneral(stored: string | undefined): UserSetting_GeneralSetting {
  const setting = defaultGeneralSetting();
  if (stored === undefined) return setting;
  const saved = readStored(UserSetting_GeneralSettingSchema, stored);
  if (saved.locale !== "") setting.locale = saved.locale;
  if (MEMO_VISIBILITIES.has(saved.memoVisibility)) setting.memoVisibility = saved.memoVisibility;
  setting.theme = saved.theme;
  setting.saveMediaMetadata = saved.saveMediaMetadata;
  return setting;
}

function readStored<D extends DescMessage>(schema: D, stored: string | undefined): MessageShape<D> {
  if (stored === undefined) return create(schema);
  try {
    return fromJsonString(schema, stored, { ignoreUnknownFields: true });
  } catch (cause) {
    throw new ConnectError("stored user setting is not valid protobuf-JSON", Code.Internal, undefined, undefined, cause);
  }
}

/** Tag patterns must be non-empty; colour channels are fractions from 0 to 1 (google.type.Color). */
function checkTagsSetting(tags: UserSetting_TagsSetting): UserSetting_TagsSetting {
  for (const [pattern, meta] of Object.entries(tags.tags)) {
    if (pattern.trim() === "") throw new ConnectError("invalid tags setting: empty tag pattern", Code.InvalidArgument);
    const c = meta.backgroundColor;
    if (c === undefined) continue;
    const channels = [c.red, c.green, c.blue, ...(c.alpha === undefined ? [] : [c.alpha])];
    if (channels.some((v) => !Number.isFinite(v) || v < 0 || v > 1)) {
      throw new ConnectError(`invalid tags setting: colour of ${JSON.stringify(pattern)} must have channels from 0 to 1`, Code.InvalidArgument);
    }
  }
  return tags;
}
