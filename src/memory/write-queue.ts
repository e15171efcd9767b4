/**
 * Runs asynchronous tasks one at a time, in the order they were queued. Pure.
 *
 * Every write of a strategy memory goes through one queue, so 100 concurrent `add` calls become
 * 100 writes in a row and never interleave. A failed task rejects its own promise only; the
 * queue goes on with the next one.
 */
export class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Queues `task`; resolves or rejects with its result once every earlier task has settled. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every task queued so far has settled. */
  idle(): Promise<void> {
    return this.run(async () => undefined);
  }
}
