import { sql } from "kysely";
import type { Db } from "./database.js";
import type { UserRow } from "./user-repository.js";

/** What the instance profile shows, read in one round trip. */
export interface ProfileState {
  /** The first admin (lowest id), the instance owner. */
  readonly admin: UserRow | undefined;
  /** The stored ACCESS setting value, if any. */
  readonly accessSetting: string | undefined;
  /** Whether any user exists (false means the instance still needs setting up). */
  readonly hasUsers: boolean;
}

/** Reads the profile state with a single query: GetInstanceProfile is on every page load. */
export async function loadProfileState(db: Db): Promise<ProfileState> {
  const { rows } = await sql<UserRow & { access_setting: string | null; has_users: boolean; admin_id: number | null }>`
    SELECT
      (SELECT value FROM system_setting WHERE name = 'ACCESS') AS access_setting,
      EXISTS (SELECT 1 FROM "user") AS has_users,
      a.id AS admin_id, a.*
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (SELECT * FROM "user" WHERE role = 'ADMIN' ORDER BY id LIMIT 1) AS a ON TRUE
  `.execute(db);
  const row = rows[0]!;
  const { access_setting, has_users, admin_id, ...admin } = row;
  return {
    admin: admin_id === null ? undefined : (admin as UserRow),
    accessSetting: access_setting ?? undefined,
    hasUsers: has_users,
  };
}
