import type { SignInThrottleRepository, ThrottleRule } from "../store/sign-in-throttle-repository.js";

/**
 * Thresholds of {@link createSignInThrottle}. Defaults:
 * - per username: 5 failures within 15 minutes lock that username for 15 minutes;
 * - per client address: 20 failures within 15 minutes lock that address for 15 minutes;
 * - before that, failed answers are slowed: from the 3rd failure of a username 250 ms, doubling
 *   per failure up to 2 s, and 1 s from the 10th failure of an address.
 */
export interface SignInThrottleOptions {
  readonly repository: SignInThrottleRepository;
  readonly clock?: () => number;
  readonly perUsername?: ThrottleRule;
  readonly perAddress?: ThrottleRule;
  /** Waits before a failed answer; injectable so tests and benchmarks need not sleep. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_USERNAME_RULE: ThrottleRule = { windowSeconds: 15 * 60, maxFailures: 5, lockSeconds: 15 * 60 };
export const DEFAULT_ADDRESS_RULE: ThrottleRule = { windowSeconds: 15 * 60, maxFailures: 20, lockSeconds: 15 * 60 };

/** Failed-sign-in throttle. State lives in the database, so every replica enforces the same limits. */
export interface SignInThrottle {
  /** Whether a sign-in may be attempted now (one read of both counters). */
  check(username: string, address: string): Promise<ThrottleVerdict>;
  /** Counts a failure for both keys and waits the slow-down delay before returning. */
  failure(username: string, address: string): Promise<void>;
  /**
   * A successful sign-in clears the username's counter (not the address's: one valid account
   * must not let an address reset its count between guesses at other accounts). Given the
   * verdict of the same attempt, it skips the write when there was no counter to clear.
   */
  success(username: string, verdict?: ThrottleVerdict): Promise<void>;
}

/** The outcome of {@link SignInThrottle.check}. */
export interface ThrottleVerdict {
  /** Seconds until the lock ends, when a lock holds; `undefined` when sign-in may go ahead. */
  readonly retryAfterSeconds: number | undefined;
  /** Whether the username had a failure counter when checked. */
  readonly usernameCounted: boolean;
}

const userKey = (username: string) => `user:${username.slice(0, 256)}`;
const addressKey = (address: string) => `ip:${address.slice(0, 128)}`;

export function createSignInThrottle(options: SignInThrottleOptions): SignInThrottle {
  const repo = options.repository;
  const clock = options.clock ?? Date.now;
  const perUsername = options.perUsername ?? DEFAULT_USERNAME_RULE;
  const perAddress = options.perAddress ?? DEFAULT_ADDRESS_RULE;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const nowSeconds = () => Math.floor(clock() / 1000);
  let lastPrune = 0;
  return {
    async check(username, address) {
      const now = nowSeconds();
      const states = await repo.get([userKey(username), addressKey(address)]);
      let wait = 0;
      for (const s of states) if (s.lockedUntilTs !== null && s.lockedUntilTs > now) wait = Math.max(wait, s.lockedUntilTs - now);
      return { retryAfterSeconds: wait > 0 ? wait : undefined, usernameCounted: states.some((s) => s.key === userKey(username)) };
    },
    async failure(username, address) {
      const now = nowSeconds();
      const [user, addr] = await Promise.all([
        repo.recordFailure(userKey(username), now, perUsername),
        repo.recordFailure(addressKey(address), now, perAddress),
      ]);
      if (now - lastPrune >= 60) {
        lastPrune = now;
        await repo.prune(now, Math.max(perUsername.windowSeconds, perAddress.windowSeconds));
      }
      const userDelay = user.failures >= 3 ? Math.min(2000, 250 * 2 ** (user.failures - 3)) : 0;
      const addressDelay = addr.failures >= 10 ? 1000 : 0;
      const delay = Math.max(userDelay, addressDelay);
      if (delay > 0) await sleep(delay);
    },
    async success(username, verdict) {
      if (verdict === undefined || verdict.usernameCounted) await repo.reset(userKey(username));
    },
  };
}
