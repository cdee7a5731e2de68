import autocannon from "autocannon";

/** One load run's figures. */
export interface LoadResult {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly non2xx: number;
  /** The server's CPU time (user + system) per request in microseconds, when it was metered. */
  readonly cpuUsPerReq?: number;
}

/** What to send. */
export interface LoadTarget {
  readonly url: string;
  readonly method?: "GET" | "POST";
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
}

/**
 * Drives `target` with `connections` keep-alive connections for `seconds` and reports throughput
 * and latency (ms). With `serverCpuMs` (the server process's CPU time so far), also the server's
 * CPU time per request: a figure that, unlike throughput, barely moves when other processes
 * compete for the machine's cores.
 */
export async function runLoad(
  target: LoadTarget,
  opts: { connections: number; seconds: number; serverCpuMs?: () => number },
): Promise<LoadResult> {
  const cpuBefore = opts.serverCpuMs?.();
  const result = await autocannon({
    url: target.url,
    method: target.method ?? "GET",
    headers: target.headers,
    body: target.body,
    connections: opts.connections,
    duration: opts.seconds,
    pipelining: 1,
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    cpuUsPerReq: cpuBefore === undefined ? undefined : ((opts.serverCpuMs!() - cpuBefore) * 1000) / Math.max(1, result.requests.total),
  };
}
