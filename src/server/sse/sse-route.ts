import type { IdentityResolver } from "../../auth/identity.js";
import type { Logger } from "../../logger.js";
import type { LiveEventHub, LiveEventMessage } from "../../services/live-events.js";
import type { NodeRequest, RouteHandler } from "../http-handler.js";

/** Path of the live-refresh stream (spec §0). */
export const SSE_PATH = "/api/v1/sse";

/** Options of {@link createSseRoute}. */
export interface SseRouteOptions {
  readonly hub: LiveEventHub;
  /** The API's resolver: Bearer access token or personal access token (spec §1.3). */
  readonly resolver: IdentityResolver;
  /** The caller's role and state, read once per connection; `undefined` when the user is gone. */
  loadUser(userId: number): Promise<{ readonly role: string; readonly rowStatus: string } | undefined>;
  /** Interval of `:` comment lines that keep idle proxies from closing the stream. Default 15 s. */
  readonly heartbeatMs?: number;
  /**
   * Bytes a client may leave unread (the per-connection queue) before it is dropped as too slow;
   * it reconnects and resyncs rather than the server buffering without bound. Default 256 KiB.
   */
  readonly maxBufferedBytes?: number;
  readonly logger?: Pick<Logger, "info">;
}

const UNAUTHENTICATED_BODY = JSON.stringify({ code: 16, message: "authentication required", details: [] });

/**
 * `GET /api/v1/sse`: the web app's live-refresh stream. Bearer authentication only (no cookies,
 * as the reference); anonymous or invalid credentials get 401 with a Status body. The stream is
 * `text/event-stream` with one `data: {"type","name"[,"parent"]}` event per change the user may
 * read (filtered by the hub) and `:` heartbeat comments. The stream ends when the client goes,
 * when it falls `maxBufferedBytes` behind, when its access token expires (it reconnects with a
 * fresh one, so a revoked or archived account stops receiving), and on shutdown.
 */
export function createSseRoute(options: SseRouteOptions): RouteHandler {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxBuffered = options.maxBufferedBytes ?? 256 * 1024;

  return async (req, res) => {
    const url = req.url ?? "";
    if (url !== SSE_PATH && !url.startsWith(`${SSE_PATH}?`)) return false;
    if (req.method !== "GET") {
      res.statusCode = 405;
      res.setHeader("Allow", "GET");
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ code: 12, message: "Method Not Allowed", details: [] }));
      return true;
    }
    const identity = await options.resolver.resolve(headerOf(req, "authorization"));
    const user = identity === undefined ? undefined : await options.loadUser(identity.userId);
    if (identity === undefined || user === undefined || user.rowStatus !== "NORMAL") {
      res.statusCode = 401;
      res.setHeader("Content-Type", "application/json");
      res.setHeader("WWW-Authenticate", "Bearer");
      res.end(UNAUTHENTICATED_BODY);
      return true;
    }
    if (res.destroyed || req.destroyed) return true;

    res.statusCode = 200;
    res.setHeader("Content-Type", "text/event-stream");
    res.setHeader("Cache-Control", "no-cache, no-store, must-revalidate");
    // Proxies (nginx) must pass events through as they come, not buffer the response.
    res.setHeader("X-Accel-Buffering", "no");
    if (req.httpVersionMajor === 1) res.setHeader("Connection", "keep-alive");

    let open = true;
    const timers: NodeJS.Timeout[] = [];
    let unsubscribe = () => {};
    const finish = () => {
      if (!open) return;
      open = false;
      for (const timer of timers) clearTimeout(timer);
      unsubscribe();
    };
    const end = () => {
      if (!open) return;
      finish();
      res.end();
    };
    /** Writes a frame; a client this far behind is dropped (it reconnects and resyncs). */
    const write = (frame: string) => {
      if (!open || res.destroyed) return;
      if (res.writableLength > maxBuffered) {
        options.logger?.info({ userId: identity.userId, buffered: res.writableLength }, "live event stream dropped: client too slow");
        finish();
        res.destroy();
        return;
      }
      res.write(frame);
    };
    // The response's "close" is the client going away (or the stream ending): the one cleanup signal.
    res.once("close", finish);

    write(": connected\n\n");
    const heartbeat = setInterval(() => write(": heartbeat\n\n"), heartbeatMs);
    heartbeat.unref();
    timers.push(heartbeat);
    const exp = identity.claims?.exp;
    if (typeof exp === "number") {
      const untilExpiry = exp * 1000 - Date.now();
      // setTimeout's limit is 2^31-1 ms; a token that far out simply never ends the stream.
      if (untilExpiry < 2 ** 31 - 1) {
        const expiry = setTimeout(end, Math.max(0, untilExpiry));
        expiry.unref();
        timers.push(expiry);
      }
    }
    unsubscribe = options.hub.subscribe({
      userId: identity.userId,
      role: user.role,
      deliver: (message: LiveEventMessage) => write(`data: ${JSON.stringify(message)}\n\n`),
      close: end,
    });
    if (!open) unsubscribe();
    return true;
  };
}

function headerOf(req: NodeRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

