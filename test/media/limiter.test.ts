import { createLimiter, LimiterFullError } from "../../src/media/limiter.js";

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("limiter", () => {
  test("never runs more than `concurrency` tasks at once and runs them all", async () => {
    const limiter = createLimiter({ concurrency: 3 });
    let running = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        limiter.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await tick();
          running--;
          return i;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(peak).toBe(3);
    expect(limiter.active).toBe(0);
    expect(limiter.pending).toBe(0);
  });

  test("waiting tasks start in arrival order", async () => {
    const limiter = createLimiter({ concurrency: 1 });
    const order: number[] = [];
    await Promise.all([1, 2, 3, 4].map((n) => limiter.run(async () => void order.push(n))));
    expect(order).toEqual([1, 2, 3, 4]);
  });

  test("a failing or throwing task frees its slot", async () => {
    const limiter = createLimiter({ concurrency: 1 });
    await expect(limiter.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(
      limiter.run(() => {
        throw new Error("sync boom");
      }),
    ).rejects.toThrow("sync boom");
    await expect(limiter.run(async () => "ok")).resolves.toBe("ok");
  });

  test("a task aborted while waiting never starts; a running one is not interrupted", async () => {
    const limiter = createLimiter({ concurrency: 1 });
    let release!: () => void;
    const first = limiter.run(() => new Promise<string>((r) => (release = () => r("first"))));
    const controller = new AbortController();
    let started = false;
    const second = limiter.run(async () => void (started = true), controller.signal);
    expect(limiter.pending).toBe(1);
    controller.abort(new Error("cancelled"));
    await expect(second).rejects.toThrow("cancelled");
    expect(limiter.pending).toBe(0);
    release();
    await expect(first).resolves.toBe("first");
    expect(started).toBe(false);
    await expect(limiter.run(async () => 1, AbortSignal.abort(new Error("already")))).rejects.toThrow("already");
  });

  test("maxQueue refuses tasks beyond the queue bound", async () => {
    const limiter = createLimiter({ concurrency: 1, maxQueue: 1 });
    let release!: () => void;
    const first = limiter.run(() => new Promise<void>((r) => (release = r)));
    const second = limiter.run(async () => "queued");
    await expect(limiter.run(async () => "third")).rejects.toBeInstanceOf(LimiterFullError);
    release();
    await first;
    await expect(second).resolves.toBe("queued");
  });

  test("refuses a concurrency below 1", () => {
    expect(() => createLimiter({ concurrency: 0 })).toThrow(RangeError);
  });
});
