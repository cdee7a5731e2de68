import { EventEmitter } from "node:events";
import type { MemoAudience } from "./memo-audience.js";

/** What happened, in the names the web app's live-refresh stream uses (spec §6.1 side effects). */
export type MemoEventType =
  | "memo.created"
  | "memo.updated"
  | "memo.deleted"
  | "memo.comment.created"
  | "reaction.upserted"
  | "reaction.deleted";

/**
 * One change, published after its transaction committed. `name` is the memo (`memos/{uid}`) the
 * change is about: for a comment, the comment; for a reaction, the reacted-to memo. `parent` is
 * the parent memo of a comment. `actorId` is the user who made the change.
 */
export interface MemoEvent {
  readonly type: MemoEventType;
  readonly name: string;
  readonly parent?: string;
  /** `memos/{uid}/reactions/{id}` for reaction events. */
  readonly reaction?: string;
  readonly actorId: number;
  /**
   * Who may read the memo (spec §6.3 facts, see `audienceOf`), when the publisher has them at hand.
   * Listeners that need it (the live-event stream) otherwise read the memo; set it on
   * `memo.deleted`, whose row is gone by then (without it only the actor hears of the deletion).
   */
  readonly audience?: MemoAudience;
}

/** Where MemoService reports changes. Publishing must not throw and must not block the caller. */
export interface MemoEvents {
  publish(event: MemoEvent): void;
}

/** The in-process bus: {@link MemoEvents} plus subscription (for SSE, webhooks, tests). */
export interface MemoEventBus extends MemoEvents {
  /** Calls `listener` for every event published from now on; answers the unsubscribe function. */
  subscribe(listener: (event: MemoEvent) => void): () => void;
}

/**
 * An EventEmitter-based bus for one process. Listeners run synchronously inside `publish`; one
 * that throws is reported to `onListenerError` and does not stop the others or the publisher.
 */
export function createMemoEventBus(options: { onListenerError?: (err: unknown, event: MemoEvent) => void } = {}): MemoEventBus {
  const emitter = new EventEmitter();
  // Any number of subscribers (one per SSE stream) is expected, not a leak.
  emitter.setMaxListeners(0);
  return {
    publish(event) {
      emitter.emit("event", event);
    },
    subscribe(listener) {
      const guarded = (event: MemoEvent) => {
        try {
          listener(event);
        } catch (err) {
          options.onListenerError?.(err, event);
        }
      };
      emitter.on("event", guarded);
      return () => {
        emitter.off("event", guarded);
      };
    },
  };
}
