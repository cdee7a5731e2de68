import type { ColumnType, Generated } from "kysely";

/** Unix seconds, stored as BIGINT (spec §2.3). Defaults to now when omitted on insert. */
type Seconds = ColumnType<number, number | undefined, number>;

/** `system_setting`: one row per instance setting; `value` is the setting's protobuf-JSON. */
export interface SystemSettingTable {
  name: string;
  value: string;
  description: ColumnType<string, string | undefined, string>;
}

/** `"user"`: accounts. `username` is byte-wise unique (COLLATE "C"). */
export interface UserTable {
  id: Generated<number>;
  created_ts: Seconds;
  updated_ts: Seconds;
  row_status: ColumnType<string, string | undefined, string>;
  username: string;
  role: ColumnType<string, string | undefined, string>;
  email: ColumnType<string, string | undefined, string>;
  nickname: ColumnType<string, string | undefined, string>;
  password_hash: string;
  avatar_url: ColumnType<string, string | undefined, string>;
  description: ColumnType<string, string | undefined, string>;
}

/** `user_setting`: per-user settings as protobuf-JSON, unique per (user, key). */
export interface UserSettingTable {
  user_id: number;
  key: string;
  value: string;
}

/** `memo`: notes. `payload` holds derived data (tags, property, location) as JSON. */
export interface MemoTable {
  id: Generated<number>;
  uid: string;
  creator_id: number;
  created_ts: Seconds;
  updated_ts: Seconds;
  row_status: ColumnType<string, string | undefined, string>;
  content: string;
  visibility: ColumnType<string, string | undefined, string>;
  pinned: ColumnType<boolean, boolean | undefined, boolean>;
  payload: ColumnType<unknown, string | undefined, string>;
}

/** `memo_relation`: REFERENCE and COMMENT edges (for a comment, memo_id is the comment). */
export interface MemoRelationTable {
  memo_id: number;
  related_memo_id: number;
  type: string;
}

/** `attachment`: file metadata; bytes live in the blob store (or inline in `blob`). */
export interface AttachmentTable {
  id: Generated<number>;
  uid: string;
  creator_id: number;
  created_ts: Seconds;
  updated_ts: Seconds;
  filename: string;
  blob: ColumnType<Uint8Array | null, Uint8Array | null | undefined, Uint8Array | null>;
  type: ColumnType<string, string | undefined, string>;
  size: ColumnType<number, number | undefined, number>;
  memo_id: ColumnType<number | null, number | null | undefined, number | null>;
  storage_type: ColumnType<string, string | undefined, string>;
  reference: ColumnType<string, string | undefined, string>;
  payload: ColumnType<string, string | undefined, string>;
}

/** `reaction`: one emoji per (creator, memo, type). */
export interface ReactionTable {
  id: Generated<number>;
  created_ts: Seconds;
  creator_id: number;
  memo_id: number;
  reaction_type: string;
}

/** `memo_share`: share links; `uid` is the share token. */
export interface MemoShareTable {
  id: Generated<number>;
  uid: string;
  memo_id: number;
  creator_id: number;
  created_ts: Seconds;
  expires_ts: ColumnType<number | null, number | null | undefined, number | null>;
}

/** `inbox`: notifications for a receiver. `message` is protobuf-JSON. */
export interface InboxTable {
  id: Generated<number>;
  created_ts: Seconds;
  sender_id: number;
  receiver_id: number;
  status: string;
  message: string;
}

/** `idp`: identity providers for SSO. */
export interface IdpTable {
  id: Generated<number>;
  uid: string;
  name: string;
  type: string;
  identifier_filter: ColumnType<string, string | undefined, string>;
  config: ColumnType<unknown, string | undefined, string>;
}

/** `user_identity`: links between users and SSO identities. */
export interface UserIdentityTable {
  id: Generated<number>;
  user_id: number;
  provider: string;
  extern_uid: string;
  created_ts: Seconds;
  updated_ts: Seconds;
}

/** `refresh_token`: one row per issued refresh token; `id` is the JWT's `tid`. */
export interface RefreshTokenTable {
  id: string;
  /** The sign-in this token descends from; rotation keeps it, reuse revokes all of it. */
  family_id: string;
  user_id: number;
  created_ts: Seconds;
  expires_ts: number;
  revoked_ts: ColumnType<number | null, number | null | undefined, number | null>;
  /** The token this one was rotated into; set means "already used". */
  rotated_to: ColumnType<string | null, string | null | undefined, string | null>;
  user_agent: ColumnType<string, string | undefined, string>;
  ip: ColumnType<string, string | undefined, string>;
}

/** `personal_access_token`: long-lived API tokens, stored only as a SHA-256 hex hash. */
export interface PersonalAccessTokenTable {
  id: string;
  user_id: number;
  token_hash: string;
  description: ColumnType<string, string | undefined, string>;
  created_ts: Seconds;
  expires_ts: ColumnType<number | null, number | null | undefined, number | null>;
  last_used_ts: ColumnType<number | null, number | null | undefined, number | null>;
}

/** `sign_in_throttle`: failed sign-in counters per `user:<name>` or `ip:<address>` key. */
export interface SignInThrottleTable {
  key: string;
  failures: number;
  window_start_ts: number;
  locked_until_ts: ColumnType<number | null, number | null | undefined, number | null>;
}

/** The whole database, as Kysely sees it. Row types never leave `src/store/`. */
export interface Database {
  system_setting: SystemSettingTable;
  user: UserTable;
  user_setting: UserSettingTable;
  memo: MemoTable;
  memo_relation: MemoRelationTable;
  attachment: AttachmentTable;
  reaction: ReactionTable;
  memo_share: MemoShareTable;
  inbox: InboxTable;
  idp: IdpTable;
  user_identity: UserIdentityTable;
  refresh_token: RefreshTokenTable;
  personal_access_token: PersonalAccessTokenTable;
  sign_in_throttle: SignInThrottleTable;
}
