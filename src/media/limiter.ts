/** Options of {@link createLimiter}. */
export interface LimiterOptions {
  /** How many tasks may run at once; at least 1. */
  readonly concurrency: number;
  /**
   * How many tasks may wait for a slot; a task beyond that fails at once with
   * {@link LimiterFullError}. @default Infinity (callers bound the queue with their own timeouts
   * or abort signals)
   */
  readonly maxQueue?: number;
}

/**
 * A counting semaphore for CPU- and memory-heavy work (sharp decodes, thumbnail generation):
 * at most `concurrency` tasks run at a time, the rest wait in FIFO order. Process-local by nature:
 * it bounds the work of one replica, which is what protects that replica's memory.
 */
export interface Limiter {
  /**
   * Runs `task` once a slot is free and settles with its outcome. When `signal` aborts while the
   * task is still waiting, the task never starts and `run` rejects with the signal's reason; once
   * started, a task runs to its end (sharp work cannot be interrupted half-way).
   */
  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Tasks running now. */
  readonly active: number;
  /** Tasks waiting for a slot. */
  readonly pending: number;
}

/** Thrown by {@link Limiter.run} when the wait queue is full. */
export class LimiterFullError extends Error {
  override readonly name = "LimiterFullError";
  constructor(readonly maxQueue: number) {
    super(`too many queued tasks (limit ${maxQueue})`);
  }
}

interface Waiter {
  start(): void;
}

export function createLimiter(options: LimiterOptions): Limiter {
  const { concurrency } = options;
  const maxQueue = options.maxQueue ?? Infinity;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`limiter concurrency must be a positive integer, got ${concurrency}`);
  }
  let active = 0;
  const queue: Waiter[] = [];

  const release = (): void => {
    active--;
    const next = queue.shift();
    if (next !== undefined) next.start();
  };

  return {
    get active() {
      return active;
    },
    get pending() {
      return queue.length;
    },
    run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
      if (signal?.aborted) return Promise.reject(signal.reason);
      const execute = (): Promise<T> => {
        active++;
        let result: Promise<T>;
        try {
          result = task();
        } catch (err) {
          result = Promise.reject(err);
        }
        return result.finally(release);
      };
      if (active < concurrency) return execute();
      if (queue.length >= maxQueue) return Promise.reject(new LimiterFullError(maxQueue));
      return new Promise<T>((resolve, reject) => {
        const waiter: Waiter = {
          start() {
            signal?.removeEventListener("abort", onAbort);
            execute().then(resolve, reject);
          },
        };
        const onAbort = (): void => {
          const at = queue.indexOf(waiter);
          if (at >= 0) queue.splice(at, 1);
          reject(signal!.reason);
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        queue.push(waiter);
      });
    },
  };
}
