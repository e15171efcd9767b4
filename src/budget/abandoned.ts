/**
 * `settleAbandoned`: charge a call that was aborted or timed out at what its provider bills,
 * instead of releasing it at zero. See docs/budgets.md, "What is billed and what is settled".
 * Pure: no I/O beyond a timer.
 */

import { MAX_TIMEOUT_MS } from "../timeouts.js";
import type { Reservation, Settlement } from "./options.js";
import { releaseQuietly, type SharedTokenBudget, settleQuietly } from "./shared.js";
import type { Usage } from "./types.js";

/**
 * How long {@link settleAbandoned} waits by default for the usage a provider reports after the
 * caller gave up on its call (a reply that arrives late), in ms. The reservation keeps holding its
 * room meanwhile.
 *
 * @example
 * ```ts
 * DEFAULT_ABANDONED_GRACE_MS; // 30000
 * await settleAbandoned(budget, reservation, { late, graceMs: 5_000 }); // wait 5 s instead
 * ```
 */
export const DEFAULT_ABANDONED_GRACE_MS = 30_000;

/**
 * Options of {@link settleAbandoned}: what is known of the abandoned call.
 *
 * @example
 * ```ts
 * const options: SettleAbandonedOptions = { streamed: { inputTokens: 900, outputTokens: 41, estimated: true } };
 * const never: SettleAbandonedOptions = { sent: false }; // aborted before the request left: released
 * ```
 */
export interface SettleAbandonedOptions {
  /**
   * For a streamed call: the usage of what was streamed before it was abandoned (prompt + output so
   * far). A function is read once `late` came or its grace passed (chunks may still be arriving
   * when the call is abandoned); it returns undefined when nothing streamed.
   */
  streamed?: Usage | (() => Usage | undefined);
  /**
   * The usage the provider reports later, if it does (e.g. the abandoned call's reply, which a
   * model that ignores its signal still delivers). Wins when it resolves to a usage within `graceMs`.
   */
  late?: Promise<Usage | undefined>;
  /** How long to wait for `late`, in ms. Default {@link DEFAULT_ABANDONED_GRACE_MS}. */
  graceMs?: number;
  /**
   * Whether the request reached the provider; a function is read once `late` came or its grace
   * passed. `false` (aborted before it was sent): the provider bills nothing, so, without a late
   * usage, the reservation is released. Default true.
   */
  sent?: boolean | (() => boolean);
}

/**
 * Which evidence an abandoned call was settled on (the rules of {@link settleAbandoned}):
 * `"late-reply"` the usage the provider reported after the caller left (rule 1), `"streamed"` the
 * prompt + the output tokens streamed before it (rule 3, estimated), `"reservation"` the whole
 * reservation (rule 4, estimated).
 *
 * @example
 * ```ts
 * const settlement = await settleAbandoned(budget, reservation, { late });
 * if (settlement?.basis === "reservation") console.log("charged the worst case", settlement.tokens);
 * ```
 */
export type AbandonedBasis = "late-reply" | "streamed" | "reservation";

/** A settlement of {@link settleAbandoned}, with the evidence it was settled on. */
export interface AbandonedSettlement extends Settlement {
  basis: AbandonedBasis;
}

/**
 * Settle an aborted or timed-out call at what its provider bills, never throwing and never
 * charging twice (a reservation already settled or released is left as it is):
 *
 * 1. the usage the provider reports later (`late`), when it arrives within `graceMs` (the
 *    reservation keeps holding its room until then);
 * 2. otherwise, when the request never left (`sent: false`), nothing: the reservation is released;
 * 3. otherwise, for a streamed call, the tokens streamed so far (`streamed`): a provider stops
 *    generating when the stream's connection closes;
 * 4. otherwise the full reservation (prompt + output cap), marked estimated: a provider generates
 *    a non-streamed reply to completion after the client left, and bills up to the output cap.
 *
 * A budget that cannot settle (a store that stays unreachable) leaves the reservation to its lease.
 *
 * @returns the settlement and its `basis` (which rule applied), or undefined when the reservation
 *   was released (rule 2), was already closed, or settling failed.
 * @example
 * ```ts
 * import { runWithDeadline, settleAbandoned } from "langchain-gavel";
 *
 * const reservation = await budget.reserve({ model: "gpt-4o-mini", inputTokens: 900, maxOutputTokens: 256 });
 * let abandoned: Promise<AIMessage> | undefined;
 * try {
 *   const reply = await runWithDeadline((signal) => model.invoke(messages, { signal }), {
 *     timeoutMs: 30_000,
 *     onAbandoned: (pending) => (abandoned = pending),
 *   });
 *   await budget.settle(reservation, usageFromMessage(reply, messages, "gpt-4o-mini"));
 * } catch (error) {
 *   if (abandoned === undefined) await budget.release(reservation); // the model failed: nothing billed
 *   // Charged at the late reply's usage if it comes within 30 s, else at the whole reservation.
 *   else await settleAbandoned(budget, reservation, { late: abandoned.then((reply) => usageFromMessage(reply, messages, "gpt-4o-mini")) });
 *   throw error;
 * }
 * ```
 */
export async function settleAbandoned(
  budget: SharedTokenBudget,
  reservation: Reservation,
  options: SettleAbandonedOptions = {},
): Promise<AbandonedSettlement | undefined> {
  const { streamed, late, graceMs = DEFAULT_ABANDONED_GRACE_MS, sent = true } = options;
  const reported = late === undefined ? undefined : await withinGrace(late, graceMs);
  const lateUsage = reported && asUsage(reported);
  if (lateUsage) return settleAs("late-reply", budget, reservation, lateUsage);
  if (!(typeof sent === "function" ? sent() : sent)) {
    await releaseQuietly(budget, reservation);
    return undefined;
  }
  const streamedValue = typeof streamed === "function" ? streamed() : streamed;
  const streamedUsage = streamedValue && asUsage(streamedValue, true);
  if (streamedUsage) return settleAs("streamed", budget, reservation, streamedUsage);
  return settleAs("reservation", budget, reservation, fullReservation(reservation));
}

/**
 * Close the reservation of an abandoned call: {@link settleAbandoned} when `bill` is true (the
 * provider bills aborted calls), otherwise release it at zero (a local model that bills nothing).
 * Never throws.
 *
 * @returns the settlement when the call was billed, undefined when it was released (or could not be settled).
 */
export async function closeAbandoned(
  budget: SharedTokenBudget,
  reservation: Reservation,
  options: SettleAbandonedOptions & { bill: boolean },
): Promise<AbandonedSettlement | undefined> {
  const { bill, ...rest } = options;
  if (bill) return settleAbandoned(budget, reservation, rest);
  rest.late?.catch(() => undefined); // nobody waits for it: its failure is nobody's error
  await releaseQuietly(budget, reservation);
  return undefined;
}

/** `settleQuietly`, its settlement marked with the rule that chose `usage`. */
async function settleAs(
  basis: AbandonedBasis,
  budget: SharedTokenBudget,
  reservation: Reservation,
  usage: Usage,
): Promise<AbandonedSettlement | undefined> {
  const settlement = await settleQuietly(budget, reservation, usage);
  return settlement && { ...settlement, basis };
}

/** What `late` resolves to within `graceMs`, or undefined when it rejects or takes longer. */
function withinGrace<T>(late: Promise<T>, graceMs: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), Math.max(0, Math.min(graceMs, MAX_TIMEOUT_MS)));
    timer.unref?.();
    late.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
    );
  });
}

/** `usage` when its counts are whole and non-negative, else undefined (falls through to the next rule). */
function asUsage(usage: Usage, estimated?: boolean): Usage | undefined {
  const { inputTokens, outputTokens } = usage;
  if (!Number.isSafeInteger(inputTokens) || !Number.isSafeInteger(outputTokens)) return undefined;
  if (inputTokens < 0 || outputTokens < 0) return undefined;
  return { inputTokens, outputTokens, estimated: estimated === true || usage.estimated === true };
}

/**
 * The whole reservation as usage. Without its input/output split (a reservation rebuilt from a
 * store), every token is charged as output, which is never cheaper than input.
 */
function fullReservation(reservation: Reservation): Usage {
  const { inputTokens, maxOutputTokens, tokens } = reservation;
  if (inputTokens !== undefined && maxOutputTokens !== undefined) {
    return { inputTokens, outputTokens: maxOutputTokens, estimated: true };
  }
  return { inputTokens: 0, outputTokens: tokens, estimated: true };
}
