/**
 * The one entry to the market core: validate options once, then clear bids.
 *
 * Clearing never depends on the order or the time in which bids arrive: bids are sorted into the
 * canonical order (amount descending, then the seeded tie key, then the id) before any mechanism
 * sees them, and the only randomness (softmax) is a seeded generator walked in that order.
 */
import { type PreparedBid, prepareBids, type RejectedBid } from "./bids.js";
import { budgetedVcg } from "./mechanisms/budgetedVcg.js";
import type { Clearing, Decision, Mechanism } from "./mechanisms/clearing.js";
import { firstPrice, secondPrice } from "./mechanisms/ranked.js";
import { softmax } from "./mechanisms/softmax.js";
import { type AuctionOptions, type AuctionRules, parseAuctionOptions } from "./options.js";
import type { AuctionOutcome, Bid, BidResult, MechanismName } from "./types.js";

const MECHANISMS: Readonly<Record<MechanismName, Mechanism>> = {
  first_price: firstPrice,
  second_price: secondPrice,
  softmax,
  budgeted_vcg: budgetedVcg,
};

/** An auction with validated options, ready to clear any number of bid sets. */
export interface Auctioneer {
  /** The validated options, defaults filled in (`topK` is `Infinity` when unlimited). */
  readonly rules: AuctionRules;
  /**
   * Clears one auction. Pure: the same bids (in any order) give the same outcome.
   *
   * @throws InvalidBidsError when the bid list is malformed or repeats a bidder id.
   */
  clear(bids: readonly Bid[]): AuctionOutcome;
}

function toResult(bid: Bid, rank: number, decision: Decision): BidResult {
  const result: BidResult = {
    bidder: bid.bidder,
    amount: bid.amount,
    won: decision.won,
    rank,
    price: decision.price,
    reason: decision.reason,
    detail: decision.detail,
  };
  if (bid.tokens !== undefined) result.tokens = bid.tokens;
  if (bid.meta !== undefined) result.meta = bid.meta;
  if (decision.probability !== undefined) result.probability = decision.probability;
  return result;
}

function decisionOf(clearing: Clearing, index: number, bidder: string): Decision {
  const decision = clearing.decisions[index];
  if (decision === undefined) throw new Error(`the mechanism left bid ${bidder} undecided`);
  return decision;
}

function assemble(
  rules: AuctionRules,
  valid: readonly PreparedBid[],
  invalid: readonly RejectedBid[],
  clearing: Clearing,
): AuctionOutcome {
  const results: BidResult[] = [];
  const isWinner = new Uint8Array(valid.length);
  const winners: string[] = [];
  for (const index of clearing.winners) {
    const prepared = valid[index] as PreparedBid;
    isWinner[index] = 1;
    winners.push(prepared.bidder);
    results.push(toResult(prepared.bid, results.length + 1, decisionOf(clearing, index, prepared.bidder)));
  }
  for (let index = 0; index < valid.length; index++) {
    if (isWinner[index] === 1) continue;
    const prepared = valid[index] as PreparedBid;
    results.push(toResult(prepared.bid, results.length + 1, decisionOf(clearing, index, prepared.bidder)));
  }
  for (const rejected of invalid) {
    const decision: Decision = { won: false, price: 0, reason: "invalid", detail: `Invalid bid: ${rejected.problem}.` };
    results.push(toResult(rejected.bid, results.length + 1, decision));
  }

  const outcome: AuctionOutcome = {
    mechanism: rules.mechanism,
    winners,
    results,
    clearingPrice: clearing.clearingPrice,
    seed: rules.seed,
    reservePrice: rules.reservePrice,
  };
  if (Number.isFinite(rules.topK)) outcome.topK = rules.topK;
  if (rules.mechanism === "softmax") outcome.temperature = rules.temperature;
  if (rules.mechanism === "budgeted_vcg") {
    outcome.tokenCap = rules.tokenCap;
    outcome.tokensUsed = clearing.tokensUsed ?? 0;
  }
  return outcome;
}

/**
 * Validates `options` once and returns an auctioneer whose `clear(bids)` runs without re-parsing.
 * Use it on hot paths (one auction per model call, per debate round); `clearAuction` is the
 * one-shot form.
 *
 * @param options the auction options (see `AuctionOptions`).
 * @returns an `Auctioneer`; `clear` is a standalone function, so `const { clear } = createAuctioneer(...)` works.
 * @throws ConfigError naming each bad field (e.g. `tokenCap` missing for `budgeted_vcg`).
 * @example
 * const auction = createAuctioneer({ mechanism: "second_price", reservePrice: 0.1, topK: 2 });
 * const outcome = auction.clear([
 *   { bidder: "planner", amount: 0.9 },
 *   { bidder: "critic", amount: 0.4 },
 *   { bidder: "coder", amount: 0.7 },
 * ]);
 * outcome.winners; // ["planner", "coder"], each pays 0.4
 * @example
 * // DALA-style speaker selection: most value within 1024 tokens, winners pay their externality.
 * const { clear } = createAuctioneer({ mechanism: "budgeted_vcg", tokenCap: 1024 });
 * clear([
 *   { bidder: "a", amount: 3, tokens: 600 },
 *   { bidder: "b", amount: 2, tokens: 400 },
 *   { bidder: "c", amount: 4, tokens: 900 },
 * ]).winners; // ["a", "b"]: value 5 beats c's 4
 */
export function createAuctioneer(options: AuctionOptions): Auctioneer {
  const rules = parseAuctionOptions(options);
  const mechanism = MECHANISMS[rules.mechanism];
  const requireTokens = rules.mechanism === "budgeted_vcg";
  return {
    rules,
    clear: function clear(bids: readonly Bid[]): AuctionOutcome {
      const { valid, invalid } = prepareBids(bids, rules.seed, requireTokens);
      return assemble(rules, valid, invalid, mechanism(valid, rules));
    },
  };
}

/**
 * Clears one auction: validates `options`, sorts the bids canonically and applies the mechanism.
 * Bids with a non-finite or negative amount (or, for `budgeted_vcg`, a missing or bad `tokens`)
 * are reported with reason `"invalid"` and never win.
 *
 * @throws ConfigError when `options` are invalid; InvalidBidsError when the bid list is
 *   malformed or repeats a bidder id.
 * @example
 * const outcome = clearAuction(
 *   [
 *     { bidder: "small", amount: 0.3 },
 *     { bidder: "large", amount: 0.8 },
 *   ],
 *   { mechanism: "second_price" },
 * );
 * outcome.winners; // ["large"]
 * outcome.clearingPrice; // 0.3
 */
export function clearAuction(bids: readonly Bid[], options: AuctionOptions): AuctionOutcome {
  return createAuctioneer(options).clear(bids);
}
