import { randomUUID } from "node:crypto";
import type { Logger } from "../logger.js";
import type { Db } from "../store/database.js";
import { createMemoRepository } from "../store/memo-repository.js";
import { createPostgresNotificationChannel, type NotificationChannel } from "../store/pg-notification-channel.js";
import { audienceIncludes, audienceOf, type MemoAudience } from "./memo-audience.js";
import type { MemoEvent, MemoEventBus, MemoEventType } from "./memo-events.js";

/** What a live-event client receives: the web app parses exactly these fields (`parent` only for comments). */
export interface LiveEventMessage {
  readonly type: MemoEventType;
  readonly name: string;
  readonly parent?: string;
}

/** A connected client: who it is, and how to hand it a message or drop it. */
export interface LiveSubscriber {
  readonly userId: number;
  readonly role: string;
  /** Hands over one message the user may see; must not throw. */
  deliver(message: LiveEventMessage): void;
  /** Ends the client's stream (shutdown, or the hub lost events and the client should resync). */
  close(): void;
}

/** Fans memo changes out to the connected clients of every replica, each filtered by who may read the memo. */
export interface LiveEventHub {
  /** Registers a client; answers the unsubscribe function. After `close`, the client is closed at once. */
  subscribe(subscriber: LiveSubscriber): () => void;
  /** Connected clients on this replica. */
  size(): number;
  /** Resolves once every change received so far is delivered locally and published to the other replicas. */
  idle(): Promise<void>;
  /**
   * Ends every client's stream (events may have been missed, e.g. the replica lost its channel
   * connection): each client reconnects, to any replica, and starts over.
   */
  interrupt(): void;
  /** Closes every client and stops listening (idempotent). */
  close(): Promise<void>;
}

/** Options of {@link createLiveEventHub}. */
export interface LiveEventHubOptions {
  /** This replica's memo changes. */
  readonly bus: MemoEventBus;
  /** Read-access facts of a memo by name (`memos/{uid}`), `undefined` when it is gone. One query. */
  resolveAudience(name: string): Promise<MemoAudience | undefined>;
  /** Carries changes to and from the other replicas; without one (PGlite: one process) delivery is local only. */
  readonly channel?: NotificationChannel;
  readonly logger: Pick<Logger, "warn">;
}

/** One change as it travels between replicas (short keys: NOTIFY payloads are capped at 8000 bytes). */
interface WireEvent {
  /** Origin replica, to skip one's own changes coming back. */
  o: string;
  t: MemoEventType;
  n: string;
  p?: string;
  /** Actor user id: the only reader when the audience is unknown. */
  u: number;
  a?: MemoAudience;
}

const EVENT_TYPES = new Set<string>(["memo.created", "memo.updated", "memo.deleted", "memo.comment.created", "reaction.upserted", "reaction.deleted"]);

/**
 * The live-event hub behind `GET /api/v1/sse`. Each change of this replica (from the in-process
 * memo bus, after commit) is resolved once to its audience (who may read the memo, spec §6.3: the
 * publisher's facts when the event carries them, else one query), delivered to this replica's
 * clients that may read it, and published on the channel with the audience attached, so the other
 * replicas filter their clients without a query of their own. Changes are handled one at a time
 * in publish order. A change whose memo is gone and that carries no audience (a deletion the
 * publisher did not describe) reaches only its actor.
 */
export function createLiveEventHub(options: LiveEventHubOptions): LiveEventHub {
  const origin = randomUUID();
  const subscribers = new Set<LiveSubscriber>();
  let closed = false;
  let closing: Promise<void> | undefined;
  let tail: Promise<void> = Promise.resolve();

  const dispatch = (message: LiveEventMessage, audience: MemoAudience | undefined, actorId: number) => {
    for (const s of subscribers) {
      const allowed = audience === undefined ? s.userId === actorId : audienceIncludes(audience, s);
      if (allowed) s.deliver(message);
    }
  };

  const handleLocal = async (event: MemoEvent) => {
    try {
      const audience = event.audience ?? (await options.resolveAudience(event.name));
      const message: LiveEventMessage = { type: event.type, name: event.name, ...(event.parent === undefined ? {} : { parent: event.parent }) };
      dispatch(message, audience, event.actorId);
      if (options.channel !== undefined) {
        const wire: WireEvent = { o: origin, t: event.type, n: event.name, u: event.actorId, ...(event.parent === undefined ? {} : { p: event.parent }), ...(audience === undefined ? {} : { a: audience }) };
        await options.channel.publish(JSON.stringify(wire));
      }
    } catch (err) {
      options.logger.warn({ err, event: event.type, memo: event.name }, "failed to fan out a live event");
    }
  };

  const handleRemote = (payload: string) => {
    let wire: WireEvent;
    try {
      wire = JSON.parse(payload) as WireEvent;
    } catch {
      return;
    }
    if (wire.o === origin || !EVENT_TYPES.has(wire.t) || typeof wire.n !== "string" || typeof wire.u !== "number") return;
    dispatch({ type: wire.t, name: wire.n, ...(typeof wire.p === "string" ? { parent: wire.p } : {}) }, wire.a, wire.u);
  };

  const unsubscribeBus = options.bus.subscribe((event) => {
    if (closed) return;
    tail = tail.then(() => handleLocal(event));
  });
  const unsubscribeChannel = options.channel?.subscribe(handleRemote);

  return {
    subscribe(subscriber) {
      if (closed) {
        subscriber.close();
        return () => {};
      }
      subscribers.add(subscriber);
      return () => {
        subscribers.delete(subscriber);
      };
    },
    size: () => subscribers.size,
    idle: () => tail,
    interrupt() {
      const all = [...subscribers];
      subscribers.clear();
      for (const s of all) s.close();
    },
    close() {
      return (closing ??= (async () => {
        closed = true;
        unsubscribeBus();
        unsubscribeChannel?.();
        const all = [...subscribers];
        subscribers.clear();
        for (const s of all) s.close();
        await tail;
        await options.channel?.close();
      })());
    },
  };
}

/** Options of {@link openLiveEventHub}. */
export interface OpenLiveEventHubOptions {
  readonly db: Db;
  /** The Postgres URL: replicas share changes over LISTEN/NOTIFY. Without one (PGlite), delivery is in-process. */
  readonly dsn?: string;
  readonly bus: MemoEventBus;
  readonly logger: Pick<Logger, "warn" | "info">;
}

/**
 * The hub of one replica: audiences read through the memo repository, and on Postgres a
 * LISTEN/NOTIFY channel; when that channel's connection drops, every client is sent away to
 * reconnect (it may have missed changes meanwhile).
 */
export async function openLiveEventHub(options: OpenLiveEventHubOptions): Promise<LiveEventHub> {
  const memos = createMemoRepository(options.db);
  let hub: LiveEventHub | undefined;
  const channel =
    options.dsn === undefined
      ? undefined
      : await createPostgresNotificationChannel({
          dsn: options.dsn,
          db: options.db,
          onInterrupted: (err) => {
            options.logger.warn({ err }, "live events: lost the LISTEN connection; reconnecting");
            hub?.interrupt();
          },
          onListening: () => options.logger.info({}, "live events: listening"),
        });
  hub = createLiveEventHub({
    bus: options.bus,
    channel,
    logger: options.logger,
    async resolveAudience(name) {
      const uid = /^memos\/([^/]+)$/.exec(name)?.[1];
      if (uid === undefined) return undefined;
      const record = await memos.findByUid(uid);
      return record === undefined ? undefined : audienceOf(record);
    },
  });
  return hub;
}
