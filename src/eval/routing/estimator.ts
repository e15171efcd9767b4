/**
 * Value and cost estimates of recorded models, fitted on a training part. Pure: no I/O.
 *
 * - The prior of a model on a task is its accuracy on the task's training prompts (overall
 *   training accuracy when the task has none).
 * - The value of a model for a new prompt is the similarity-weighted accuracy of the model on the
 *   prompt's nearest remembered neighbours, smoothed toward the prior (Beta smoothing):
 *   `value = (Σ_j w_j · correct_j + α · prior) / (Σ_j w_j + α)`, `w_j = max(0, cos(prompt, neighbour_j))`,
 *   summed over the neighbours where that model's outcome is known; α is the prior strength.
 * - The cost of a model on a task is its mean recorded USD per prompt on the task's training prompts.
 */
import type { OutcomeIndex } from "../data/outcomes.js";
import type { Neighbour } from "./outcome-memory.js";

/** Per task and model: training accuracy and mean cost. */
export interface TrainingProfile {
  /** Models seen on the training part, sorted. */
  readonly models: readonly string[];
  /** Training accuracy of a model on a task (overall when the task is unknown; 0.5 when the model is unknown). */
  accuracy(model: string, evalName: string): number;
  /** Mean recorded USD per prompt of a model on a task (overall when the task is unknown; 0 when the model is unknown). */
  meanCostUsd(model: string, evalName: string): number;
  /** The highest mean cost of any model on the task (over all training prompts when the task is unknown): the normalisation of the auction's cost term. */
  dearestMeanCostUsd(evalName: string): number;
}

interface Totals {
  correct: number;
  cost: number;
  count: number;
}

/**
 * Fit accuracy and cost per (task, model) on the training prompts. Unavailable cells are skipped.
 * @example
 * ```ts
 * const profile = fitTrainingProfile(index, train);
 * profile.accuracy("gpt-4-1106-preview", "arc-challenge"); // ≈ 0.93
 * ```
 */
export function fitTrainingProfile(index: OutcomeIndex, trainPromptIds: readonly string[]): TrainingProfile {
  const byTask = new Map<string, Map<string, Totals>>();
  const overall = new Map<string, Totals>();
  const addTo = (table: Map<string, Totals>, model: string, correct: number, cost: number) => {
    const totals = table.get(model) ?? { correct: 0, cost: 0, count: 0 };
    totals.correct += correct;
    totals.cost += cost;
    totals.count += 1;
    table.set(model, totals);
  };
  for (const promptId of trainPromptIds) {
    const task = index.promptInfo(promptId)?.eval_name;
    if (task === undefined) continue;
    const table = byTask.get(task) ?? new Map<string, Totals>();
    byTask.set(task, table);
    for (const [model, record] of index.outcomesOf(promptId)) {
      addTo(table, model, record.correct, record.cost_usd);
      addTo(overall, model, record.correct, record.cost_usd);
    }
  }
  const totalsOf = (model: string, evalName: string) => byTask.get(evalName)?.get(model) ?? overall.get(model);
  const dearest = new Map<string, number>();
  return {
    models: [...overall.keys()].sort(),
    accuracy: (model, evalName) => {
      const totals = totalsOf(model, evalName);
      return totals === undefined ? 0.5 : totals.correct / totals.count;
    },
    meanCostUsd: (model, evalName) => {
      const totals = totalsOf(model, evalName);
      return totals === undefined ? 0 : totals.cost / totals.count;
    },
    dearestMeanCostUsd: (evalName) => {
      const known = dearest.get(evalName);
      if (known !== undefined) return known;
      const table = byTask.get(evalName) ?? overall;
      let highest = 0;
      for (const totals of table.values()) highest = Math.max(highest, totals.cost / totals.count);
      dearest.set(evalName, highest);
      return highest;
    },
  };
}

/** A model's estimated value for one prompt, and what it rests on. */
export interface ValueEstimate {
  model: string;
  /** Estimated probability of a correct answer, in [0, 1]. */
  value: number;
  /** Σ w_j over the neighbours where the model's outcome is known (0: the value is the prior). */
  evidence: number;
  /** The prior it was smoothed toward. */
  prior: number;
}

/**
 * Similarity-weighted, prior-smoothed value of each model from the neighbours of a prompt.
 * @param options.priorStrength - α, in pseudo-observations; 0 trusts the neighbours alone (prior when none).
 * @example
 * ```ts
 * const [small] = estimateValues({ neighbours, models: ["small"], prior: () => 0.5, priorStrength: 2 });
 * ```
 */
export function estimateValues(options: {
  neighbours: readonly Neighbour[];
  models: readonly string[];
  prior: (model: string) => number;
  priorStrength: number;
}): ValueEstimate[] {
  const { neighbours, models, prior, priorStrength } = options;
  return models.map((model) => {
    let weighted = 0;
    let evidence = 0;
    for (const { entry, similarity } of neighbours) {
      const correct = entry.outcomes.get(model);
      if (correct === undefined) continue;
      const weight = Math.max(0, similarity);
      weighted += weight * correct;
      evidence += weight;
    }
    const priorValue = prior(model);
    const denominator = evidence + priorStrength;
    const value = denominator > 0 ? (weighted + priorStrength * priorValue) / denominator : priorValue;
    return { model, value, evidence, prior: priorValue };
  });
}
