/**
 * First-price and (k-unit) second-price clearing. Both take the top `topK` bids at or above the
 * reserve in canonical order; they differ only in the price.
 *
 * - first price: each winner pays its own bid.
 * - second price (Vickrey; uniform k-unit Vickrey when `topK > 1`): every winner pays
 *   `max(reservePrice, (k+1)-th highest bid)`, or the reserve when there is no (k+1)-th bid.
 *   With unit demand this makes bidding one's true value weakly dominant.
 */
import type { PreparedBid } from "../bids.js";
import { formatNumber, ordinal, plural } from "../format.js";
import type { AuctionRules } from "../options.js";
import { belowReserve, type Clearing, countEligible, type Decision, type Mechanism } from "./clearing.js";

type PriceRule = "first_price" | "second_price";

function winnerDecision(
  bid: PreparedBid,
  slot: number,
  slots: number,
  price: number,
  rule: PriceRule,
  rules: AuctionRules,
  priceSource: PreparedBid | undefined,
): Decision {
  const won = `Won slot ${slot} of ${slots} with bid ${formatNumber(bid.amount)}`;
  if (rule === "first_price") {
    return { won: true, price, reason: "won", detail: `${won}; pays its own bid (first price).` };
  }
  const uniform = slots > 1 ? `, the same for all ${slots} winners` : "";
  const detail =
    priceSource !== undefined && priceSource.amount >= rules.reservePrice
      ? `${won}; pays ${formatNumber(price)}, the ${ordinal(slots + 1)}-highest bid (${priceSource.bidder})${uniform} (second price).`
      : `${won}; pays the reserve price ${formatNumber(price)}: no ${ordinal(slots + 1)} bid at or above it${uniform} (second price).`;
  return { won: true, price, reason: "won", detail };
}

function outrankedDecision(bid: PreparedBid, lastWinner: PreparedBid, slots: number, seed: number): Decision {
  const detail =
    bid.amount === lastWinner.amount
      ? `Tied at ${formatNumber(bid.amount)} with ${lastWinner.bidder} for the last of ${plural(slots, "slot")}; the seeded tie rule (seed ${seed}) ranked ${lastWinner.bidder} first.`
      : `Outranked: bid ${formatNumber(bid.amount)} is below the lowest winning bid ${formatNumber(lastWinner.amount)} (${plural(slots, "slot")}).`;
  return { won: false, price: 0, reason: "outranked", detail };
}

function clearRanked(rule: PriceRule, bids: readonly PreparedBid[], rules: AuctionRules): Clearing {
  const eligible = countEligible(bids, rules.reservePrice);
  const slots = Math.min(rules.topK, eligible);
  const priceSource = bids[slots];
  const secondPrice = Math.max(rules.reservePrice, priceSource?.amount ?? 0);
  const winners: number[] = [];
  const decisions: Decision[] = new Array(bids.length);
  let clearingPrice = 0;
  for (let index = 0; index < bids.length; index++) {
    const bid = bids[index] as PreparedBid;
    if (index < slots) {
      const price = rule === "first_price" ? bid.amount : secondPrice;
      winners.push(index);
      clearingPrice = Math.max(clearingPrice, price);
      decisions[index] = winnerDecision(bid, index + 1, slots, price, rule, rules, priceSource);
    } else if (index < eligible) {
      decisions[index] = outrankedDecision(bid, bids[slots - 1] as PreparedBid, slots, rules.seed);
    } else {
      decisions[index] = belowReserve(bid, rules.reservePrice);
    }
  }
  return { winners, decisions, clearingPrice };
}

/** First price: the top `topK` bids at or above the reserve win and each pays its own bid. */
export const firstPrice: Mechanism = (bids, rules) => clearRanked("first_price", bids, rules);

/** Second price: the top `topK` bids at or above the reserve win and each pays `max(reserve, (k+1)-th bid)`. */
export const secondPrice: Mechanism = (bids, rules) => clearRanked("second_price", bids, rules);
