/**
 * Budget-constrained multi-winner selection with VCG (Clarke pivot) payments.
 *
 * Selection: among the candidate bids (valid, at or above the reserve, positive amount, not larger
 * than the cap on their own), choose the set S* that maximises Σ amount subject to
 * Σ tokens ≤ tokenCap (and |S*| ≤ topK when topK is given): an exact 0/1 knapsack.
 *
 * Payment of winner i (its externality on the others):
 *   payment_i = W(N \ {i}) − (V(S*) − amount_i)
 * where W(N \ {i}) is the best total value the others could reach without i (same cap, same topK),
 * and V(S*) − amount_i is the others' value in the chosen set. The price is then
 * `max(reservePrice, payment_i)`; it never exceeds the bid (individual rationality).
 *
 * Selection order (the order the knapsack decides items in, and the tie rule among optimal sets):
 * value density (amount / tokens) descending, then amount descending, then the seeded tie key,
 * then the bidder id. Among sets of equal total value the winner set is the one that includes the
 * earliest bid in this order where the sets differ.
 */
import { compareCanonical, densityOf, type PreparedBid } from "../bids.js";
import { formatNumber, plural } from "../format.js";
import type { AuctionRules } from "../options.js";
import { belowReserve, type Decision, type Mechanism } from "./clearing.js";
import { bestKnapsackValue, type KnapsackProblem, NODE_LIMIT, roundingMargin, solveKnapsack } from "./knapsack.js";

interface Candidate {
  /** Index into the canonical bids. */
  readonly canonicalIndex: number;
  readonly bid: PreparedBid;
  readonly density: number;
}

/** Selection order: value density descending, then the canonical order (amount, tie key, id). */
function compareSelectionOrder(left: Candidate, right: Candidate): number {
  if (left.density !== right.density) return left.density > right.density ? -1 : 1;
  return compareCanonical(left.bid, right.bid);
}

function excluded(reason: "over_cap" | "outranked", detail: string): Decision {
  return { won: false, price: 0, reason, detail };
}

/** Sorts out the bids that cannot be selected (recording why) and returns the rest in selection order. */
function selectCandidates(bids: readonly PreparedBid[], rules: AuctionRules, decisions: Decision[]): Candidate[] {
  const { reservePrice, tokenCap } = rules;
  const candidates: Candidate[] = [];
  for (let canonicalIndex = 0; canonicalIndex < bids.length; canonicalIndex++) {
    const bid = bids[canonicalIndex] as PreparedBid;
    if (bid.amount < reservePrice) {
      decisions[canonicalIndex] = belowReserve(bid, reservePrice);
    } else if (bid.tokens > tokenCap) {
      const detail = `Needs ${formatNumber(bid.tokens)} tokens, more than the whole ${formatNumber(tokenCap)}-token cap.`;
      decisions[canonicalIndex] = excluded("over_cap", detail);
    } else if (bid.amount === 0) {
      decisions[canonicalIndex] = excluded("outranked", "A bid of 0 adds no value to the selection.");
    } else {
      candidates.push({ canonicalIndex, bid, density: densityOf(bid.amount, bid.tokens) });
    }
  }
  return candidates.sort(compareSelectionOrder);
}

/** `budgeted_vcg`: the value-maximising set within the token cap; winners pay their externality. */
export const budgetedVcg: Mechanism = (bids, rules) => {
  const { reservePrice, tokenCap, topK } = rules;
  const decisions: Decision[] = new Array(bids.length);
  const candidates = selectCandidates(bids, rules, decisions);

  const count = candidates.length;
  const values = new Float64Array(count);
  const weights = new Float64Array(count);
  for (let index = 0; index < count; index++) {
    const candidate = candidates[index] as Candidate;
    values[index] = candidate.bid.amount;
    weights[index] = candidate.bid.tokens;
  }
  const problem: KnapsackProblem = {
    values,
    weights,
    capacity: tokenCap,
    maxItems: topK,
    margin: roundingMargin(values),
  };
  const selection = solveKnapsack(problem);
  const chosen = selection.chosen;

  let tokensUsed = 0;
  let winnerCount = 0;
  for (let index = 0; index < count; index++) {
    if (chosen[index] === 1) {
      tokensUsed += weights[index] as number;
      winnerCount++;
    }
  }
  const capText = formatNumber(tokenCap);
  const usedText = formatNumber(tokensUsed);
  const summary = `${plural(winnerCount, "winner")}, ${usedText} of ${capText} tokens, total value ${formatNumber(selection.value)}`;

  let clearingPrice = 0;
  const scratch = new Uint8Array(count);
  for (let index = 0; index < count; index++) {
    const candidate = candidates[index] as Candidate;
    if (chosen[index] !== 1) {
      const why =
        candidate.bid.tokens > tokenCap - tokensUsed
          ? `its ${formatNumber(candidate.bid.tokens)} tokens do not fit beside the winners' ${usedText} of ${capText}`
          : winnerCount >= topK
            ? `the limit of ${plural(topK, "winner")} is reached`
            : "an equal-value set ranked ahead by the tie rule";
      decisions[candidate.canonicalIndex] = excluded(
        "outranked",
        `Not in the value-maximising set (${summary}): ${why}.`,
      );
      continue;
    }
    // The others' value in the chosen set, summed in selection order like every set value.
    let othersValue = 0;
    for (let other = 0; other < count; other++) {
      if (other !== index && chosen[other] === 1) othersValue += values[other] as number;
    }
    const withoutValue = bestKnapsackValue(problem, index, othersValue, scratch, selection.byTable ? 0 : NODE_LIMIT);
    const amount = candidate.bid.amount;
    const externality = Math.min(amount, Math.max(0, withoutValue - othersValue));
    const price = Math.max(reservePrice, externality);
    clearingPrice = Math.max(clearingPrice, price);
    const reserveNote = price > externality ? `, raised to the reserve price ${formatNumber(reservePrice)}` : "";
    decisions[candidate.canonicalIndex] = {
      won: true,
      price,
      reason: "won",
      detail:
        `In the value-maximising set (${summary}); pays its externality ${formatNumber(externality)} = ` +
        `${formatNumber(withoutValue)} (best value of the others without it) − ${formatNumber(othersValue)} ` +
        `(the others' value in the chosen set)${reserveNote}.`,
    };
  }

  // Winners in canonical order (highest amount first).
  const winners: number[] = [];
  for (let index = 0; index < bids.length; index++) if (decisions[index]?.won === true) winners.push(index);
  return { winners, decisions, clearingPrice, tokensUsed };
};
