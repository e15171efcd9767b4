/**
 * The SQLite ledger's write queue: writes never wait for a lock on the event loop.
 *
 * better-sqlite3 is synchronous, and so is SQLite's wait for a lock another connection holds: with a
 * busy timeout of 5 s, one write froze the whole process for 5 s and then threw `SQLITE_BUSY`. Here
 * a write first tries the lock without waiting (`busy_timeout = 0`, `BEGIN IMMEDIATE`): when it is
 * free — the usual case — the write commits inside the call, as before. When another connection
 * holds it, the write joins a bounded FIFO queue, and the queue retries on a timer with back-off
 * (5 ms doubling to 250 ms, jittered), landing up to {@link RECORDS_PER_DRAIN} records per
 * transaction, each write in a savepoint of its own (one refused write does not take the others
 * with it). While the queue holds anything, new writes go behind it, so records land in the order
 * they were made (an outcome after its auction).
 *
 * Overflow: the queue holds at most `maxQueuedRecords` records (a write larger than that is taken
 * when the queue is empty). A write that does not fit waits for room up to `queueWaitMs`, then is
 * dropped: reported (`"dropped"`) and rejected. Nothing leaves the queue unreported.
 */
import type Database from "better-sqlite3";
import { LedgerError, type LedgerOperation } from "../../src/ledger/errors.js";
import type { LedgerWriteFailure } from "../../src/ledger/types.js";

/**
 * Records (auctions, charges, ...) the write queue holds at most, by default.
 *
 * @example
 * ```ts
 * // A process that records bursts of large batches while a long report holds the lock:
 * createSqliteLedger({ path: "gavel.db", maxQueuedRecords: 10 * DEFAULT_MAX_QUEUED_RECORDS });
 * ```
 */
export const DEFAULT_MAX_QUEUED_RECORDS = 10_000;
/**
 * How long a write waits for room in a full queue before it is dropped, by default.
 *
 * @example
 * ```ts
 * createSqliteLedger({ path: "gavel.db", queueWaitMs: 0 }); // never hold a caller: drop (and report) at once
 * ```
 */
export const DEFAULT_QUEUE_WAIT_MS = 1_000;
/**
 * How long `close()` waits for the queue to land before dropping what is left, by default.
 *
 * @example
 * ```ts
 * createSqliteLedger({ path: "gavel.db", closeTimeoutMs: 25_000 }); // inside a 30 s shutdown grace period
 * ```
 */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

/** First retry after a busy lock; doubled on every busy retry up to {@link RETRY_LAST_MS}. */
const RETRY_FIRST_MS = 5;
const RETRY_LAST_MS = 250;
/** Records landed per queue transaction at most (at least one write), so no drain holds the lock long. */
const RECORDS_PER_DRAIN = 1_000;

/** One write the ledger hands to the queue. */
export interface WriteJob {
  operation: LedgerOperation;
  /** What the write does, for error messages ("could not record auction a-1"). */
  what: string;
  /** Records it carries (auctions, charges, accounts ...), for the bound and the reports. */
  records: number;
  /** Run it in a transaction of its own that takes the write lock at once (`BEGIN IMMEDIATE`). */
  runAlone(): void;
  /** Run it inside a transaction already open (as a savepoint). */
  runNested(): void;
}

/**
 * A {@link WriteJob} over a better-sqlite3 transaction function and its argument.
 *
 * @example
 * ```ts
 * const writeCharges = database.transaction((inputs: ChargeInput[]) => inputs.map(insertCharge));
 * await queue.submit(writeJob("recordCharges", "could not record 2 charges", 2, writeCharges, inputs));
 * ```
 */
export function writeJob<Argument>(
  operation: LedgerOperation,
  what: string,
  records: number,
  transaction: Database.Transaction<(argument: Argument) => unknown>,
  argument: Argument,
): WriteJob {
  return {
    operation,
    what,
    records,
    runAlone: () => transaction.immediate(argument),
    runNested: () => transaction(argument),
  };
}

/** Settings of {@link createWriteQueue}. */
export interface WriteQueueSettings {
  database: Database.Database;
  /** The connection's busy timeout, restored after each write (reads and your own SQL keep waiting). */
  busyTimeoutMs: number;
  maxQueuedRecords: number;
  queueWaitMs: number;
  /** Told of every queued write that failed and every write dropped. */
  report: (failure: LedgerWriteFailure) => void;
}

/** The queue's own counters (the ledger adds `failed` and `dropped`). */
export interface WriteQueueStats {
  pending: number;
  pendingRecords: number;
  deferred: number;
}

/** What {@link createWriteQueue} returns. */
export interface WriteQueue {
  /**
   * Write now when the lock is free and nothing is queued; else queue the write. Resolves when the
   * write landed or was queued; rejects with the driver's error when it failed at once, or with a
   * `LedgerError` when it was dropped (queue full past `queueWaitMs`).
   */
  submit(job: WriteJob): Promise<void>;
  /** Resolves when nothing is queued or waiting for room. */
  flush(): Promise<void>;
  /** Flush, waiting at most `timeoutMs`; then drop (and report) what is left and stop retrying. */
  close(timeoutMs: number): Promise<void>;
  stats(): WriteQueueStats;
}

/** SQLite's "the lock is taken" answers (`SQLITE_BUSY`, `SQLITE_BUSY_SNAPSHOT`, ..., `SQLITE_LOCKED`). */
export function isBusyError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"));
}

interface RoomWaiter {
  job: WriteJob;
  /** Let the write in (`true`), or turn it away with the reason it is dropped. */
  admit: (admitted: true | string) => void;
}

/**
 * Build the write queue of one connection.
 *
 * @example
 * ```ts
 * const queue = createWriteQueue({ database, busyTimeoutMs: 5_000, maxQueuedRecords: 10_000, queueWaitMs: 1_000, report: console.warn });
 * await queue.submit(job); // landed, or queued behind another connection's lock
 * await queue.flush(); // landed
 * ```
 */
export function createWriteQueue(settings: WriteQueueSettings): WriteQueue {
  const { database, busyTimeoutMs, maxQueuedRecords, queueWaitMs, report } = settings;
  // `exec`, not a prepared statement: SQLite applies `busy_timeout` when the pragma is compiled, so a
  // prepared one re-run does not reliably set it again.
  const restoreWait = `PRAGMA busy_timeout = ${busyTimeoutMs}`;
  /** Runs a batch of queued writes in one transaction; per write, the error it failed with (a busy lock aborts all). */
  const landBatch = database.transaction((jobs: readonly WriteJob[]) =>
    jobs.map((job): unknown => {
      try {
        job.runNested();
        return undefined;
      } catch (error) {
        if (isBusyError(error)) throw error;
        return error;
      }
    }),
  );

  const queue: WriteJob[] = [];
  let queuedRecords = 0;
  const roomWaiters: RoomWaiter[] = [];
  const idleWaiters: Array<() => void> = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let delay = RETRY_FIRST_MS;
  let deferred = 0;
  let stopped = false;

  function withoutBusyWait<T>(work: () => T): T {
    if (busyTimeoutMs === 0) return work();
    database.exec("PRAGMA busy_timeout = 0");
    try {
      return work();
    } finally {
      if (database.open) database.exec(restoreWait);
    }
  }

  function fits(job: WriteJob): boolean {
    return queue.length === 0 || queuedRecords + job.records <= maxQueuedRecords;
  }

  function push(job: WriteJob): void {
    queue.push(job);
    queuedRecords += job.records;
    deferred += 1;
    schedule(RETRY_FIRST_MS);
  }

  function schedule(after: number): void {
    if (timer !== undefined || stopped) return;
    const jittered = Math.max(1, Math.round(after * (0.75 + Math.random() / 2)));
    timer = setTimeout(drainOnce, jittered);
  }

  function drainOnce(): void {
    timer = undefined;
    if (stopped || queue.length === 0) {
      settle();
      return;
    }
    const batch: WriteJob[] = [];
    let records = 0;
    for (const job of queue) {
      if (batch.length > 0 && records + job.records > RECORDS_PER_DRAIN) break;
      batch.push(job);
      records += job.records;
    }
    let errors: unknown[];
    try {
      errors = withoutBusyWait(() => landBatch.immediate(batch));
    } catch (error) {
      if (isBusyError(error)) {
        delay = Math.min(RETRY_LAST_MS, delay * 2);
        schedule(delay);
        return;
      }
      errors = batch.map(() => error); // the transaction itself failed (disk full, I/O error, ...)
    }
    delay = RETRY_FIRST_MS;
    queue.splice(0, batch.length);
    queuedRecords -= records;
    batch.forEach((job, index) => {
      const error = errors[index];
      if (error === undefined) return;
      report({
        kind: "failed",
        operation: job.operation,
        records: job.records,
        error: new LedgerError(job.operation, `${job.what} (queued behind a lock, refused when it landed)`, {
          cause: error,
        }),
      });
    });
    settle();
  }

  /** Let waiters in while there is room; keep draining, or wake the flushes when nothing is left. */
  function settle(): void {
    while (roomWaiters.length > 0 && fits((roomWaiters[0] as RoomWaiter).job)) {
      const waiter = roomWaiters.shift() as RoomWaiter;
      push(waiter.job);
      waiter.admit(true);
    }
    if (queue.length > 0) {
      schedule(0);
      return;
    }
    if (roomWaiters.length === 0) for (const wake of idleWaiters.splice(0)) wake();
  }

  /** Resolves to true once the write is in the queue, or to why it is dropped. */
  function waitForRoom(job: WriteJob): Promise<true | string> {
    const full = () =>
      `the write queue stayed full (${queuedRecords} of ${maxQueuedRecords} records waiting for another connection's lock) for ${queueWaitMs} ms`;
    if (queueWaitMs === 0) return Promise.resolve(full());
    return new Promise((resolve) => {
      const waiter: RoomWaiter = {
        job,
        admit: (admitted) => {
          clearTimeout(giveUp);
          resolve(admitted);
        },
      };
      const giveUp = setTimeout(() => {
        roomWaiters.splice(roomWaiters.indexOf(waiter), 1);
        resolve(full());
        settle();
      }, queueWaitMs);
      roomWaiters.push(waiter);
    });
  }

  function drop(job: WriteJob, why: string): LedgerError {
    const error = new LedgerError(job.operation, `${job.what}: dropped, ${why}`);
    report({ kind: "dropped", operation: job.operation, records: job.records, error });
    return error;
  }

  return {
    async submit(job) {
      if (queue.length === 0 && roomWaiters.length === 0) {
        try {
          withoutBusyWait(job.runAlone);
          return;
        } catch (error) {
          if (!isBusyError(error)) throw error;
        }
      }
      if (roomWaiters.length === 0 && fits(job)) {
        push(job);
        return;
      }
      const admitted = await waitForRoom(job);
      if (admitted === true) return;
      throw drop(job, admitted);
    },

    flush() {
      if (queue.length === 0 && roomWaiters.length === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },

    async close(timeoutMs) {
      if (queue.length > 0 || roomWaiters.length > 0) {
        let giveUp: ReturnType<typeof setTimeout> | undefined;
        const landed = await Promise.race([
          this.flush().then(() => true),
          new Promise<boolean>((resolve) => {
            giveUp = setTimeout(() => resolve(false), timeoutMs);
          }),
        ]);
        clearTimeout(giveUp);
        if (!landed) {
          const why = `still waiting for another connection's lock when close() gave up after ${timeoutMs} ms`;
          for (const waiter of roomWaiters.splice(0)) waiter.admit(why);
          for (const job of queue.splice(0)) drop(job, why);
          queuedRecords = 0;
        }
      }
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      for (const wake of idleWaiters.splice(0)) wake();
    },

    stats() {
      return { pending: queue.length, pendingRecords: queuedRecords, deferred };
    },
  };
}
