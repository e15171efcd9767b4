/**
 * Exact 0/1 knapsack by dynamic programming over integer token counts: the bounded fallback of
 * `knapsack.ts` when branch and bound meets a hard instance (typically many bids of equal value
 * density, which make the LP bound useless).
 *
 * Table: best[j][t][c] = the highest value reachable with items j..n−1, at most t of them, within
 * c tokens. Filled from the last item back, it is read from the first item forward: include item j
 * when that reaches at least the value of leaving it out, so among optimal sets the one that
 * includes the earliest item (in selection order) is returned, the same tie rule as the search.
 * (Sums here are accumulated from the last item back; for amounts whose sums are exact, such as
 * integers or halves, both methods agree exactly; otherwise they agree to rounding.)
 *
 * Complexity: O(n · K · C) time, where C = min(cap, Σ tokens) and K = the item limit (1 when there
 * is none); memory O(n · K · C) for a solution, O(K · C) for a value only.
 */
import type { KnapsackProblem } from "./knapsack.js";

/** Largest table the fallback allocates (cells of 8 bytes: 32 MB). */
export const TABLE_CELL_LIMIT = 4_000_000;

/** Dimensions of the table for a problem, or undefined when the fallback does not apply. */
interface TableShape {
  /** Integer capacity C (columns are 0..C). */
  readonly capacity: number;
  /** Number of item-count layers: K + 1 when the item limit binds, else 1 (no limit). */
  readonly counts: number;
  readonly limited: boolean;
}

/**
 * The table shape for `problem` without item `skip`, or undefined when some token count is not an
 * integer or the table would exceed `TABLE_CELL_LIMIT` (with `layers` item rows).
 */
function tableShape(problem: KnapsackProblem, skip: number, layers: number): TableShape | undefined {
  const { weights, maxItems } = problem;
  let totalWeight = 0;
  let items = 0;
  for (let index = 0; index < weights.length; index++) {
    if (index === skip) continue;
    const weight = weights[index] as number;
    if (!Number.isInteger(weight)) return undefined;
    totalWeight += weight;
    items++;
  }
  const capacity = Math.min(Math.floor(problem.capacity), totalWeight);
  const limited = maxItems < items;
  const counts = limited ? maxItems + 1 : 1;
  if (layers * counts * (capacity + 1) > TABLE_CELL_LIMIT) return undefined;
  return { capacity, counts, limited };
}

/** Fills layer `into` (item `index`) from layer `from` (items after it). Offsets are cell offsets. */
function fillLayer(
  problem: KnapsackProblem,
  shape: TableShape,
  index: number,
  table: Float64Array,
  from: number,
  into: number,
): void {
  const width = shape.capacity + 1;
  const weight = problem.weights[index] as number;
  const value = problem.values[index] as number;
  for (let count = 0; count < shape.counts; count++) {
    const row = count * width;
    // With a limit, taking the item uses one of `count` places; without, there is a single layer.
    const previousRow = shape.limited ? (count - 1) * width : row;
    const canTake = !shape.limited || count >= 1;
    for (let capacity = 0; capacity < width; capacity++) {
      const leave = table[from + row + capacity] as number;
      if (canTake && weight <= capacity) {
        const take = value + (table[from + previousRow + capacity - weight] as number);
        table[into + row + capacity] = Math.max(take, leave);
      } else {
        table[into + row + capacity] = leave;
      }
    }
  }
}

/** The optimal set (1 per chosen item) by the table, or undefined when the fallback does not apply. */
export function solveByTable(problem: KnapsackProblem): Uint8Array | undefined {
  const count = problem.values.length;
  const shape = tableShape(problem, -1, count + 1);
  if (shape === undefined) return undefined;
  const layerSize = shape.counts * (shape.capacity + 1);
  const table = new Float64Array((count + 1) * layerSize);
  for (let index = count - 1; index >= 0; index--) {
    fillLayer(problem, shape, index, table, (index + 1) * layerSize, index * layerSize);
  }
  const chosen = new Uint8Array(count);
  let places = shape.counts - 1;
  let room = shape.capacity;
  const width = shape.capacity + 1;
  for (let index = 0; index < count; index++) {
    const weight = problem.weights[index] as number;
    if (weight > room || (shape.limited && places < 1)) continue;
    const next = (index + 1) * layerSize;
    const leave = table[next + places * width + room] as number;
    const take =
      (problem.values[index] as number) +
      (table[next + (shape.limited ? places - 1 : places) * width + room - weight] as number);
    if (take >= leave) {
      chosen[index] = 1;
      room -= weight;
      if (shape.limited) places--;
    }
  }
  return chosen;
}

/** The best value without item `skip` by the table (two rolling layers), or undefined when the fallback does not apply. */
export function bestValueByTable(problem: KnapsackProblem, skip: number): number | undefined {
  const shape = tableShape(problem, skip, 2);
  if (shape === undefined) return undefined;
  const layerSize = shape.counts * (shape.capacity + 1);
  const table = new Float64Array(2 * layerSize);
  let current = 0;
  for (let index = problem.values.length - 1; index >= 0; index--) {
    if (index === skip) continue;
    const into = current === 0 ? layerSize : 0;
    fillLayer(problem, shape, index, table, current, into);
    current = into;
  }
  return table[current + (shape.counts - 1) * (shape.capacity + 1) + shape.capacity] as number;
}
