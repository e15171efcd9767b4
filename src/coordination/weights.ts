/**
 * Per-executor weights learned from outcomes. Pure: no file I/O (write the JSON yourself).
 *
 * The fit is a smoothed accuracy (Laplace / Beta(prior, prior) posterior mean):
 * `weight = (correct + prior) / (total + 2 · prior)`, so an executor never seen gets 0.5, one
 * right 9 times in 10 gets (9 + 1) / (10 + 2) ≈ 0.83 with the default prior 1.
 */
import { z } from "zod";
import { parseConfig, parseJsonConfig } from "../errors.js";

/** One training outcome: did this executor's own answer to one training question come out right? */
export interface ExecutorOutcome {
  executor: string;
  correct: boolean;
}

/**
 * Zod schema of the saved weights (version 1).
 *
 * @example
 * ```ts
 * const saved = { version: 1, method: "smoothed-accuracy", prior: 1, executors: { careful: { weight: 0.75, correct: 2, total: 2 } } };
 * executorWeightsSchema.safeParse(saved).success; // true
 * executorWeightsSchema.safeParse({ ...saved, executors: { careful: { weight: 0.75, correct: 3, total: 2 } } }).success; // false
 * ```
 */
export const executorWeightsSchema = z
  .object({
    version: z.literal(1),
    method: z.literal("smoothed-accuracy"),
    prior: z.number().positive(),
    executors: z.record(
      z.string().min(1),
      z
        .object({
          weight: z.number().min(0).max(1),
          correct: z.number().int().nonnegative(),
          total: z.number().int().nonnegative(),
        })
        .strict()
        .refine((entry) => entry.correct <= entry.total, { message: "correct must not exceed total" }),
    ),
  })
  .strict();

/** Fitted per-executor weights, as saved. */
export type ExecutorWeights = z.infer<typeof executorWeightsSchema>;

const fitOptionsSchema = z.object({ prior: z.number().positive().default(1) }).strict();

/**
 * Fit per-executor weights from training outcomes (smoothed accuracy, see the module comment).
 *
 * @param records one row per (executor, training question).
 * @param options.prior pseudo-counts of right and wrong added to each executor. Default 1.
 * @throws ConfigError when `prior` is not positive.
 * @example
 * ```ts
 * const weights = fitExecutorWeights([
 *   { executor: "careful", correct: true },
 *   { executor: "careful", correct: true },
 *   { executor: "hasty", correct: false },
 * ]);
 * weights.executors.careful?.weight; // 0.75
 * ```
 */
export function fitExecutorWeights(
  records: readonly ExecutorOutcome[],
  options: z.input<typeof fitOptionsSchema> = {},
): ExecutorWeights {
  const { prior } = parseConfig("fitExecutorWeights options", fitOptionsSchema, options);
  const counts = new Map<string, { correct: number; total: number }>();
  for (const { executor, correct } of records) {
    const entry = counts.get(executor) ?? { correct: 0, total: 0 };
    entry.total += 1;
    if (correct) entry.correct += 1;
    counts.set(executor, entry);
  }
  const executors: ExecutorWeights["executors"] = {};
  for (const name of [...counts.keys()].sort()) {
    const { correct, total } = counts.get(name) ?? { correct: 0, total: 0 };
    executors[name] = { weight: (correct + prior) / (total + 2 * prior), correct, total };
  }
  return { version: 1, method: "smoothed-accuracy", prior, executors };
}

/**
 * The weights as a plain `{ executor: weight }` map (what `createBeliefCoordination` takes).
 *
 * @example
 * ```ts
 * const weights = fitExecutorWeights([
 *   { executor: "careful", correct: true },
 *   { executor: "careful", correct: true },
 *   { executor: "hasty", correct: false },
 * ]);
 * weightMap(weights); // { careful: 0.75, hasty: ≈0.33 }
 * ```
 */
export function weightMap(weights: ExecutorWeights): Record<string, number> {
  return Object.fromEntries(Object.entries(weights.executors).map(([name, entry]) => [name, entry.weight]));
}

/**
 * Serialise fitted weights to JSON (validated first).
 *
 * @example
 * ```ts
 * import { writeFile } from "node:fs/promises";
 * const weights = fitExecutorWeights([{ executor: "careful", correct: true }, { executor: "hasty", correct: false }]);
 * await writeFile("executor-weights.json", executorWeightsToJson(weights));
 * // '{\n  "version": 1,\n  "method": "smoothed-accuracy",\n  "prior": 1,\n  "executors": { ... }\n}\n'
 * ```
 */
export function executorWeightsToJson(weights: ExecutorWeights): string {
  return `${JSON.stringify(parseConfig("executor weights", executorWeightsSchema, weights), null, 2)}\n`;
}

/**
 * Read weights saved by {@link executorWeightsToJson}.
 *
 * @throws ConfigError naming the bad field, or saying the text is not JSON.
 *
 * @example
 * ```ts
 * import { readFile } from "node:fs/promises";
 * const weights = executorWeightsFromJson(await readFile("executor-weights.json", "utf8"));
 * createBeliefCoordination({ coordinator, executors, embeddings, parseAnswer, weights });
 * executorWeightsFromJson("{"); // throws ConfigError: "(root): not JSON: ..."
 * ```
 */
export function executorWeightsFromJson(text: string): ExecutorWeights {
  return parseJsonConfig("executor weights", executorWeightsSchema, text);
}
