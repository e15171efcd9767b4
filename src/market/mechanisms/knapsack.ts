/**
 * Exact 0/1 knapsack for `budgeted_vcg`: depth-first branch and bound (Horowitz–Sahni), with an
 * exact dynamic-programming fallback (`knapsackTable.ts`) for the rare hard instances.
 *
 * Items come in "selection order" (value density descending, see `budgetedVcg.ts`). The search
 * decides item 0, then item 1, ..., trying "include" before "exclude", and prunes a branch when
 * the Dantzig bound (the greedy fractional fill of the remaining items, i.e. the LP relaxation)
 * cannot beat the best set found so far. An optional `maxItems` limits the number of items chosen.
 *
 * Exactness and ties:
 * - the value of a set is always summed in selection order (item 0 first), so a given set has
 *   one exact floating-point value whichever path reaches it;
 * - the incumbent is replaced only by a strictly greater value, and the search meets complete
 *   sets in lexicographic order (include-first), so among optimal sets it returns the one that
 *   includes the earliest item (in selection order) where two sets differ;
 * - a branch is pruned only when `bound + margin <= best`, where `margin` exceeds the rounding
 *   error of any sum, so rounding never prunes an optimal set.
 *
 * Complexity and bounds: the search does O(n) work per node and usually visits a few dozen nodes
 * (16 bidders of 50–400 tokens under a 1024-token cap: about 25 per solve), whatever the size of
 * the cap. Its worst case is O(2^n) nodes (many bids of equal value density defeat the LP bound),
 * so after `NODE_LIMIT` nodes it hands over to the table, O(n · K · C) with C = min(cap, Σ tokens)
 * and K the item limit, when token counts are integers and the table fits `TABLE_CELL_LIMIT`.
 * Otherwise (fractional token counts, or a huge cap with huge token counts) the search runs to the
 * end: still exact, at worst exponential in n.
 */
import { bestValueByTable, solveByTable } from "./knapsackTable.js";

/**
 * Nodes the branch and bound may visit before handing over to the table (a fraction of a
 * millisecond; typical solves need a few dozen).
 */
export const NODE_LIMIT = 10_000;

/**
 * A knapsack instance. The items must be in value density (value / weight) descending order:
 * the Dantzig bound is an upper bound only in that order.
 */
export interface KnapsackProblem {
  readonly values: Float64Array;
  readonly weights: Float64Array;
  readonly capacity: number;
  /** Most items a solution may hold (`Infinity` for no limit). */
  readonly maxItems: number;
  /** Pruning slack covering floating-point rounding (see `roundingMargin`). */
  readonly margin: number;
}

/** The best set found. */
export interface KnapsackSolution {
  /** Its total value, summed in selection order. */
  readonly value: number;
  /** 1 for each chosen item. */
  readonly chosen: Uint8Array;
  /** True when the search reached `NODE_LIMIT` and the table finished the job. */
  readonly byTable: boolean;
}

/**
 * The pruning margin for items of these values: 1e-12 × the sum of all values. Any sum of at most
 * a few thousand of these values is off by less than n · 2^-53 × that sum, far below the margin.
 */
export function roundingMargin(values: Float64Array): number {
  let total = 0;
  for (const value of values) total += value;
  return total * 1e-12;
}

/** Mutable state of one search (kept in one object, not in closures, so nothing is allocated per node). */
interface SearchState {
  readonly values: Float64Array;
  readonly weights: Float64Array;
  readonly maxItems: number;
  readonly margin: number;
  readonly skip: number;
  /** Whether to copy the chosen set on improvement (false when only the value is wanted). */
  readonly recordSet: boolean;
  readonly chosen: Uint8Array;
  readonly best: Uint8Array;
  bestValue: number;
  /** Nodes visited so far. */
  nodes: number;
  /** Most nodes allowed (`Infinity` when the table cannot take over). */
  readonly nodeLimit: number;
  /** Set when the node limit was reached: the result is then incomplete. */
  aborted: boolean;
  /** Set by `upperBound`: whether every remaining item fitted whole. */
  fillIsWhole: boolean;
}

/**
 * Dantzig bound: `value` plus the greedy fractional fill of the items from `from` on into `room`.
 * Sets `state.fillIsWhole` when every remaining item fitted whole (then taking them all reaches it).
 */
function upperBound(state: SearchState, from: number, value: number, room: number): number {
  const { values, weights, skip } = state;
  let bound = value;
  for (let index = from; index < values.length; index++) {
    if (index === skip) continue;
    const weight = weights[index] as number;
    if (weight <= room) {
      room -= weight;
      bound += values[index] as number;
    } else {
      state.fillIsWhole = false;
      return bound + (values[index] as number) * (room / weight);
    }
  }
  state.fillIsWhole = true;
  return bound;
}

/** Number of items from `from` on, not counting the skipped one. */
function remainingItems(state: SearchState, from: number): number {
  const remaining = state.values.length - from;
  return state.skip >= from ? remaining - 1 : remaining;
}

function record(state: SearchState, value: number): void {
  if (value > state.bestValue) {
    state.bestValue = value;
    if (state.recordSet) state.best.set(state.chosen);
  }
}

/**
 * Decides the items from `from` on and records the best completion. Items that are skipped or no
 * longer fit are excluded without branching (the bound from the first fitting item is the
 * tighter one). Then the first fitting item is included (first) or excluded.
 *
 * `boundChecked` is true on an "include" child: its greedy fill is its parent's minus the item
 * just taken (the same floats in the same order), so its bound is the parent's, already compared
 * with the unchanged incumbent, unless the child had to pass over items that no longer fit.
 * (The parent's fill was not whole, or the parent would have taken the shortcut below.)
 */
function search(
  state: SearchState,
  from: number,
  value: number,
  room: number,
  taken: number,
  boundChecked: boolean,
): void {
  if (++state.nodes > state.nodeLimit) {
    state.aborted = true;
    return;
  }
  const { values, weights, skip } = state;
  const count = values.length;
  let needsBound = !boundChecked;
  let index = from;
  while (index < count && (index === skip || (weights[index] as number) > room)) {
    if (index !== skip) needsBound = true;
    index++;
  }
  if (index >= count || taken >= state.maxItems) {
    record(state, value);
    return;
  }
  if (needsBound) {
    const bound = upperBound(state, index, value, room);
    if (bound + state.margin <= state.bestValue) return;
    if (state.fillIsWhole && taken + remainingItems(state, index) <= state.maxItems) {
      // Everything left fits: taking it all is the best completion, and the first one met.
      for (let item = index; item < count; item++) if (item !== skip) state.chosen[item] = 1;
      record(state, bound);
      for (let item = index; item < count; item++) state.chosen[item] = 0;
      return;
    }
  }
  state.chosen[index] = 1;
  search(state, index + 1, value + (values[index] as number), room - (weights[index] as number), taken + 1, true);
  state.chosen[index] = 0;
  search(state, index + 1, value, room, taken, false);
}

function runSearch(
  problem: KnapsackProblem,
  skip: number,
  incumbent: number,
  nodeLimit: number,
  chosen: Uint8Array,
  best: Uint8Array | undefined,
): SearchState {
  const state: SearchState = {
    values: problem.values,
    weights: problem.weights,
    maxItems: problem.maxItems,
    margin: problem.margin,
    skip,
    recordSet: best !== undefined,
    chosen,
    best: best ?? chosen,
    bestValue: incumbent,
    nodes: 0,
    nodeLimit,
    aborted: false,
    fillIsWhole: false,
  };
  search(state, 0, 0, problem.capacity, 0, false);
  return state;
}

/** Total value of a set, summed in selection order. */
function totalValue(problem: KnapsackProblem, chosen: Uint8Array): number {
  let value = 0;
  for (let index = 0; index < chosen.length; index++) if (chosen[index] === 1) value += problem.values[index] as number;
  return value;
}

/** Finds the set of highest total value whose total weight fits the capacity (ties: see the file header). */
export function solveKnapsack(problem: KnapsackProblem): KnapsackSolution {
  const count = problem.values.length;
  const chosen = new Uint8Array(count);
  const best = new Uint8Array(count);
  const state = runSearch(problem, -1, Number.NEGATIVE_INFINITY, NODE_LIMIT, chosen, best);
  if (!state.aborted) return { value: state.bestValue, chosen: best, byTable: false };
  const byTable = solveByTable(problem);
  if (byTable !== undefined) return { value: totalValue(problem, byTable), chosen: byTable, byTable: true };
  runSearch(problem, -1, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, chosen, best);
  return { value: totalValue(problem, best), chosen: best, byTable: false };
}

/**
 * The best total value without item `skip`, for VCG's "without bidder i" problems. `incumbent` is
 * a value some feasible set without `skip` already reaches (the result is never below it).
 * `scratch` (all zeros, one byte per item) is reused as the working set and is all zeros again on
 * return, so one buffer serves many calls. `nodeLimit` 0 goes straight to the table (when the
 * full problem already needed it, its "without i" variants are as hard).
 */
export function bestKnapsackValue(
  problem: KnapsackProblem,
  skip: number,
  incumbent: number,
  scratch: Uint8Array = new Uint8Array(problem.values.length),
  nodeLimit: number = NODE_LIMIT,
): number {
  const state = runSearch(problem, skip, incumbent, nodeLimit, scratch, undefined);
  if (!state.aborted) return state.bestValue;
  const byTable = bestValueByTable(problem, skip);
  if (byTable !== undefined) return Math.max(incumbent, byTable);
  return runSearch(problem, skip, incumbent, Number.POSITIVE_INFINITY, scratch, undefined).bestValue;
}
