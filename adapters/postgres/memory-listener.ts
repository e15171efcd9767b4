/**
 * The LISTEN side of the PostgreSQL strategy memory: one connection of the pool kept for `LISTEN`
 * on the memory's channel, so a write committed by any replica wakes the others at once.
 *
 * A dropped connection (server restart, `pg_terminate_backend`, network) never crashes the process:
 * its `error`/`end` events mark the listener down, the client is destroyed, and a new one is tried
 * after `reconnectDelayMs` (doubling up to 30 s). While it is down the memory polls instead; once it
 * is back, `onListening` runs so the memory catches up on what it may have missed.
 */
import type { Notification, PoolClient } from "pg";
import { type PostgresConnection, quoteIdentifier } from "./connection.js";

/** Longest wait between two reconnection attempts, in ms. */
const MAX_RECONNECT_DELAY_MS = 30_000;

/** A kept LISTEN connection. */
export interface ChangeListener {
  /** True while the LISTEN connection is up. */
  readonly listening: boolean;
  /** Stops listening and destroys the connection. */
  close(): Promise<void>;
}

/** What {@link listenForChanges} runs on. */
export interface ChangeListenerSettings {
  connection: PostgresConnection;
  channel: string;
  /** A notification arrived on the channel, with its payload. */
  onNotify(payload: string): void;
  /** LISTEN is (again) in place: whatever was committed before may have been missed. */
  onListening(): void;
  /** First wait before reconnecting, in ms. */
  reconnectDelayMs: number;
}

/**
 * Start listening on `channel`. Resolves after the first attempt, whether or not it connected
 * (`listening` says which); it keeps trying in the background until `close()`.
 *
 * @example
 * ```ts
 * const listener = await listenForChanges({
 *   connection,
 *   channel: "gavel_memory_public",
 *   onNotify: (version) => console.log("changed at", version),
 *   onListening: () => console.log("listening"),
 *   reconnectDelayMs: 500,
 * });
 * await listener.close();
 * ```
 */
export async function listenForChanges(settings: ChangeListenerSettings): Promise<ChangeListener> {
  const { connection, channel, onNotify, onListening, reconnectDelayMs } = settings;
  /** The live LISTEN connection and its (idempotent) release. */
  let current: { client: PoolClient; release(error: Error | true): void } | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let delay = reconnectDelayMs;

  function scheduleReconnect(): void {
    if (closed || retry !== undefined) return;
    retry = setTimeout(() => {
      retry = undefined;
      void attempt();
    }, delay);
    retry.unref();
    delay = Math.min(delay * 2, MAX_RECONNECT_DELAY_MS);
  }

  async function attempt(): Promise<void> {
    let candidate: PoolClient;
    try {
      candidate = await connection.connect();
    } catch {
      scheduleReconnect();
      return;
    }
    let released = false;
    const release = (error: Error | true) => {
      if (released) return;
      released = true;
      candidate.release(error);
    };
    const drop = (error: Error) => {
      if (released) return;
      release(error);
      if (current?.client === candidate) current = undefined;
      scheduleReconnect();
    };
    candidate.on("error", drop);
    candidate.on("end", () => drop(new Error("the LISTEN connection ended")));
    candidate.on("notification", (message: Notification) => {
      if (message.channel === channel) onNotify(message.payload ?? "");
    });
    try {
      await candidate.query(`LISTEN ${quoteIdentifier(channel)}`);
    } catch (error) {
      drop(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (released) return;
    if (closed) {
      release(true);
      return;
    }
    current = { client: candidate, release };
    delay = reconnectDelayMs;
    onListening();
  }

  await attempt();

  return {
    get listening() {
      return current !== undefined;
    },
    async close() {
      closed = true;
      if (retry !== undefined) clearTimeout(retry);
      retry = undefined;
      // Destroyed, not returned to the pool: a pooled client would stay subscribed.
      current?.release(true);
      current = undefined;
    },
  };
}
