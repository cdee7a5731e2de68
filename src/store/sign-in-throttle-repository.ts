import { sql } from "kysely";
import type { Db } from "./database.js";

/** The state of one throttle key. */
export interface ThrottleState {
  readonly key: string;
  readonly failures: number;
  readonly windowStartTs: number;
  readonly lockedUntilTs: number | null;
}

/** Counting window and lock rule applied by {@link SignInThrottleRepository.recordFailure}. */
export interface ThrottleRule {
  /** Failures are counted in a fixed window of this many seconds from the first one. */
  readonly windowSeconds: number;
  /** Reaching this many failures in the window locks the key. */
  readonly maxFailures: number;
  /** How long a lock lasts, in seconds. */
  readonly lockSeconds: number;
}

/** Failed sign-in counters, shared by every replica through the database. */
export interface SignInThrottleRepository {
  get(keys: readonly string[]): Promise<ThrottleState[]>;
  /** Counts one failure for `key` in one atomic upsert and answers the new state. */
  recordFailure(key: string, now: number, rule: ThrottleRule): Promise<ThrottleState>;
  reset(key: string): Promise<void>;
  /** Deletes keys whose window and lock have both run out. */
  prune(now: number, windowSeconds: number): Promise<void>;
}

export function createSignInThrottleRepository(db: Db): SignInThrottleRepository {
  return {
    async get(keys) {
      if (keys.length === 0) return [];
      const rows = await db.selectFrom("sign_in_throttle").selectAll().where("key", "in", [...keys]).execute();
      return rows.map((r) => ({ key: r.key, failures: r.failures, windowStartTs: r.window_start_ts, lockedUntilTs: r.locked_until_ts }));
    },
    async recordFailure(key, now, rule) {
      // A window that has run out starts again at 1; reaching maxFailures sets the lock. One
      // statement, so concurrent failures on several replicas all count.
      const expired = sql<boolean>`sign_in_throttle.window_start_ts <= ${now - rule.windowSeconds}`;
      const failures = sql<number>`CASE WHEN ${expired} THEN 1 ELSE sign_in_throttle.failures + 1 END`;
      const result = await sql<{ key: string; failures: number; window_start_ts: number; locked_until_ts: number | null }>`
        INSERT INTO sign_in_throttle AS sign_in_throttle (key, failures, window_start_ts, locked_until_ts)
        VALUES (${key}, 1, ${now}, ${rule.maxFailures <= 1 ? now + rule.lockSeconds : null})
        ON CONFLICT (key) DO UPDATE SET
          failures = ${failures},
          window_start_ts = CASE WHEN ${expired} THEN ${now}::bigint ELSE sign_in_throttle.window_start_ts END,
          locked_until_ts = CASE WHEN ${failures} >= ${rule.maxFailures} THEN ${now + rule.lockSeconds}::bigint
                                 ELSE sign_in_throttle.locked_until_ts END
        RETURNING key, failures, window_start_ts, locked_until_ts`.execute(db);
      const r = result.rows[0]!;
      return {
        key: r.key,
        failures: Number(r.failures),
        windowStartTs: Number(r.window_start_ts),
        lockedUntilTs: r.locked_until_ts === null ? null : Number(r.locked_until_ts),
      };
    },
    async reset(key) {
      await db.deleteFrom("sign_in_throttle").where("key", "=", key).execute();
    },
    async prune(now, windowSeconds) {
      await db
        .deleteFrom("sign_in_throttle")
        .where("window_start_ts", "<=", now - windowSeconds)
        .where((eb) => eb.or([eb("locked_until_ts", "is", null), eb("locked_until_ts", "<=", now)]))
        .execute();
    },
  };
}
