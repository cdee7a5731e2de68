import type { SystemSettingRepository } from "../store/system-setting-repository.js";
import type { AccessMode, AccessModeReader } from "./access-policy.js";

/** `system_setting` row that holds the access mode (spec §1.3). */
export const ACCESS_SETTING = "ACCESS";

const PUBLIC_VALUE = "INSTANCE_ACCESS_MODE_PUBLIC";
const PRIVATE_VALUE = "INSTANCE_ACCESS_MODE_PRIVATE";

/** Parses the stored setting; anything missing or unknown is PRIVATE. */
export function parseAccessMode(value: string | undefined): AccessMode {
  if (value === undefined) return "PRIVATE";
  try {
    return (JSON.parse(value) as { accessMode?: unknown }).accessMode === PUBLIC_VALUE ? "PUBLIC" : "PRIVATE";
  } catch {
    return "PRIVATE";
  }
}

/** Serialises an access mode as the stored setting's JSON. */
export function formatAccessMode(mode: AccessMode): string {
  return JSON.stringify({ accessMode: mode === "PUBLIC" ? PUBLIC_VALUE : PRIVATE_VALUE });
}

/** A reader that consults the database on every call, so every replica sees a change at once. */
export function createAccessModeReader(settings: SystemSettingRepository): AccessModeReader {
  return async () => parseAccessMode(await settings.get(ACCESS_SETTING));
}

/**
 * Sets the access mode once, on the instance's first boot: PUBLIC when an instance URL is
 * configured, PRIVATE otherwise. Later boots keep whatever is stored.
 */
export async function initAccessMode(settings: SystemSettingRepository, instanceUrl: string | undefined): Promise<AccessMode> {
  const stored = await settings.insertIfAbsent(ACCESS_SETTING, formatAccessMode(instanceUrl ? "PUBLIC" : "PRIVATE"));
  return parseAccessMode(stored);
}
