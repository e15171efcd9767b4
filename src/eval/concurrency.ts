/**
 * Running async work with at most N tasks in flight.
 */

/** Runs tasks with at most `concurrency` of them in flight; the others wait in arrival order. */
export type ConcurrencyLimiter = <T>(task: () => Promise<T>) => Promise<T>;

/**
 * A limiter that lets at most `concurrency` tasks run at once. A finishing task hands its slot
 * straight to the oldest waiting one, so the limit holds even when new tasks keep arriving.
 *
 * @param concurrency - Positive integer.
 * @throws RangeError when `concurrency` is not a positive integer.
 * @example
 * ```ts
 * const limit = createConcurrencyLimiter(2);
 * const results = await Promise.all(urls.map((url) => limit(() => fetch(url))));
 * ```
 */
export function createConcurrencyLimiter(concurrency: number): ConcurrencyLimiter {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  }
  let running = 0;
  const waiting: Array<() => void> = [];

  const acquire = (): Promise<void> => {
    if (running < concurrency) {
      running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };

  return async function limited<T>(task: () => Promise<T>): Promise<T> {
    await acquire();
    try {
      return await task();
    } finally {
      release();
    }
  };
}

/**
 * `Promise.all(items.map(work))` with at most `concurrency` calls of `work` in flight.
 * Results keep the order of `items`; the first rejection rejects the whole (the others still finish).
 * @example
 * ```ts
 * const results = await mapWithConcurrency(problems, 2, (problem) => checkHumanEval(problem, answers[problem.task_id], { runner }));
 * ```
 */
export async function mapWithConcurrency<Item, Result>(
  items: readonly Item[],
  concurrency: number,
  work: (item: Item, index: number) => Promise<Result>,
): Promise<Result[]> {
  const limited = createConcurrencyLimiter(concurrency);
  return Promise.all(items.map((item, index) => limited(() => work(item, index))));
}
