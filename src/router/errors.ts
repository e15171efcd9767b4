/**
 * Errors of the strategy-auction router.
 */
import { GavelError } from "../errors.js";

/**
 * An internal auction call (plan, jury, refinement) took longer than `timeoutMs`.
 *
 * @example
 * ```ts
 * // Never thrown to the caller: a bidder whose plan or jury call timed out is dropped from the
 * // auction, and its reason is this error as text.
 * const router = new AuctionRouter({ pool, timeoutMs: 5_000 });
 * try {
 *   await router.invoke("Sum the even numbers below 100.");
 * } catch (error) {
 *   if (AuctionRouterError.isInstance(error)) error.reasons.mini;
 *   // e.g. 'RouterCallTimeoutError: Pool member "mini" did not finish its plan call within 5000 ms.'
 * }
 * ```
 */
export class RouterCallTimeoutError extends GavelError {
  override readonly name = "RouterCallTimeoutError";
  readonly member: string;
  readonly purpose: string;
  readonly timeoutMs: number;

  constructor(member: string, purpose: string, timeoutMs: number) {
    super(`Pool member "${member}" did not finish its ${purpose} call within ${timeoutMs} ms.`);
    this.member = member;
    this.purpose = purpose;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * No bid could answer — every bidder failed, the budget afforded none, or the winner's answer
 * failed — and the fallback model failed too. `reasons` names each bidder's failure (a failed
 * winner's as `answer failed: …`); `errors` keeps every failure, the fallback's last; the
 * fallback's error is the `cause`.
 *
 * @example
 * ```ts
 * try {
 *   await router.invoke("Sum the even numbers below 100.");
 * } catch (error) {
 *   if (!AuctionRouterError.isInstance(error)) throw error;
 *   console.error(error.auctionId, error.reasons); // e.g. { mini: "RouterCallTimeoutError: ...", large: "answer failed: ..." }
 *   console.error(error.cause); // the fallback model's error
 * }
 * ```
 */
export class AuctionRouterError extends GavelError {
  override readonly name = "AuctionRouterError";
  readonly auctionId: string;
  /** Why each bidder was dropped, by bidder. */
  readonly reasons: Record<string, string>;
  readonly errors: unknown[];

  constructor(auctionId: string, reasons: Record<string, string>, errors: unknown[], options?: { cause?: unknown }) {
    const summary = Object.entries(reasons)
      .map(([bidder, reason]) => `${bidder}: ${reason}`)
      .join("; ");
    super(`Auction ${auctionId}: no bid could answer (${summary}) and the fallback model failed too.`, options);
    this.auctionId = auctionId;
    this.reasons = reasons;
    this.errors = errors;
  }
}
