import { randomUUID } from "node:crypto";
import type { SystemSettingRepository } from "../store/system-setting-repository.js";

/** `system_setting` row holding `{"secretKey": "<uuid>", ...}` (spec §3.4). */
export const BASIC_SETTING = "BASIC";

/**
 * Returns the instance secret that signs every JWT, creating it on the first boot. Safe for
 * replicas booting at once: the row is inserted only if absent, and a BASIC row without a
 * `secretKey` (e.g. only a `schemaVersion`) gets one by compare-and-set, so every replica ends
 * up reading the same secret.
 */
export async function loadInstanceSecret(settings: SystemSettingRepository): Promise<string> {
  let stored = await settings.insertIfAbsent(BASIC_SETTING, JSON.stringify({ secretKey: randomUUID() }));
  for (let attempt = 0; attempt < 5; attempt++) {
    const parsed = parseBasic(stored);
    if (typeof parsed.secretKey === "string" && parsed.secretKey !== "") return parsed.secretKey;
    const next = JSON.stringify({ ...parsed, secretKey: randomUUID() });
    if (await settings.replaceIf(BASIC_SETTING, stored, next)) return parseBasic(next).secretKey as string;
    stored = (await settings.get(BASIC_SETTING)) ?? stored;
  }
  throw new Error("could not initialise the instance secret (BASIC setting keeps changing)");
}

function parseBasic(value: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
