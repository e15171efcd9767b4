/**
 * The shape of an evaluation run's results: what the runner produces and what reports render.
 * Plain JSON-serialisable data.
 */

/** One (cost, quality) point a policy reaches, e.g. at one λ or one budget. */
export interface OperatingPoint {
  /** Human label of the point, e.g. `λ=0.5` or `budget=1024`. */
  label: string;
  /** The swept parameter's value (λ, budget, threshold), when there is one. */
  parameter?: number;
  /** Share of evaluated prompts answered correctly (pass@1 for code), 0–1. */
  accuracy: number;
  /** Total USD spent on the evaluated prompts (every call charged, auction overhead included). */
  costUsd: number;
  /** Mean USD per prompt. */
  meanCostUsd: number;
  /** Prompts evaluated (the denominator of `accuracy`). */
  prompts: number;
  /** Model calls made (an escalation policy makes several per prompt). */
  calls: number;
  /** Share of prompts whose final answer came from the largest (dearest) model. */
  largestModelShare: number;
  /** Calls per model. */
  callsByModel: Record<string, number>;
  /** Prompt and completion tokens, when known; `estimated` when counted with a tokenizer. */
  tokens?: { input: number; output: number; estimated: boolean };
  /** Accuracy per 1k tokens (cost efficiency), when tokens are known. */
  costEfficiency?: number;
  /** Shipped-router points: prompts per decision path (`memory`, `explore`, `escalation`, `plans`). */
  paths?: Record<string, number>;
}

/** One routing policy or baseline and the points it reached. */
export interface PolicyResult {
  /** Stable id, e.g. `memory-auction`, `escalation`, `single:gpt-4-1106-preview`, `random`, `static-per-task`, `oracle`. */
  name: string;
  kind: "router" | "baseline";
  /**
   * Router policies: `batch` (memory loaded from the training part, frozen during the test pass) or
   * `online` (held-out prompts in a seeded order, learning from the outcomes of the members called).
   */
  protocol?: "batch" | "online";
  /** One sentence: what this policy does. */
  description: string;
  points: OperatingPoint[];
  /** RouteLLM measures against the weak/strong pair of the report, and the Pareto area, where defined. */
  metrics?: { apgr?: number; cpt50?: number; cpt80?: number; paretoArea?: number };
}

/** A whole evaluation run. */
export interface EvalReport {
  title: string;
  createdAt: string;
  /** What was evaluated and how it was split. */
  dataset: { name: string; source: string; trainPrompts: number; testPrompts: number; models: string[]; split: string };
  /** The reference pair for PGR/CPT/APGR. */
  strongModel: string;
  weakModel: string;
  policies: PolicyResult[];
  /** Targets checked, with their verdicts (e.g. ≥ 95% of the strong model's accuracy at ≤ 25% of its cost). */
  targets?: Array<{ description: string; met: boolean; detail: string }>;
  /** The validated configuration that produced the run. */
  config?: Record<string, unknown>;
  /** Ledger summary: auction overhead share etc. */
  notes?: string[];
  /** A leave-one-dataset-out run: one row per held-out dataset (see {@link LeaveOutRow}). */
  leaveOut?: LeaveOutRow[];
}

/**
 * One held-out dataset of a leave-one-dataset-out run: trained on the other datasets, the held-out one
 * streamed online over a strong/weak pair; the share of strong-model calls each router needs for
 * `target` of the strong model's accuracy (interpolated along its λ sweep), and random routing's.
 */
export interface LeaveOutRow {
  dataset: string;
  prompts: number;
  strongAccuracy: number;
  weakAccuracy: number;
  /** Share of the strong model's accuracy to reach (0.95). */
  target: number;
  /** Per router policy (e.g. `memory-online`): the share of strong calls needed (1 = never reached below). */
  shares: Record<string, number>;
  /** Random routing's share, closed form. */
  randomShare: number;
}
