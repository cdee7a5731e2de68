import { availableParallelism } from "node:os";
import { hash as bcryptHash, verify as bcryptVerify } from "@node-rs/bcrypt";

/** Hashes and checks passwords with bcrypt (spec §3.3: cost 10; existing `$2a$`/`$2b$` hashes verify). */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /**
   * Checks `password` against `hash`. With no hash (unknown user) it still spends one bcrypt
   * verification on a dummy hash and answers false, so response time does not reveal whether a
   * username exists.
   */
  verify(password: string, hash: string | undefined): Promise<boolean>;
}

/** Options of {@link createPasswordHasher}. */
export interface PasswordHasherOptions {
  /** bcrypt cost. Default 10, the reference server's. */
  readonly cost?: number;
  /**
   * Most bcrypt computations running at once. bcrypt runs on libuv's thread pool (native code,
   * never on the event loop), but each computation keeps a core busy for about 50 ms at cost 10,
   * so an unbounded burst of sign-ins would starve the event loop of CPU. Default: the number of
   * cores less one, at least one.
   */
  readonly concurrency?: number;
}

export function createPasswordHasher(options: PasswordHasherOptions = {}): PasswordHasher {
  const cost = options.cost ?? 10;
  const limit = createLimiter(options.concurrency ?? Math.max(1, availableParallelism() - 1));
  let dummy: Promise<string> | undefined;
  const hash = (password: string) => limit(() => bcryptHash(password, { cost }));
  return {
    hash,
    async verify(password, stored) {
      if (stored === undefined) {
        dummy ??= hash("memos-dummy-password");
        const target = await dummy;
        await limit(() => bcryptVerify(password, target));
        return false;
      }
      return limit(() => bcryptVerify(password, stored));
    },
  };
}

/** Runs at most `n` tasks at once; the rest wait in FIFO order. */
function createLimiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next !== undefined) next();
      else running--;
    }
  };
}
