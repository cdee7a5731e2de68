import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  BatchGetInstanceSettingsResponseSchema,
  InstanceAccessMode,
  InstanceProfileSchema,
  InstanceSetting_AccessSettingSchema,
  InstanceSetting_Key,
  InstanceSettingSchema,
  type InstanceService,
  type InstanceSetting,
  type InstanceSetting_AISetting,
  type InstanceSetting_NotificationSetting,
  type InstanceSetting_StorageSetting,
  InstanceSetting_AIProviderType,
} from "../../gen/memos/api/v1/instance_service_pb.js";
import { ACCESS_SETTING, formatAccessMode, parseAccessMode } from "../auth/access-mode-store.js";
import type { AccessModeReader } from "../auth/access-policy.js";
import type { Db } from "../store/database.js";
import type { IdentityProviderRepository } from "../store/identity-provider-repository.js";
import { loadProfileState } from "../store/instance-profile-repository.js";
import type { SystemSettingRepository } from "../store/system-setting-repository.js";
import type { UserRepository, UserRow } from "../store/user-repository.js";
import { callerIdentity, loadCaller, viewerOf } from "./caller.js";
import type { InstanceSettings } from "./instance-settings.js";
import { toUserMessage } from "./user-message.js";

/** What InstanceService needs from the rest of the server. */
export interface InstanceServiceDeps {
  readonly db: Db;
  readonly version: string;
  readonly instanceUrl: string | undefined;
  /** What the setting RPCs need; without it they answer `unimplemented`. */
  readonly settings?: InstanceSettingDeps;
}

/** Dependencies of the instance-setting RPCs. */
export interface InstanceSettingDeps {
  readonly users: UserRepository;
  readonly readAccessMode: AccessModeReader;
  /** Settings with defaults. */
  readonly values: InstanceSettings;
  /** Raw `system_setting` rows (the ACCESS row is written in the access-mode store's format). */
  readonly systemSettings: SystemSettingRepository;
  /** Identity providers, to refuse switching password sign-in off while none exists. */
  readonly identityProviders: IdentityProviderRepository;
}

/** Most names one BatchGetInstanceSettings call may ask for. */
const MAX_BATCH_SETTINGS = 100;

/** InstanceService: the instance profile and the instance settings (spec §1.3, §3.1). */
export function createInstanceService(deps: InstanceServiceDeps): Partial<ServiceImpl<typeof InstanceService>> {
  const settingsDeps = (): InstanceSettingDeps => {
    if (deps.settings === undefined) throw new ConnectError("instance settings are not configured", Code.Unimplemented);
    return deps.settings;
  };

  /** Loads the caller at most once per call, only for the keys that need it. */
  const lazyCaller = (ctx: HandlerContext) => {
    let caller: Promise<UserRow | undefined> | undefined;
    return () => (caller ??= loadCaller(ctx, settingsDeps().users));
  };

  async function readSetting(name: string, caller: () => Promise<UserRow | undefined>): Promise<InstanceSetting> {
    const { values: settings, readAccessMode } = settingsDeps();
    const key = parseSettingName(name);
    const setting = create(InstanceSettingSchema, { name: `instance/settings/${InstanceSetting_Key[key]}` });
    switch (key) {
      case InstanceSetting_Key.GENERAL:
        setting.value = { case: "generalSetting", value: await settings.general() };
        break;
      case InstanceSetting_Key.MEMO_RELATED:
        setting.value = { case: "memoRelatedSetting", value: await settings.memoRelated() };
        break;
      case InstanceSetting_Key.TAGS:
        setting.value = { case: "tagsSetting", value: await settings.tags() };
        break;
      case InstanceSetting_Key.ACCESS:
        setting.value = {
          case: "accessSetting",
          value: create(InstanceSetting_AccessSettingSchema, {
            accessMode: (await readAccessMode()) === "PUBLIC" ? InstanceAccessMode.PUBLIC : InstanceAccessMode.PRIVATE,
          }),
        };
        break;
      case InstanceSetting_Key.STORAGE:
      case InstanceSetting_Key.NOTIFICATION: {
        // These hold credentials: admins only (as the reference server).
        requireAdmin(await caller());
        if (key === InstanceSetting_Key.STORAGE) setting.value = { case: "storageSetting", value: withoutStorageSecrets(await settings.storage()) };
        else {
          const n = await settings.notification();
          if (n.email !== undefined) n.email.smtpPassword = "";
          setting.value = { case: "notificationSetting", value: n };
        }
        break;
      }
      case InstanceSetting_Key.AI: {
        const user = await caller();
        if (user === undefined) throw new ConnectError("user not authenticated", Code.Unauthenticated);
        const ai = await settings.ai();
        for (const p of ai.providers) {
          p.apiKeySet = p.apiKey !== "";
          p.apiKeyHint = p.apiKey.length > 8 ? `…${p.apiKey.slice(-4)}` : "";
          p.apiKey = "";
        }
        if (user.role !== "ADMIN" && ai.transcription !== undefined) {
          ai.transcription.model = "";
          ai.transcription.language = "";
          ai.transcription.prompt = "";
        }
        setting.value = { case: "aiSetting", value: ai };
        break;
      }
      default:
        throw new ConnectError(`unsupported instance setting key: ${InstanceSetting_Key[key]}`, Code.InvalidArgument);
    }
    return setting;
  }

  return {
    async getInstanceProfile(_req, ctx) {
      const { admin, accessSetting, hasUsers } = await loadProfileState(deps.db);
      // E-mail of the admin is shown to admins and to the admin themself (spec §3.2).
      const viewer =
        admin === undefined || deps.settings === undefined || callerIdentity(ctx) === undefined
          ? undefined
          : viewerOf(await loadCaller(ctx, deps.settings.users));
      return create(InstanceProfileSchema, {
        version: deps.version,
        demo: false,
        instanceUrl: deps.instanceUrl ?? "",
        admin: admin === undefined ? undefined : toUserMessage(admin, viewer),
        commit: "",
        needsSetup: !hasUsers,
        accessMode: parseAccessMode(accessSetting) === "PUBLIC" ? InstanceAccessMode.PUBLIC : InstanceAccessMode.PRIVATE,
      });
    },

    async getInstanceSetting(req, ctx) {
      return readSetting(req.name, lazyCaller(ctx));
    },

    async batchGetInstanceSettings(req, ctx) {
      if (req.names.length > MAX_BATCH_SETTINGS) {
        throw new ConnectError(`too many instance setting names (max ${MAX_BATCH_SETTINGS})`, Code.InvalidArgument);
      }
      const caller = lazyCaller(ctx);
      const settings: InstanceSetting[] = [];
      for (const name of req.names) settings.push(await readSetting(name, caller));
      return create(BatchGetInstanceSettingsResponseSchema, { settings });
    },

    async updateInstanceSetting(req, ctx) {
      const { values: settings, systemSettings, identityProviders, users } = settingsDeps();
      const caller = await loadCaller(ctx, users);
      requireAdmin(caller);
      const setting = req.setting;
      if (setting === undefined) throw new ConnectError("instance setting is required", Code.InvalidArgument);
      const key = parseSettingName(setting.name);
      // The update mask is ignored: the whole setting is replaced (spec §1.3, as the reference).
      const value = setting.value;
      const mismatch = () =>
        new ConnectError(`instance setting ${InstanceSetting_Key[key]} needs its own value field`, Code.InvalidArgument);
      switch (key) {
        case InstanceSetting_Key.GENERAL: {
          if (value.case !== "generalSetting") throw mismatch();
          if (value.value.disallowPasswordAuth && (await identityProviders.count()) === 0) {
            throw new ConnectError(
              "password authentication cannot be disabled while no identity provider is configured",
              Code.FailedPrecondition,
            );
          }
          await settings.putGeneral(value.value);
          break;
        }
        case InstanceSetting_Key.STORAGE: {
          if (value.case !== "storageSetting") throw mismatch();
          if (value.value.uploadSizeLimitMb < 0n) throw new ConnectError("upload size limit must not be negative", Code.InvalidArgument);
          await settings.putStorage(keepStorageSecrets(value.value, await settings.storage()));
          break;
        }
        case InstanceSetting_Key.MEMO_RELATED: {
          if (value.case !== "memoRelatedSetting") throw mismatch();
          if (value.value.contentLengthLimit < 0) throw new ConnectError("content length limit must not be negative", Code.InvalidArgument);
          await settings.putMemoRelated(value.value);
          break;
        }
        case InstanceSetting_Key.TAGS: {
          if (value.case !== "tagsSetting") throw mismatch();
          await settings.putTags(value.value);
          break;
        }
        case InstanceSetting_Key.ACCESS: {
          if (value.case !== "accessSetting") throw mismatch();
          const mode = value.value.accessMode === InstanceAccessMode.PUBLIC ? "PUBLIC" : "PRIVATE";
          await systemSettings.upsert(ACCESS_SETTING, formatAccessMode(mode));
          break;
        }
        case InstanceSetting_Key.NOTIFICATION: {
          if (value.case !== "notificationSetting") throw mismatch();
          await settings.putNotification(keepNotificationSecrets(checkNotification(value.value), await settings.notification()));
          break;
        }
        case InstanceSetting_Key.AI: {
          if (value.case !== "aiSetting") throw mismatch();
          await settings.putAi(keepAiSecrets(checkAi(value.value), await settings.ai()));
          break;
        }
        default:
          throw new ConnectError(`updating the ${InstanceSetting_Key[key]} setting is not supported`, Code.Unimplemented);
      }
      return readSetting(setting.name, async () => caller);
    },
  };
}

/** `instance/settings/{KEY}` -> key; anything else is InvalidArgument. */
function parseSettingName(name: string): InstanceSetting_Key {
  const match = /^instance\/settings\/([A-Z_]+)$/.exec(name);
  const key = match === null ? undefined : (InstanceSetting_Key as unknown as Record<string, number>)[match[1]!];
  if (key === undefined || key === InstanceSetting_Key.KEY_UNSPECIFIED) {
    throw new ConnectError(`invalid instance setting name: ${name}`, Code.InvalidArgument);
  }
  return key as InstanceSetting_Key;
}

function requireAdmin(user: UserRow | undefined): asserts user is UserRow {
  if (user === undefined) throw new ConnectError("user not authenticated", Code.Unauthenticated);
  if (user.role !== "ADMIN") throw new ConnectError("permission denied", Code.PermissionDenied);
}

/** S3 secret keys are write-only: never returned. */
function withoutStorageSecrets(s: InstanceSetting_StorageSetting): InstanceSetting_StorageSetting {
  if (s.s3Config !== undefined) s.s3Config.accessKeySecret = "";
  for (const storage of s.storages) if (storage.config.case === "s3Config") storage.config.value.accessKeySecret = "";
  return s;
}

/** An empty secret in an update means "keep the stored one", not "clear it". */
function keepStorageSecrets(next: InstanceSetting_StorageSetting, stored: InstanceSetting_StorageSetting): InstanceSetting_StorageSetting {
  if (next.s3Config !== undefined && next.s3Config.accessKeySecret === "" && stored.s3Config !== undefined) {
    next.s3Config.accessKeySecret = stored.s3Config.accessKeySecret;
  }
  for (const storage of next.storages) {
    if (storage.config.case !== "s3Config" || storage.config.value.accessKeySecret !== "") continue;
    const old = stored.storages.find((s) => s.id === storage.id);
    if (old?.config.case === "s3Config") storage.config.value.accessKeySecret = old.config.value.accessKeySecret;
  }
  return next;
}

/** E-mail delivery, when switched on, needs a host, a port and a sender address. */
function checkNotification(n: InstanceSetting_NotificationSetting): InstanceSetting_NotificationSetting {
  const email = n.email;
  if (email === undefined || !email.enabled) return n;
  if (email.smtpHost.trim() === "") throw new ConnectError("email: smtp_host is required when email is enabled", Code.InvalidArgument);
  if (email.smtpPort < 1 || email.smtpPort > 65535) throw new ConnectError("email: smtp_port must be from 1 to 65535", Code.InvalidArgument);
  if (email.fromEmail.trim() === "") throw new ConnectError("email: from_email is required when email is enabled", Code.InvalidArgument);
  return n;
}

/** An empty SMTP password in an update keeps the stored one. */
function keepNotificationSecrets(next: InstanceSetting_NotificationSetting, stored: InstanceSetting_NotificationSetting): InstanceSetting_NotificationSetting {
  if (next.email !== undefined && next.email.smtpPassword === "" && stored.email !== undefined) next.email.smtpPassword = stored.email.smtpPassword;
  return next;
}

/** Providers need distinct non-empty ids, a known type and an http(s) endpoint when one is given. */
function checkAi(ai: InstanceSetting_AISetting): InstanceSetting_AISetting {
  const ids = new Set<string>();
  for (const p of ai.providers) {
    if (p.id.trim() === "") throw new ConnectError("ai: every provider needs an id", Code.InvalidArgument);
    if (ids.has(p.id)) throw new ConnectError(`ai: duplicate provider id ${JSON.stringify(p.id)}`, Code.InvalidArgument);
    ids.add(p.id);
    if (p.type !== InstanceSetting_AIProviderType.OPENAI && p.type !== InstanceSetting_AIProviderType.GEMINI) {
      throw new ConnectError(`ai: provider ${JSON.stringify(p.id)} needs a type (OPENAI or GEMINI)`, Code.InvalidArgument);
    }
    if (p.endpoint !== "") {
      let ok = false;
      try {
        ok = ["http:", "https:"].includes(new URL(p.endpoint).protocol);
      } catch {
        ok = false;
      }
      if (!ok) throw new ConnectError(`ai: endpoint of provider ${JSON.stringify(p.id)} must be an http(s) URL`, Code.InvalidArgument);
    }
    // Output-only fields are never stored.
    p.apiKeySet = false;
    p.apiKeyHint = "";
  }
  const transcriptionProvider = ai.transcription?.providerId ?? "";
  if (transcriptionProvider !== "" && !ids.has(transcriptionProvider)) {
    throw new ConnectError(`ai: transcription names unknown provider ${JSON.stringify(transcriptionProvider)}`, Code.InvalidArgument);
  }
  return ai;
}

/** An empty API key in an update keeps the stored key of the provider with the same id. */
function keepAiSecrets(next: InstanceSetting_AISetting, stored: InstanceSetting_AISetting): InstanceSetting_AISetting {
  for (const p of next.providers) {
    if (p.apiKey !== "") continue;
    const old = stored.providers.find((s) => s.id === p.id);
    if (old !== undefined) p.apiKey = old.apiKey;
  }
  return next;
}
