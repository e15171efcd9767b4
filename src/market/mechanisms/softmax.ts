/**
 * Softmax clearing (DALA's stochastic auctioneer): among the bids at or above the reserve, draw
 * `topK` winners without replacement, each draw choosing bid i with probability
 * `exp((amount_i − maxAmount) / temperature) / Σ_remaining exp((amount_j − maxAmount) / temperature)`.
 * Each winner pays its own bid.
 *
 * Determinism: the draws come from `createSeededRandom({ seed, stream: "softmax" })` and walk the
 * bids in canonical order, so the same bids and seed give the same winners whatever the order in
 * which the bids arrived. (The weights use `Math.exp`; Node's V8 computes it with the same fdlibm
 * port on every platform.)
 */
import type { PreparedBid } from "../bids.js";
import { formatNumber, ordinal, plural } from "../format.js";
import { createSeededRandom } from "../random.js";
import { belowReserve, countEligible, type Decision, type Mechanism } from "./clearing.js";

/** Name of the random stream softmax draws from (kept apart from other uses of the seed). */
const SOFTMAX_STREAM = "softmax";

/** Picks one not-yet-drawn index with probability proportional to its weight. */
function drawOne(weights: Float64Array, drawn: Uint8Array, count: number, uniform: number): number {
  let total = 0;
  for (let index = 0; index < count; index++) if (drawn[index] === 0) total += weights[index] as number;
  const target = uniform * total;
  let cumulative = 0;
  let lastPositive = -1;
  for (let index = 0; index < count; index++) {
    if (drawn[index] !== 0) continue;
    const weight = weights[index] as number;
    if (weight <= 0) continue;
    cumulative += weight;
    lastPositive = index;
    if (target < cumulative) return index;
  }
  // Rounding can leave `target` a hair above the running sum: the last positive weight takes it.
  if (lastPositive >= 0) return lastPositive;
  // Every remaining weight underflowed to 0: take the first remaining bid in canonical order.
  for (let index = 0; index < count; index++) if (drawn[index] === 0) return index;
  return -1;
}

/** Softmax: `topK` winners sampled without replacement, probability ∝ exp(bid / temperature); each pays its bid. */
export const softmax: Mechanism = (bids, rules) => {
  const eligible = countEligible(bids, rules.reservePrice);
  const draws = Math.min(rules.topK, eligible);
  const weights = new Float64Array(eligible);
  const maxAmount = eligible > 0 ? (bids[0] as PreparedBid).amount : 0;
  let total = 0;
  for (let index = 0; index < eligible; index++) {
    const weight = Math.exp(((bids[index] as PreparedBid).amount - maxAmount) / rules.temperature);
    weights[index] = weight;
    total += weight;
  }

  const random = createSeededRandom({ seed: rules.seed, stream: SOFTMAX_STREAM });
  const drawn = new Uint8Array(eligible);
  const winners: number[] = [];
  for (let draw = 0; draw < draws; draw++) {
    const index = drawOne(weights, drawn, eligible, random.nextFloat());
    drawn[index] = 1;
    winners.push(index);
  }

  const decisions: Decision[] = new Array(bids.length);
  const setting = `temperature ${formatNumber(rules.temperature)}, seed ${rules.seed}`;
  let clearingPrice = 0;
  for (let draw = 0; draw < winners.length; draw++) {
    const index = winners[draw] as number;
    const bid = bids[index] as PreparedBid;
    const probability = (weights[index] as number) / total;
    clearingPrice = Math.max(clearingPrice, bid.amount);
    decisions[index] = {
      won: true,
      price: bid.amount,
      reason: "won",
      probability,
      detail: `Drawn ${ordinal(draw + 1)} of ${plural(draws, "draw")} (first-draw probability ${formatNumber(probability)}, ${setting}); pays its own bid ${formatNumber(bid.amount)}.`,
    };
  }
  for (let index = 0; index < bids.length; index++) {
    if (decisions[index] !== undefined) continue;
    const bid = bids[index] as PreparedBid;
    if (index >= eligible) {
      decisions[index] = belowReserve(bid, rules.reservePrice);
      continue;
    }
    const probability = (weights[index] as number) / total;
    decisions[index] = {
      won: false,
      price: 0,
      reason: "not_sampled",
      probability,
      detail: `Not drawn in ${plural(draws, "draw")} (first-draw probability ${formatNumber(probability)}, ${setting}).`,
    };
  }
  return { winners, decisions, clearingPrice };
};
