import autocannon from "autocannon";

/** One load run's figures. */
export interface LoadResult {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly non2xx: number;
}

/** What to send. */
export interface LoadTarget {
  readonly url: string;
  readonly method?: "GET" | "POST";
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
}

/** Drives `target` with `connections` keep-alive connections for `seconds` and reports throughput and latency (ms). */
export async function runLoad(target: LoadTarget, opts: { connections: number; seconds: number }): Promise<LoadResult> {
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
  };
}
