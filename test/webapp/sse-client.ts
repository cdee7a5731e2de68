/** A test client of `GET /api/v1/sse` over a real socket, parsing the stream the way the web app does. */

/** One parsed `data:` event. */
export interface LiveEvent {
  readonly type: string;
  readonly name: string;
  readonly parent?: string;
}

export interface SseStream {
  readonly status: number;
  readonly headers: Headers;
  /** Every `data:` event so far, parsed. */
  readonly events: LiveEvent[];
  /** Every `:` comment line so far (heartbeats). */
  readonly comments: string[];
  /** Resolves when the server ended the stream (or it failed). */
  readonly ended: Promise<void>;
  /** Waits for an event matching `match` (default timeout 5 s). */
  next(match: (e: LiveEvent) => boolean, timeoutMs?: number): Promise<LiveEvent>;
  close(): void;
}

/** Opens the stream with `Authorization: Bearer <token>` (no header when `token` is undefined). */
export async function openSse(baseUrl: string, token: string | undefined, path = "/api/v1/sse"): Promise<SseStream> {
  const abort = new AbortController();
  const res = await fetch(baseUrl + path, {
    headers: { Accept: "text/event-stream", ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }) },
    signal: abort.signal,
  });
  const events: LiveEvent[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  let done = false;
  const ended = (async () => {
    if (res.body === null) return;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for (;;) {
        const { value, done: finished } = await reader.read();
        if (finished) break;
        buffer += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf("\n")) !== -1) {
          const line = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 1);
          if (line.startsWith(":")) comments.push(line);
          else if (line.startsWith("data: ")) events.push(JSON.parse(line.slice(6)) as LiveEvent);
        }
        notify();
      }
    } catch {
      // Aborted by close(), or the server dropped the connection.
    } finally {
      done = true;
      notify();
    }
  })();
  return {
    status: res.status,
    headers: res.headers,
    events,
    comments,
    ended,
    next(match, timeoutMs = 5000) {
      return new Promise<LiveEvent>((resolve, reject) => {
        const check = () => {
          const found = events.find(match);
          if (found !== undefined) {
            cleanup();
            resolve(found);
          } else if (done) {
            cleanup();
            reject(new Error(`stream ended without the event; got ${JSON.stringify(events)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching event in ${timeoutMs} ms; got ${JSON.stringify(events)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    close() {
      abort.abort();
    },
  };
}
