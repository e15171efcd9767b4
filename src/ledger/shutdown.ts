/**
 * Closing a ledger when the process is told to stop. Importing Gavel installs no process handler:
 * an application (or the `gavel` CLI) opts in with {@link closeLedgerOnSignals}, so that writes
 * still queued behind a lock (the SQLite ledger's write queue) land before the process exits.
 */
import type { LedgerWriter } from "./types.js";

/**
 * The signals {@link closeLedgerOnSignals} handles unless told otherwise: Ctrl-C and a polite kill.
 *
 * @example
 * ```ts
 * closeLedgerOnSignals(ledger, { signals: [...DEFAULT_SHUTDOWN_SIGNALS, "SIGHUP"] });
 * ```
 */
export const DEFAULT_SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM"];

/** The part of `process` {@link closeLedgerOnSignals} uses (a seam for tests). */
export interface SignalTarget {
  readonly pid: number;
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  removeListener(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  listenerCount(signal: NodeJS.Signals): number;
  kill(pid: number, signal: NodeJS.Signals): unknown;
}

/** Options of {@link closeLedgerOnSignals}. */
export interface CloseLedgerOnSignalsOptions {
  /** The signals to handle. Default {@link DEFAULT_SHUTDOWN_SIGNALS}. */
  signals?: readonly NodeJS.Signals[];
  /** Told when closing failed (the process still stops). Default: nothing. */
  onCloseError?: (error: unknown) => void;
  /** The process to listen on. Default: `process`. */
  target?: SignalTarget;
}

/**
 * On SIGINT or SIGTERM (or the `signals` given), close `ledger` — which flushes what its write queue
 * holds (the SQLite ledger waits up to its `closeTimeoutMs`) — then let the signal do what it would
 * have done: when no other listener of that signal remains, the signal is raised again and the
 * process ends as it would have without this helper (exit by signal). A second signal while closing
 * stops waiting and re-raises at once. Returns a function that removes the handlers.
 *
 * Opt-in: nothing in Gavel calls this on import; the `gavel` CLI and your app call it once after
 * opening the ledger. If your app already handles these signals, call `await ledger.close()` from
 * your own handler instead.
 *
 * @param ledger - the ledger to close (any `LedgerWriter`; a backend without a queue just closes).
 * @param options - which signals, a close-error callback, and the process (seam).
 * @returns a function that removes the handlers (e.g. after a normal `close()`).
 * @example
 * ```ts
 * import { closeLedgerOnSignals } from "langchain-gavel";
 * import { createSqliteLedger } from "langchain-gavel/sqlite";
 *
 * const ledger = createSqliteLedger({ path: "gavel.db" });
 * const stopHandling = closeLedgerOnSignals(ledger);
 * // ... serve requests; Ctrl-C lands the queued records, closes the file and exits ...
 * stopHandling();
 * await ledger.close();
 * ```
 */
export function closeLedgerOnSignals(
  ledger: Pick<LedgerWriter, "close">,
  options: CloseLedgerOnSignalsOptions = {},
): () => void {
  const { signals = DEFAULT_SHUTDOWN_SIGNALS, onCloseError, target = process } = options;
  let closing = false;

  const reraise = (signal: NodeJS.Signals) => {
    removeHandlers();
    if (target.listenerCount(signal) === 0) target.kill(target.pid, signal);
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      reraise(signal); // a second signal: stop waiting for the flush
      return;
    }
    // Still listening while closing, so that a second signal reaches us instead of killing the process.
    closing = true;
    ledger.close().then(
      () => reraise(signal),
      (error: unknown) => {
        onCloseError?.(error);
        reraise(signal);
      },
    );
  };

  function removeHandlers(): void {
    for (const signal of signals) target.removeListener(signal, onSignal);
  }

  for (const signal of signals) target.on(signal, onSignal);
  return removeHandlers;
}
