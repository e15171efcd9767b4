/**
 * Deadlines for model calls: the bound of a timeout option (`timeoutMsSchema`), the error of a
 * call that missed its deadline (`DeadlineExceededError`), and `runWithDeadline`, which gives up
 * on a call at its deadline or on the caller's abort even when the call ignores its signal.
 * Pure: no I/O beyond timers.
 */
import { z } from "zod";
import { GavelError, parseConfig } from "./errors.js";

/**
 * The longest delay Node can schedule, in ms (2³¹ − 1, about 24.8 days). A larger delay is not
 * refused by `setTimeout`: Node turns it into 1 ms, so a "very long" timeout fires at once.
 *
 * @example
 * ```ts
 * timeoutMsSchema.safeParse(MAX_TIMEOUT_MS).success; // true
 * timeoutMsSchema.safeParse(MAX_TIMEOUT_MS + 1).success; // false
 * ```
 */
export const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * Zod schema of every timeout option in ms: a positive integer no larger than
 * {@link MAX_TIMEOUT_MS}; the error names the bound.
 *
 * @example
 * ```ts
 * const options = z.object({ timeoutMs: timeoutMsSchema.optional() });
 * parseConfig("AuctionRouter options", options, { timeoutMs: 2 ** 31 });
 * // ConfigError: timeoutMs: must be at most 2147483647 ms (2^31 - 1, about 24.8 days) ...
 * ```
 */
export const timeoutMsSchema = z
  .number({ message: "must be a number of milliseconds" })
  .int({ message: "must be a whole number of milliseconds" })
  .positive({ message: "must be a positive number of milliseconds (omit it for no deadline)" })
  .max(MAX_TIMEOUT_MS, {
    message:
      `must be at most ${MAX_TIMEOUT_MS} ms (2^31 - 1, about 24.8 days): Node turns a longer timer ` +
      "into 1 ms; omit it for no deadline",
  });

/**
 * A call did not finish within its deadline and was abandoned. Its signal was aborted (with this
 * error as the reason); a call that ignores its signal may still finish later: `pending` is that
 * call, so a caller can learn its late result (e.g. the usage the provider reports) and settle
 * its reservation with it (see `settleAbandoned`).
 *
 * @example
 * ```ts
 * try {
 *   await runWithDeadline((signal) => model.invoke(messages, { signal }), { timeoutMs: 30_000 });
 * } catch (error) {
 *   if (DeadlineExceededError.isInstance(error)) {
 *     error.timeoutMs; // 30000
 *     error.pending.then((reply) => console.log("arrived late", reply), () => {});
 *   }
 * }
 * ```
 */
export class DeadlineExceededError<T = unknown> extends GavelError {
  override readonly name: string = "DeadlineExceededError";
  /** The deadline that passed, in ms. */
  readonly timeoutMs: number;
  /** The abandoned call, still running (it settles whenever it settles; its rejection is handled). */
  readonly pending: Promise<T>;

  constructor(timeoutMs: number, pending: Promise<T>, options?: { label?: string; cause?: unknown }) {
    const what = options?.label ?? "The call";
    super(`${what} did not finish within ${timeoutMs} ms and was abandoned.`, options);
    this.timeoutMs = timeoutMs;
    this.pending = pending;
  }
}

/**
 * Options of {@link runWithDeadline}.
 *
 * @example
 * ```ts
 * const options: DeadlineOptions<AIMessage> = { timeoutMs: 30_000, signal, onAbandoned: (pending) => late.push(pending) };
 * ```
 */
export interface DeadlineOptions<T> {
  /** Give up after this many ms (a positive integer ≤ {@link MAX_TIMEOUT_MS}). Default: no deadline. */
  timeoutMs?: number;
  /** The caller's signal: give up when it aborts, rejecting with its reason. */
  signal?: AbortSignal;
  /** What the call is, for the error message (e.g. `'Pool member "fast" answer'`). */
  label?: string;
  /** Called once with the still-running work when it is abandoned (deadline or the caller's abort). */
  onAbandoned?: (pending: Promise<T>) => void;
}

/**
 * Run `work` with a deadline and the caller's signal. Rejects at the deadline with a
 * {@link DeadlineExceededError}, or on the caller's abort with its reason, EVEN WHEN `work`
 * ignores its signal; in both cases the signal passed to `work` is aborted first. The abandoned
 * work is passed to `onAbandoned` (and is `pending` on a `DeadlineExceededError`; the caller's own
 * abort reason is left as it is), so a caller can learn the usage of a call that finishes late. With neither `timeoutMs` nor `signal`, `work` runs as
 * it is (its signal never aborts).
 *
 * @throws ConfigError when `timeoutMs` is not a positive integer ≤ {@link MAX_TIMEOUT_MS}.
 * @example
 * ```ts
 * import { ChatOpenAI } from "@langchain/openai";
 * import { DeadlineExceededError, runWithDeadline } from "langchain-gavel";
 *
 * const model = new ChatOpenAI({ model: "gpt-4o-mini" });
 * try {
 *   const reply = await runWithDeadline((signal) => model.invoke("Hello", { signal }), { timeoutMs: 30_000 });
 * } catch (error) {
 *   if (DeadlineExceededError.isInstance(error)) console.log(`gave up after ${error.timeoutMs} ms`);
 *   else throw error;
 * }
 * ```
 */
export function runWithDeadline<T>(
  work: (signal: AbortSignal) => Promise<T>,
  options: DeadlineOptions<T> = {},
): Promise<T> {
  const { timeoutMs, signal, label, onAbandoned } = options;
  // The schema names what is wrong; a valid value (every call of a router) skips the parse.
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS)) {
    parseConfig("runWithDeadline options", deadlineOptionsSchema, { timeoutMs });
  }
  const controller = new AbortController();
  if (signal?.aborted) {
    controller.abort(signal.reason);
    return Promise.reject(signal.reason);
  }
  let pending: Promise<T>;
  try {
    pending = Promise.resolve(work(controller.signal));
  } catch (error) {
    return Promise.reject(error);
  }
  if (timeoutMs === undefined && signal === undefined) return pending;

  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let done = false;
    const finish = () => {
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const abandon = (reason: unknown) => {
      if (done) return;
      finish();
      pending.catch(() => undefined); // the work's own failure after the deadline is nobody's error
      controller.abort(reason);
      onAbandoned?.(pending);
      reject(reason);
    };
    function onAbort() {
      abandon(signal?.reason);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) onAbort(); // aborted while `work` started
    if (timeoutMs !== undefined && !done) {
      timer = setTimeout(() => abandon(new DeadlineExceededError(timeoutMs, pending, { label })), timeoutMs);
    }
    pending.then(
      (value) => {
        if (done) return;
        finish();
        resolve(value);
      },
      (error: unknown) => {
        if (done) return;
        finish();
        reject(error);
      },
    );
  });
}

const deadlineOptionsSchema = z.object({ timeoutMs: timeoutMsSchema });
