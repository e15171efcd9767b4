/**
 * Errors of the strategy-auction router.
 */
import { GavelError } from "../errors.js";

/** An internal auction call (plan, jury, refinement) took longer than `timeoutMs`. */
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
