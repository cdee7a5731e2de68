import { create, fromJsonString, toJsonString, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import {
  InstanceSetting_AISettingSchema,
  InstanceSetting_GeneralSettingSchema,
  InstanceSetting_Key,
  InstanceSetting_MemoRelatedSettingSchema,
  InstanceSetting_NotificationSettingSchema,
  InstanceSetting_StorageSetting_StorageType,
  InstanceSetting_StorageSettingSchema,
  InstanceSetting_TagsSettingSchema,
  type InstanceSetting_AISetting,
  type InstanceSetting_GeneralSetting,
  type InstanceSetting_MemoRelatedSetting,
  type InstanceSetting_NotificationSetting,
  type InstanceSetting_StorageSetting,
  type InstanceSetting_TagsSetting,
} from "../../gen/memos/api/v1/instance_service_pb.js";
import type { SystemSettingRepository } from "../store/system-setting-repository.js";

/** Default and minimum memo content length limit, in bytes (spec §6.4). */
export const DEFAULT_CONTENT_LENGTH_LIMIT = 8 * 1024;
/** Default reactions offered by the web app (the reference server's list). */
export const DEFAULT_REACTIONS: readonly string[] = ["👍", "👎", "❤️", "🎉", "😄", "😕", "😢", "😡"];
/** Default upload size limit in MiB (spec §4.3, §4.8); a stored 0 also reads as this. */
export const DEFAULT_UPLOAD_SIZE_LIMIT_MB = 30n;
/** Default path template of locally stored attachments (spec §4.8). */
export const DEFAULT_FILEPATH_TEMPLATE = "assets/{timestamp}_{uuid}_{filename}";

/**
 * Instance settings stored as protobuf-JSON in `system_setting` (one row per key name), read
 * fresh on every call (nothing cached, so every replica sees a change at once) with the
 * reference server's defaults applied. The values returned include write-only secrets: strip
 * them before answering a client.
 */
export interface InstanceSettings {
  general(): Promise<InstanceSetting_GeneralSetting>;
  storage(): Promise<InstanceSetting_StorageSetting>;
  memoRelated(): Promise<InstanceSetting_MemoRelatedSetting>;
  tags(): Promise<InstanceSetting_TagsSetting>;
  notification(): Promise<InstanceSetting_NotificationSetting>;
  ai(): Promise<InstanceSetting_AISetting>;
  putGeneral(value: InstanceSetting_GeneralSetting): Promise<void>;
  putStorage(value: InstanceSetting_StorageSetting): Promise<void>;
  putMemoRelated(value: InstanceSetting_MemoRelatedSetting): Promise<void>;
  putTags(value: InstanceSetting_TagsSetting): Promise<void>;
  putNotification(value: InstanceSetting_NotificationSetting): Promise<void>;
  putAi(value: InstanceSetting_AISetting): Promise<void>;
}

export function createInstanceSettings(repo: SystemSettingRepository): InstanceSettings {
  async function read<D extends DescMessage>(schema: D, key: InstanceSetting_Key): Promise<MessageShape<D>> {
    const raw = await repo.get(InstanceSetting_Key[key]);
    if (raw === undefined) return create(schema);
    try {
      return fromJsonString(schema, raw, { ignoreUnknownFields: true });
    } catch (cause) {
      throw new Error(`stored instance setting ${InstanceSetting_Key[key]} is not valid protobuf-JSON`, { cause });
    }
  }
  const write = <D extends DescMessage>(schema: D, key: InstanceSetting_Key, value: MessageShape<D>) =>
    repo.upsert(InstanceSetting_Key[key], toJsonString(schema, value));
  return {
    general: () => read(InstanceSetting_GeneralSettingSchema, InstanceSetting_Key.GENERAL),
    async storage() {
      const s = await read(InstanceSetting_StorageSettingSchema, InstanceSetting_Key.STORAGE);
      if (s.storageType === InstanceSetting_StorageSetting_StorageType.STORAGE_TYPE_UNSPECIFIED) {
        s.storageType = InstanceSetting_StorageSetting_StorageType.LOCAL;
      }
      if (s.uploadSizeLimitMb <= 0n) s.uploadSizeLimitMb = DEFAULT_UPLOAD_SIZE_LIMIT_MB;
      if (s.filepathTemplate === "") s.filepathTemplate = DEFAULT_FILEPATH_TEMPLATE;
      return s;
    },
    async memoRelated() {
      const s = await read(InstanceSetting_MemoRelatedSettingSchema, InstanceSetting_Key.MEMO_RELATED);
      if (s.contentLengthLimit < DEFAULT_CONTENT_LENGTH_LIMIT) s.contentLengthLimit = DEFAULT_CONTENT_LENGTH_LIMIT;
      if (s.reactions.length === 0) s.reactions = [...DEFAULT_REACTIONS];
      return s;
    },
    tags: () => read(InstanceSetting_TagsSettingSchema, InstanceSetting_Key.TAGS),
    notification: () => read(InstanceSetting_NotificationSettingSchema, InstanceSetting_Key.NOTIFICATION),
    ai: () => read(InstanceSetting_AISettingSchema, InstanceSetting_Key.AI),
    putGeneral: (v) => write(InstanceSetting_GeneralSettingSchema, InstanceSetting_Key.GENERAL, v),
    putStorage: (v) => write(InstanceSetting_StorageSettingSchema, InstanceSetting_Key.STORAGE, v),
    putMemoRelated: (v) => write(InstanceSetting_MemoRelatedSettingSchema, InstanceSetting_Key.MEMO_RELATED, v),
    putTags: (v) => write(InstanceSetting_TagsSettingSchema, InstanceSetting_Key.TAGS, v),
    putNotification: (v) => write(InstanceSetting_NotificationSettingSchema, InstanceSetting_Key.NOTIFICATION, v),
    putAi: (v) => write(InstanceSetting_AISettingSchema, InstanceSetting_Key.AI, v),
  };
}
