/**
 * Bid checking and the canonical order every mechanism clears in.
 *
 * A broken bid (amount NaN, negative or infinite; for `budgeted_vcg` a missing or bad token
 * count) is set aside as `invalid` and never wins, so one broken bidder cannot break an
 * auction. A broken bid list (not an array, a bid without a string id, two bids with one id)
 * is the integrator's bug, and throws `InvalidBidsError`.
 *
 * Canonical order: amount descending, then the seeded tie key ascending (`tieKey` in
 * `random.ts`), then the bidder id in code-unit order. It is a total order on distinct ids,
 * so sorting the bids in it erases the order (and time) in which they arrived.
 */
import { GavelError } from "../errors.js";
import { tieKey } from "./random.js";
import type { Bid } from "./types.js";

/** What was wrong with a bid list. */
export type InvalidBidsProblem = "duplicate_bidder" | "malformed_bid";

/**
 * The bid list itself is malformed: it is not an array, a bid is not an object, a bidder id is
 * not a string, or two bids share a bidder id. (A single bad amount is not an error: that bid is
 * marked `invalid` in the outcome.)
 *
 * @example
 * ```ts
 * try {
 *   clearAuction([{ bidder: "small", amount: 0.4 }, { bidder: "small", amount: 0.7 }], { mechanism: "first_price" });
 * } catch (error) {
 *   if (InvalidBidsError.isInstance(error)) [error.problem, error.bidders]; // ["duplicate_bidder", ["small"]]
 * }
 * ```
 */
export class InvalidBidsError extends GavelError {
  override readonly name = "InvalidBidsError";
  readonly problem: InvalidBidsProblem;
  /** The bidder ids concerned (sorted), when they are strings. */
  readonly bidders: string[];

  constructor(problem: InvalidBidsProblem, message: string, bidders: string[] = []) {
    super(message);
    this.problem = problem;
    this.bidders = bidders;
  }
}

/** A valid bid with what clearing needs precomputed. */
export interface PreparedBid {
  readonly bid: Bid;
  readonly bidder: string;
  readonly amount: number;
  /** The bid's token count; 0 when the mechanism does not read tokens and none was given. */
  readonly tokens: number;
  /** Seeded tie key (unsigned 32-bit). */
  readonly tieKey: number;
}

/** A bid that can never win, and why. */
export interface RejectedBid {
  readonly bid: Bid;
  readonly bidder: string;
  /** The problem, as the end of a sentence: "amount is NaN". */
  readonly problem: string;
}

/** The bids of one auction, checked and sorted. */
export interface PreparedBids {
  /** Valid bids in canonical order. */
  readonly valid: PreparedBid[];
  /** Invalid bids, sorted by bidder id. */
  readonly invalid: RejectedBid[];
}

/** Canonical order: amount descending, tie key ascending, bidder id ascending (code units). */
export function compareCanonical(left: PreparedBid, right: PreparedBid): number {
  if (left.amount !== right.amount) return right.amount - left.amount;
  if (left.tieKey !== right.tieKey) return left.tieKey - right.tieKey;
  return compareIds(left.bidder, right.bidder);
}

/** Code-unit order of two strings (locale-independent). */
export function compareIds(left: string, right: string): number {
  if (left < right) return -1;
  return left > right ? 1 : 0;
}

function describeNumber(value: unknown): string {
  if (value === undefined) return "missing";
  if (typeof value !== "number") return `not a number (${typeof value})`;
  return String(value);
}

/** Returns the problem with a bid's amount, or undefined when it is a finite number ≥ 0. */
function amountProblem(amount: unknown): string | undefined {
  if (typeof amount === "number" && Number.isFinite(amount) && amount >= 0) return undefined;
  return `amount is ${describeNumber(amount)}; a bid must be a finite number ≥ 0`;
}

/** Returns the problem with a bid's token count, or undefined when it is a finite number ≥ 0. */
function tokensProblem(tokens: unknown): string | undefined {
  if (typeof tokens === "number" && Number.isFinite(tokens) && tokens >= 0) return undefined;
  if (tokens === undefined) return "tokens is missing; budgeted_vcg needs each bid's size in tokens";
  return `tokens is ${describeNumber(tokens)}; a token count must be a finite number ≥ 0`;
}

function assertWellFormed(bids: readonly Bid[]): void {
  if (!Array.isArray(bids)) {
    throw new InvalidBidsError("malformed_bid", `Bids must be an array, got ${typeof bids}.`);
  }
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const bid of bids) {
    if (typeof bid !== "object" || bid === null || typeof bid.bidder !== "string") {
      throw new InvalidBidsError("malformed_bid", "Every bid must be an object with a string `bidder` id.");
    }
    if (seen.has(bid.bidder)) duplicates.add(bid.bidder);
    seen.add(bid.bidder);
  }
  if (duplicates.size > 0) {
    const bidders = [...duplicates].sort(compareIds);
    throw new InvalidBidsError(
      "duplicate_bidder",
      `Bidder ids must be unique within an auction; repeated: ${bidders.map((id) => JSON.stringify(id)).join(", ")}.`,
      bidders,
    );
  }
}

/**
 * Checks the bids and sorts them canonically. Token counts are checked only when
 * `requireTokens` is true (`budgeted_vcg`).
 *
 * @throws InvalidBidsError when the list is malformed or repeats a bidder id.
 */
export function prepareBids(bids: readonly Bid[], seed: number, requireTokens: boolean): PreparedBids {
  assertWellFormed(bids);
  const valid: PreparedBid[] = [];
  const invalid: RejectedBid[] = [];
  for (const bid of bids) {
    const problem = amountProblem(bid.amount) ?? (requireTokens ? tokensProblem(bid.tokens) : undefined);
    if (problem !== undefined) {
      invalid.push({ bid, bidder: bid.bidder, problem });
      continue;
    }
    valid.push({
      bid,
      bidder: bid.bidder,
      amount: bid.amount,
      tokens: requireTokens ? (bid.tokens as number) : 0,
      tieKey: tieKey(seed, bid.bidder),
    });
  }
  valid.sort(compareCanonical);
  invalid.sort((left, right) => compareIds(left.bidder, right.bidder));
  return { valid, invalid };
}

/**
 * Value density of a bid: `amount / tokens`, the value per token of the message. This is how DALA
 * describes its bids; `budgeted_vcg` itself maximises total value under the token cap, which is the
 * right objective (the densest messages are not always the best set). A bid of 0 tokens has density
 * `Infinity` (or 0 when its amount is 0).
 *
 * @throws InvalidBidsError when the bid has no valid `tokens` or `amount`.
 * @example
 * valueDensity({ bidder: "critic", amount: 3, tokens: 150 }); // 0.02
 */
export function valueDensity(bid: Bid): number {
  const problem = amountProblem(bid.amount) ?? tokensProblem(bid.tokens);
  if (problem !== undefined) {
    throw new InvalidBidsError("malformed_bid", `Cannot compute the value density of ${bid.bidder}: ${problem}.`, [
      bid.bidder,
    ]);
  }
  return densityOf(bid.amount, bid.tokens as number);
}

/** `amount / tokens`, unchecked; 0 tokens give `Infinity` (0 when the amount is 0 too). */
export function densityOf(amount: number, tokens: number): number {
  if (tokens === 0) return amount > 0 ? Number.POSITIVE_INFINITY : 0;
  return amount / tokens;
}

/**
 * Builds a bid from a declared value density (value per token) and a size in tokens:
 * `amount = density × tokens`. Use it when bidders reason in DALA's value-per-token terms.
 *
 * @example
 * densityBid({ bidder: "critic", density: 0.02, tokens: 150 }); // { bidder: "critic", amount: 3, tokens: 150 }
 */
export function densityBid({
  bidder,
  density,
  tokens,
  meta,
}: {
  bidder: string;
  density: number;
  tokens: number;
  meta?: Record<string, unknown>;
}): Bid {
  const bid: Bid = { bidder, amount: density * tokens, tokens };
  if (meta !== undefined) bid.meta = meta;
  return bid;
}
