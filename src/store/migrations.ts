import { sql, type Kysely, type Migration, type MigrationProvider } from "kysely";

/** SQL default for "now" in Unix seconds. */
const EPOCH = "(extract(epoch from now())::bigint)";

/** Runs a script of `;`-separated DDL statements one by one (PGlite's extended protocol takes one at a time). */
async function runStatements(db: Kysely<unknown>, script: string): Promise<void> {
  for (const statement of script.split(";").map((s) => s.trim()).filter(Boolean)) {
    await sql.raw(statement).execute(db);
  }
}

/**
 * Schema migrations, applied in name order at start-up. A migration is frozen once it has
 * landed: change the schema by adding a new one, never by editing an old one.
 */
const migrations: Record<string, Migration> = {
  // The reference schema (spec §7). Timestamps are Unix seconds; JSON payloads are protobuf-JSON.
  "0001_reference_schema": {
    async up(db: Kysely<unknown>) {
      await runStatements(db, `
        CREATE TABLE system_setting (
          name TEXT NOT NULL PRIMARY KEY,
          value TEXT NOT NULL,
          description TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE "user" (
          id SERIAL PRIMARY KEY,
          created_ts BIGINT NOT NULL DEFAULT ${EPOCH},
          updated_ts BIGINT NOT NULL DEFAULT ${EPOCH},
          row_status TEXT NOT NULL DEFAULT 'NORMAL',
          username TEXT COLLATE "C" NOT NULL UNIQUE,
          role TEXT NOT NULL DEFAULT 'USER',
          email TEXT NOT NULL DEFAULT '',
          nickname TEXT NOT NULL DEFAULT '',
          password_hash TEXT NOT NULL,
          avatar_url TEXT NOT NULL DEFAULT '',
          description TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE user_setting (
          user_id INTEGER NOT NULL,
          key TEXT NOT NULL,
          value TEXT NOT NULL,
          UNIQUE (user_id, key)
        );
        CREATE TABLE memo (
          id SERIAL PRIMARY KEY,
          uid TEXT NOT NULL UNIQUE,
          creator_id INTEGER NOT NULL,
          created_ts BIGINT NOT NULL DEFAULT ${EPOCH},
          updated_ts BIGINT NOT NULL DEFAULT ${EPOCH},
          row_status TEXT NOT NULL DEFAULT 'NORMAL',
          content TEXT NOT NULL,
          visibility TEXT NOT NULL DEFAULT 'PRIVATE',
          pinned BOOLEAN NOT NULL DEFAULT FALSE,
          payload JSONB NOT NULL DEFAULT '{}'
        );
        CREATE INDEX idx_memo_creator_id ON memo (creator_id);
        CREATE INDEX idx_memo_created_ts_id ON memo (created_ts DESC, id DESC);
        CREATE TABLE memo_relation (
          memo_id INTEGER NOT NULL,
          related_memo_id INTEGER NOT NULL,
          type TEXT NOT NULL,
          UNIQUE (memo_id, related_memo_id, type)
        );
        CREATE INDEX idx_memo_relation_related ON memo_relation (related_memo_id, type);
        CREATE TABLE attachment (
          id SERIAL PRIMARY KEY,
          uid TEXT NOT NULL UNIQUE,
          creator_id INTEGER NOT NULL,
          created_ts BIGINT NOT NULL DEFAULT ${EPOCH},
          updated_ts BIGINT NOT NULL DEFAULT ${EPOCH},
          filename TEXT NOT NULL,
          blob BYTEA,
          type TEXT NOT NULL DEFAULT '',
          size BIGINT NOT NULL DEFAULT 0,
          memo_id INTEGER DEFAULT NULL,
          storage_type TEXT NOT NULL DEFAULT '',
          reference TEXT NOT NULL DEFAULT '',
          payload TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX idx_attachment_creator_id ON attachment (creator_id);
        CREATE INDEX idx_attachment_memo_id ON attachment (memo_id);
        CREATE TABLE reaction (
          id SERIAL PRIMARY KEY,
          created_ts BIGINT NOT NULL DEFAULT ${EPOCH},
          creator_id INTEGER NOT NULL,
          memo_id INTEGER NOT NULL,
          reaction_type TEXT NOT NULL,
          UNIQUE (creator_id, memo_id, reaction_type)
        );
        CREATE INDEX idx_reaction_memo_id ON reaction (memo_id);
        CREATE TABLE memo_share (
          id SERIAL PRIMARY KEY,
          uid TEXT NOT NULL UNIQUE,
          memo_id INTEGER NOT NULL REFERENCES memo(id) ON DELETE CASCADE,
          creator_id INTEGER NOT NULL,
          created_ts BIGINT NOT NULL DEFAULT ${EPOCH},
          expires_ts BIGINT DEFAULT NULL
        );
        CREATE INDEX idx_memo_share_memo_id ON memo_share (memo_id);
        CREATE TABLE inbox (
          id SERIAL PRIMARY KEY,
          created_ts BIGINT NOT NULL DEFAULT ${EPOCH},
          sender_id INTEGER NOT NULL,
          receiver_id INTEGER NOT NULL,
          status TEXT NOT NULL,
          message TEXT NOT NULL
        );
        CREATE INDEX idx_inbox_receiver_id ON inbox (receiver_id);
        CREATE TABLE idp (
          id SERIAL PRIMARY KEY,
          uid TEXT NOT NULL UNIQUE,
          name TEXT NOT NULL,
          type TEXT NOT NULL,
          identifier_filter TEXT NOT NULL DEFAULT '',
          config JSONB NOT NULL DEFAULT '{}'
        );
        CREATE TABLE user_identity (
          id SERIAL PRIMARY KEY,
          user_id INTEGER NOT NULL,
          provider TEXT NOT NULL,
          extern_uid TEXT NOT NULL,
          created_ts BIGINT NOT NULL DEFAULT ${EPOCH},
          updated_ts BIGINT NOT NULL DEFAULT ${EPOCH},
          UNIQUE (provider, extern_uid),
          UNIQUE (user_id, provider)
        );
        CREATE INDEX idx_user_identity_user_id ON user_identity (user_id);
      `);
    },
  },
  // Auth state of our own (beyond the reference, which keeps it in user_setting JSON): refresh
  // tokens as rows (rotation with reuse detection), personal access tokens by SHA-256 hash, and
  // the sign-in throttle shared by every replica.
  "0002_auth_tokens_and_sign_in_throttle": {
    async up(db: Kysely<unknown>) {
      await runStatements(db, `
        CREATE TABLE refresh_token (
          id UUID PRIMARY KEY,
          family_id UUID NOT NULL,
          user_id INTEGER NOT NULL,
          created_ts BIGINT NOT NULL DEFAULT ${EPOCH},
          expires_ts BIGINT NOT NULL,
          revoked_ts BIGINT DEFAULT NULL,
          rotated_to UUID DEFAULT NULL,
          user_agent TEXT NOT NULL DEFAULT '',
          ip TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX idx_refresh_token_family_id ON refresh_token (family_id);
        CREATE INDEX idx_refresh_token_user_id ON refresh_token (user_id);
        CREATE TABLE personal_access_token (
          id UUID PRIMARY KEY,
          user_id INTEGER NOT NULL,
          token_hash TEXT NOT NULL,
          description TEXT NOT NULL DEFAULT '',
          created_ts BIGINT NOT NULL DEFAULT ${EPOCH},
          expires_ts BIGINT DEFAULT NULL,
          last_used_ts BIGINT DEFAULT NULL
        );
        CREATE UNIQUE INDEX idx_personal_access_token_hash ON personal_access_token (token_hash);
        CREATE INDEX idx_personal_access_token_user_id ON personal_access_token (user_id);
        CREATE TABLE sign_in_throttle (
          key TEXT COLLATE "C" PRIMARY KEY,
          failures INTEGER NOT NULL,
          window_start_ts BIGINT NOT NULL,
          locked_until_ts BIGINT DEFAULT NULL
        );
      `);
    },
  },
  // ListMemos pages by key (keyset cursors), so every supported order needs an index whose
  // order matches it: the time column alone or behind `pinned`, with the `id` tie-breaker; the
  // reference's (created_ts, id) index cannot serve row_status-scoped or pinned-first orders.
  "0003_memo_list_indexes": {
    async up(db: Kysely<unknown>) {
      await runStatements(db, `
        CREATE INDEX idx_memo_status_created ON memo (row_status, created_ts DESC, id DESC);
        CREATE INDEX idx_memo_status_updated ON memo (row_status, updated_ts DESC, id DESC);
        CREATE INDEX idx_memo_status_pinned_created ON memo (row_status, pinned DESC, created_ts DESC, id DESC);
        CREATE INDEX idx_memo_status_pinned_updated ON memo (row_status, pinned DESC, updated_ts DESC, id DESC);
        CREATE INDEX idx_memo_creator_status_pinned_created ON memo (creator_id, row_status, pinned DESC, created_ts DESC, id DESC)
      `);
    },
  },
};

/** Serves the in-code migrations to Kysely's Migrator. */
export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
