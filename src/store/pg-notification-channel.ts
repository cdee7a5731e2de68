import { sql } from "kysely";
import type pg from "pg";
import type { Db } from "./database.js";

/**
 * A broadcast channel between the replicas sharing one database: every payload published by any
 * of them reaches every subscriber of every one of them (the publisher's own included).
 * Delivery is at most once: payloads published while a replica's listening connection is down
 * never reach it, and `onInterrupted` tells it so.
 */
export interface NotificationChannel {
  /** Sends `payload` (at most 7,999 bytes of UTF-8, Postgres' limit) to every replica. */
  publish(payload: string): Promise<void>;
  /** Calls `listener` with every payload received from now on; answers the unsubscribe function. */
  subscribe(listener: (payload: string) => void): () => void;
  /** Stops listening and reconnecting. */
  close(): Promise<void>;
}

/** Options of {@link createPostgresNotificationChannel}. */
export interface PostgresNotificationChannelOptions {
  /** Connection URL of the dedicated LISTEN connection. */
  readonly dsn: string;
  /** Publishes through the pool (`pg_notify`), so publishing never waits for the listener. */
  readonly db: Db;
  /** Channel name: lowercase letters, digits and underscores. Default `memos_events`. */
  readonly channel?: string;
  /** The listening connection was lost: payloads may have been missed until `onListening`. */
  readonly onInterrupted?: (err: unknown) => void;
  /** The listening connection is (again) up. */
  readonly onListening?: () => void;
  /** First reconnect delay, doubled per failed attempt up to `maxReconnectMs`. Default 250 ms. */
  readonly minReconnectMs?: number;
  /** Default 10 s. */
  readonly maxReconnectMs?: number;
}

/** Largest NOTIFY payload Postgres accepts (8000 bytes including the terminator). */
export const MAX_NOTIFY_PAYLOAD_BYTES = 7999;

/**
 * Postgres LISTEN/NOTIFY as a {@link NotificationChannel}. One dedicated client (outside the
 * pool: a pooled connection would be handed to other queries) LISTENs, with TCP keep-alive so a
 * dead server is noticed; when it fails or ends it is replaced, with exponential back-off, until
 * `close`. Resolves once the first LISTEN is in place, so nothing published after start-up is
 * missed; rejects if that first connection fails (the database is unreachable).
 */
export async function createPostgresNotificationChannel(options: PostgresNotificationChannelOptions): Promise<NotificationChannel> {
  const channel = options.channel ?? "memos_events";
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`invalid notification channel name: ${channel}`);
  const { default: pgModule } = await import("pg");
  const minDelay = options.minReconnectMs ?? 250;
  const maxDelay = options.maxReconnectMs ?? 10_000;
  const listeners = new Set<(payload: string) => void>();
  let client: pg.Client | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let delay = minDelay;

  const connect = async (): Promise<void> => {
    const c = new pgModule.Client({ connectionString: options.dsn, keepAlive: true, connectionTimeoutMillis: 5_000 });
    let lost = false;
    const onLost = (err: unknown) => {
      if (lost) return;
      lost = true;
      c.removeAllListeners("notification");
      // Keep a listener: a late "error" from a dropped socket must not crash the process.
      c.on("error", () => {});
      void c.end().catch(() => {});
      if (client === c) client = undefined;
      if (closed) return;
      options.onInterrupted?.(err);
      scheduleReconnect();
    };
    c.on("error", onLost);
    c.on("end", () => onLost(new Error("listening connection ended")));
    c.on("notification", (msg) => {
      if (msg.channel !== channel || msg.payload === undefined) return;
      for (const listener of listeners) listener(msg.payload);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${channel}`);
    } catch (err) {
      lost = true;
      c.on("error", () => {});
      void c.end().catch(() => {});
      throw err;
    }
    if (closed) {
      await c.end().catch(() => {});
      return;
    }
    client = c;
    delay = minDelay;
    options.onListening?.();
  };

  const scheduleReconnect = () => {
    if (closed || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      connect().catch((err: unknown) => {
        delay = Math.min(delay * 2, maxDelay);
        if (!closed) options.onInterrupted?.(err);
        scheduleReconnect();
      });
    }, delay);
    timer.unref();
  };

  await connect();

  return {
    async publish(payload) {
      if (Buffer.byteLength(payload, "utf8") > MAX_NOTIFY_PAYLOAD_BYTES) throw new Error("notification payload too large");
      await sql`SELECT pg_notify(${channel}, ${payload})`.execute(options.db);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      const c = client;
      client = undefined;
      if (c !== undefined) {
        c.removeAllListeners("end");
        c.on("error", () => {});
        await c.end().catch(() => {});
      }
    },
  };
}
