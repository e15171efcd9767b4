/**
 * Shared benchmark harness: every `bench/*.bench.ts` exports `run(): Promise<BenchResult[]>`.
 * Timings are medians (tinybench's p50 of per-iteration latency), measured in one process run.
 */
import { Bench } from "tinybench";

/** One figure a benchmark reports. */
export interface BenchResult {
  /** Stable id, e.g. `market.clear.second_price.16`. */
  name: string;
  /** The measured value. */
  value: number;
  /** Unit of `value`, e.g. `us`, `ms`, `records/s`. */
  unit: string;
  /** The target from the issue, when there is one. */
  target?: { op: "<=" | ">="; value: number };
  /** Extra context (sample count, sizes, ...). */
  details?: Record<string, unknown>;
}

/** Median latency of `fn` in microseconds, measured by tinybench. */
export async function medianMicros(
  name: string,
  fn: () => unknown | Promise<unknown>,
  options: { time?: number; warmupTime?: number } = {},
): Promise<{ medianUs: number; samples: number }> {
  const bench = new Bench({ time: options.time ?? 500, warmupTime: options.warmupTime ?? 100 });
  bench.add(name, fn);
  await bench.run();
  const task = bench.tasks[0];
  const result = task?.result as { latency?: { p50?: number; samplesCount?: number } } | undefined;
  const p50Ms = result?.latency?.p50;
  if (p50Ms === undefined) throw new Error(`benchmark ${name} produced no latency`);
  return { medianUs: p50Ms * 1000, samples: result?.latency?.samplesCount ?? 0 };
}

/** The median of `values` (the upper of the two middle values for an even count; NaN for none). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** True when the result meets its target (or has none). */
export function meetsTarget(result: BenchResult): boolean {
  if (!result.target) return true;
  return result.target.op === "<=" ? result.value <= result.target.value : result.value >= result.target.value;
}
