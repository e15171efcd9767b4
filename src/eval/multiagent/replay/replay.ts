/**
 * `replayDebates`: replay recorded multi-agent debates under a budget sweep and compare Gavel's
 * rules (the gated debate among them) with baselines and the recorded full debate.
 *
 * Steps, top to bottom:
 * 1. Split the questions into a training and a test part (seeded, independent of line order).
 * 2. Fit each agent's reliability on the training part (smoothed accuracy of its final answer).
 * 3. Prepare every question: count every recorded text's tokens with a real tokenizer, parse every
 *    answer with the task's checker; embed the test texts (only when `econ-commitment` runs).
 * 4. Per budget, tune `gated-tuned` on the training questions (`tune.ts`, only when it runs).
 * 5. For every budget, replay every test question under each rule and baseline (see `rules.ts`),
 *    summarise, and check the targets.
 *
 * Pure apart from the injected embedder: the caller reads the file and builds the embedder.
 */

import { z } from "zod";
import { countTextTokens } from "../../../budget/tokens.js";
import {
  type ExecutorOutcome,
  type ExecutorWeights,
  fitExecutorWeights,
  weightMap,
} from "../../../coordination/weights.js";
import { DEFAULT_RELIABILITY } from "../../../debate/gating.js";
import { functionSchema, parseConfig } from "../../../errors.js";
import { MECHANISM_NAMES } from "../../../market/options.js";
import { tieKey } from "../../../market/random.js";
import type { EmbeddingsLike } from "../../routing/embedding.js";
import { type DebateRecord, isCorrectAnswer, parseDebateAnswer } from "./records.js";
import {
  DEBATE_BASELINES,
  DEBATE_REPLAY_RULES,
  DEFAULT_GATED_SETTINGS,
  type DebateBaseline,
  type DebateReplayRowName,
  type DebateReplayRule,
  FULL_DEBATE,
  type GatedSettings,
  type PreparedDebate,
  type QuestionReplay,
  type RuleContext,
  replayBaseline,
  replayDebate,
  replayFullDebate,
  rowKind,
} from "./rules.js";
import { gatedTuningOptionsSchema, type TunedGating, tuneGating } from "./tune.js";

/** The budget sweep of the DALA paper, tokens per question. */
export const DEFAULT_DEBATE_BUDGETS = [256, 512, 1024, 1536, 2048] as const;
/** Share of the questions used to fit the agents' reliability. */
export const DEFAULT_TRAIN_FRACTION = 0.5;

const isFunction = (value: unknown) => typeof value === "function";

/**
 * Zod schema of `gated`'s speaker auction (`replayDebates`' `gated` option; the CLI's `--mechanism`,
 * `--reserve-price` and `--top-k` are checked with its fields). Default: second-price, reserve 0,
 * one speaker a round, α = 1 for everyone, α × reliability-weighted vote.
 *
 * @example
 * ```ts
 * gatedSettingsSchema.parse({ topK: 2 }); // { mechanism: "second_price", reservePrice: 0, topK: 2, aggressiveness: {}, aggregation: "weighted" }
 * ```
 */
export const gatedSettingsSchema = z
  .object({
    mechanism: z.enum(MECHANISM_NAMES).default(DEFAULT_GATED_SETTINGS.mechanism),
    reservePrice: z.number().nonnegative().default(DEFAULT_GATED_SETTINGS.reservePrice),
    topK: z.number().int().positive().default(DEFAULT_GATED_SETTINGS.topK),
    /** α by agent name (`agent-1`, ...); missing agents bid with α = 1. */
    aggressiveness: z.record(z.string(), z.number().nonnegative()).default({}),
    /** The answer: α × reliability-weighted vote (default) or majority (the live graph's default). */
    aggregation: z.enum(["weighted", "majority"]).default("weighted"),
  })
  .strict();

/** Zod schema of {@link replayDebates}' options. */
export const replayDebatesOptionsSchema = z
  .object({
    /** The recorded debates (from `loadDebateRecords` / `parseDebateRecords`). */
    debates: z.array(z.custom<DebateRecord>((value) => typeof value === "object" && value !== null)).min(1),
    /** Token budgets per question. */
    budgets: z
      .array(z.number().int().positive())
      .min(1)
      .refine((budgets) => new Set(budgets).size === budgets.length, "budgets must not repeat")
      .default([...DEFAULT_DEBATE_BUDGETS]),
    /** Rules to compare (the baselines and the full debate are always reported). */
    rules: z
      .array(z.enum(DEBATE_REPLAY_RULES))
      .min(1)
      .refine((rules) => new Set(rules).size === rules.length, "rules must not repeat")
      .default([...DEBATE_REPLAY_RULES]),
    /** Share of the questions the reliabilities are fitted on, in [0, 1); the rest is replayed. */
    trainFraction: z.number().min(0).lt(1).default(DEFAULT_TRAIN_FRACTION),
    /** Seed of the split and of vote tie-breaks. */
    seed: z.number().int().default(0),
    /** Pseudo-counts of the smoothed accuracy (`fitExecutorWeights`). */
    prior: z.number().positive().default(1),
    /** Embeds the agents' texts for `econ-commitment` (any LangChain `Embeddings`). */
    embeddings: z
      .custom<EmbeddingsLike>(
        (value) => typeof value === "object" && value !== null && isFunction((value as EmbeddingsLike).embedDocuments),
        "expected an object with embedDocuments (a LangChain Embeddings)",
      )
      .optional(),
    /** Token counter. Default: js-tiktoken (`countTextTokens(text, record.model)`). */
    countTokens: functionSchema<(text: string, model?: string) => number>().optional(),
    /**
     * The speaker auction of `gated` (and the one α is trained under for `gated-tuned`). Default:
     * `createAuctionDebate`'s: second-price, reserve 0, one speaker a round, α = 1 for everyone.
     */
    gated: gatedSettingsSchema.default(gatedSettingsSchema.parse({})),
    /** How `gated-tuned` is tuned on the training questions (see `tune.ts`). */
    tuning: gatedTuningOptionsSchema.default(gatedTuningOptionsSchema.parse({})),
  })
  .strict()
  .superRefine((options, context) => {
    if (options.rules.includes("econ-commitment") && options.embeddings === undefined) {
      context.addIssue({
        code: "custom",
        path: ["embeddings"],
        message: "econ-commitment needs an embedder (pass embeddings, or leave econ-commitment out of rules)",
      });
    }
  });

/** Options of {@link replayDebates}. */
export type ReplayDebatesOptions = z.input<typeof replayDebatesOptionsSchema>;

/** One line of the comparison: a rule or baseline under a budget, over the test questions. */
export interface DebateReplayRow {
  budget: number;
  rule: DebateReplayRowName;
  /** One of Gavel's rules, or a baseline it is judged against (`one-agent`, `round0-majority`, `econ-commitment`, `full-debate`). */
  kind: "gavel" | "baseline";
  questions: number;
  /** Share of test questions answered right. */
  accuracy: number;
  /** Mean recorded completion tokens paid per question. */
  meanTokens: number;
  /** `accuracy / (meanTokens / 1000)`; `null` when no token was paid. */
  costEfficiency: number | null;
  /** Share of questions that paid for fewer rounds than were recorded. */
  stoppedEarlyShare: number;
  /** ... because the rule's own condition held (agreement, stable commitment, no bid over the reserve, nobody heard anything new). */
  stoppedByRuleShare: number;
  /** ... because the next round (or the first) did not fit the budget. */
  stoppedByBudgetShare: number;
  /** Share of questions with no answer (no round fit, or no answer parsed). */
  unansweredShare: number;
  /** Share of questions whose replay cost more than the budget (only the full debate can). */
  overBudgetShare: number;
  /** Mean recorded texts paid per question. */
  meanTexts: number;
}

/** A target of issue 13, checked on the replayed questions. */
export interface DebateReplayTarget {
  description: string;
  met: boolean;
  detail: string;
}

/** Everything {@link replayDebates} found. */
export interface DebateReplayReport {
  questions: { total: number; train: number; test: number };
  trainFraction: number;
  seed: number;
  budgets: number[];
  rules: DebateReplayRule[];
  /** The baselines reported besides the full debate. */
  baselines: DebateBaseline[];
  /** The speaker auction of `gated`. */
  gated: GatedSettings;
  /** Per budget, what `gated-tuned` chose on the training questions (empty when it did not run). */
  tuned: TunedGating[];
  /** The targets (see {@link debateReplayTargets}). */
  targets: DebateReplayTarget[];
  /** Ids of the training questions (the others were replayed). */
  trainIds: string[];
  /** Learned reliability per agent position (`agent-1`, ...), as `fitExecutorWeights` saves it. */
  reliability: ExecutorWeights;
  /** Learned accuracy of each agent's round-0 answer: how `one-agent` picks its agent. */
  roundZeroReliability: ExecutorWeights;
  /** Budget × (rules, then baselines), the full debate last within each budget. */
  rows: DebateReplayRow[];
  /** Per budget × rule, every test question's replay. */
  replays: Array<{ budget: number; rule: DebateReplayRow["rule"]; questions: QuestionReplay[] }>;
}

/**
 * Replay recorded debates under every budget and rule and compare with the recorded full debate.
 *
 * @param options - See {@link replayDebatesOptionsSchema}.
 * @returns The comparison rows and every replay.
 * @throws ConfigError when an option is invalid (e.g. `econ-commitment` without an embedder).
 * @example
 * ```ts
 * import { createHashingEmbeddings } from "../../routing/embedding.js";
 * const debates = await loadDebateRecords("data/debates/sample.jsonl");
 * const report = await replayDebates({ debates, embeddings: createHashingEmbeddings() });
 * for (const row of report.rows) console.log(row.budget, row.rule, row.accuracy, row.meanTokens);
 * ```
 */
export async function replayDebates(options: ReplayDebatesOptions): Promise<DebateReplayReport> {
  const {
    debates,
    budgets,
    rules,
    trainFraction,
    seed,
    prior,
    embeddings,
    countTokens = countTextTokens,
    gated,
    tuning,
  } = parseConfig("replayDebates options", replayDebatesOptionsSchema, options);

  const { train, test } = splitDebates(debates, trainFraction, seed);
  const reliability = fitReliability(train, prior);
  const roundZeroReliability = fitReliability(train, prior, "round0");
  const context: RuleContext = {
    reliability: weightMap(reliability),
    roundZeroReliability: weightMap(roundZeroReliability),
    defaultReliability: DEFAULT_RELIABILITY,
    seed,
  };
  const prepared = test.map((debate) => prepareDebate(debate, countTokens));
  if (rules.includes("econ-commitment") && embeddings !== undefined) await attachEmbeddings(prepared, test, embeddings);
  const preparedTrain = rules.includes("gated-tuned") ? train.map((debate) => prepareDebate(debate, countTokens)) : [];
  const agents = agentNames(debates);

  const rows: DebateReplayRow[] = [];
  const replays: DebateReplayReport["replays"] = [];
  const tuned: TunedGating[] = [];
  const full = prepared.map((debate) => replayFullDebate(debate, seed));
  const record = (budget: number, rule: DebateReplayRowName, questions: QuestionReplay[]) => {
    rows.push(summarise(budget, rule, questions));
    replays.push({ budget, rule, questions });
  };
  for (const budget of budgets) {
    for (const rule of rules) {
      let ruleContext: RuleContext = { ...context, gating: gated };
      if (rule === "gated-tuned") {
        const chosen = await tuneGating({ train: preparedTrain, agents, budget, base: gated, context, tuning });
        tuned.push(chosen);
        // Only the settings: the budget and training figures are not part of the auction.
        const { topK, reservePrice, aggressiveness } = chosen;
        ruleContext = { ...context, gating: { ...gated, topK, reservePrice, aggressiveness } };
      }
      record(
        budget,
        rule,
        prepared.map((debate) => replayDebate(debate, rule, budget, ruleContext)),
      );
    }
    for (const baseline of DEBATE_BASELINES) {
      record(
        budget,
        baseline,
        prepared.map((debate) => replayBaseline(debate, baseline, budget, context)),
      );
    }
    record(budget, FULL_DEBATE, full);
  }
  return {
    questions: { total: debates.length, train: train.length, test: test.length },
    trainFraction,
    seed,
    budgets,
    rules,
    baselines: [...DEBATE_BASELINES],
    gated,
    tuned,
    targets: debateReplayTargets(rows),
    trainIds: train.map((debate) => debate.id),
    reliability,
    roundZeroReliability,
    rows,
    replays,
  };
}

// ---------------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------------

/** The budget range of target (a), tokens per question. */
export const TARGET_BUDGET_RANGE = [256, 2048] as const;
/** Target (b): within this much accuracy of the full debate (1 point)... */
export const TARGET_ACCURACY_GAP = 0.01;
/** ...with at most this share of its mean tokens. */
export const TARGET_TOKEN_SHARE = 0.5;

/** Float slack of the comparisons (accuracies are ratios of small integers). */
const EPSILON = 1e-9;

const percent = (value: number) => `${(value * 100).toFixed(1)}%`;

/**
 * The two targets of issue 13, from a report's rows:
 *
 * (a) at every budget of the sweep in [256, 2048], the best Gavel rule (`kind: "gavel"`) is at least
 *     as accurate as the better of `one-agent` and `round0-majority` under that budget;
 * (b) at the largest budget, some Gavel rule is within 1 point of the full debate's accuracy with at
 *     most 50% of its mean tokens.
 *
 * A target with nothing to check (no budget in range, no Gavel row) is reported not met, saying why.
 *
 * @example
 * ```ts
 * for (const target of debateReplayTargets(report.rows)) console.log(target.met ? "met" : "NOT met", target.detail);
 * ```
 */
export function debateReplayTargets(rows: readonly DebateReplayRow[]): DebateReplayTarget[] {
  const budgets = [...new Set(rows.map((row) => row.budget))].sort((left, right) => left - right);
  const at = (budget: number) => rows.filter((row) => row.budget === budget);
  const bestGavel = (budget: number) =>
    at(budget)
      .filter((row) => row.kind === "gavel")
      .reduce<DebateReplayRow | undefined>(
        (best, row) => (best === undefined || row.accuracy > best.accuracy ? row : best),
        undefined,
      );

  const [low, high] = TARGET_BUDGET_RANGE;
  const inRange = budgets.filter((budget) => budget >= low && budget <= high);
  const checks = inRange.map((budget) => {
    const gavel = bestGavel(budget);
    const baselines = at(budget).filter((row) => row.rule === "one-agent" || row.rule === "round0-majority");
    const baseline = baselines.reduce<DebateReplayRow | undefined>(
      (best, row) => (best === undefined || row.accuracy > best.accuracy ? row : best),
      undefined,
    );
    const met = gavel !== undefined && (baseline === undefined || gavel.accuracy + EPSILON >= baseline.accuracy);
    const detail = `${budget}: ${gavel === undefined ? "no Gavel rule" : `${gavel.rule} ${percent(gavel.accuracy)}`} ${met ? "≥" : "<"} ${baseline === undefined ? "no baseline" : `${baseline.rule} ${percent(baseline.accuracy)}`}`;
    return { met, detail };
  });
  const floor: DebateReplayTarget = {
    description: `At every budget in [${low}, ${high}], the best Gavel rule is at least as accurate as one-agent and round0-majority`,
    met: checks.length > 0 && checks.every((check) => check.met),
    detail:
      checks.length === 0
        ? `not checked: no budget of the sweep is in [${low}, ${high}]`
        : checks.map((check) => check.detail).join("; "),
  };

  const largest = budgets[budgets.length - 1];
  const reference = largest === undefined ? undefined : at(largest).find((row) => row.rule === FULL_DEBATE);
  let frugal: DebateReplayTarget;
  const description = `At the largest budget, a Gavel rule within ${TARGET_ACCURACY_GAP * 100} point of the full debate's accuracy with ≤ ${TARGET_TOKEN_SHARE * 100}% of its tokens`;
  if (largest === undefined || reference === undefined) {
    frugal = { description, met: false, detail: "not checked: no full-debate row" };
  } else {
    const gavel = at(largest).filter((row) => row.kind === "gavel");
    const accurate = (row: DebateReplayRow) => row.accuracy + TARGET_ACCURACY_GAP + EPSILON >= reference.accuracy;
    const frugalEnough = (row: DebateReplayRow) =>
      row.meanTokens <= TARGET_TOKEN_SHARE * reference.meanTokens + EPSILON;
    const passing = gavel.filter((row) => accurate(row) && frugalEnough(row));
    const shown = [...(passing.length > 0 ? passing : gavel)].sort(
      (left, right) => right.accuracy - left.accuracy || left.meanTokens - right.meanTokens,
    )[0];
    const head = `${largest}: full debate ${percent(reference.accuracy)} at ${reference.meanTokens.toFixed(1)} tokens`;
    frugal = {
      description,
      met: passing.length > 0,
      detail:
        shown === undefined
          ? `${head}; no Gavel rule`
          : `${head}; ${passing.length > 0 ? "" : "best: "}${shown.rule} ${percent(shown.accuracy)} at ${shown.meanTokens.toFixed(1)} tokens (${percent(reference.meanTokens > 0 ? shown.meanTokens / reference.meanTokens : 0)} of them)`,
    };
  }
  return [floor, frugal];
}

// ---------------------------------------------------------------------------------------------
// Split and reliability
// ---------------------------------------------------------------------------------------------

/**
 * Seeded split: questions ordered by `tieKey(seed, id)` (then id), the first `⌊n × trainFraction⌋`
 * train, the rest are replayed. The order of the lines does not matter.
 */
export function splitDebates(
  debates: readonly DebateRecord[],
  trainFraction: number,
  seed: number,
): { train: DebateRecord[]; test: DebateRecord[] } {
  const ordered = [...debates].sort(
    (left, right) => tieKey(seed, left.id) - tieKey(seed, right.id) || (left.id < right.id ? -1 : 1),
  );
  const trainCount = Math.floor(debates.length * trainFraction);
  return { train: ordered.slice(0, trainCount), test: ordered.slice(trainCount) };
}

/** The agent names of the widest debate: `agent-1` … `agent-n`. */
function agentNames(debates: readonly DebateRecord[]): string[] {
  const count = debates.reduce((most, debate) => Math.max(most, debate.agents.length), 0);
  return Array.from({ length: count }, (_, index) => agentName(index));
}

/** Agent name of position `index`: `agent-1`, `agent-2`, ... */
export function agentName(index: number): string {
  return `agent-${index + 1}`;
}

/**
 * Each agent's reliability: the smoothed accuracy (`fitExecutorWeights`) of its final recorded
 * answer over the training questions (`round: "final"`, what bids and votes use), or of its round-0
 * answer (`"round0"`, what `one-agent` picks by: it pays round 0 only). An agent never seen weighs 0.5.
 *
 * @example
 * ```ts
 * const { train } = splitDebates(debates, 0.5, 0);
 * weightMap(fitReliability(train)); // { "agent-1": 0.88, "agent-2": 0.82, ... }
 * weightMap(fitReliability(train, 1, "round0")); // round-0 accuracies
 * ```
 */
export function fitReliability(
  train: readonly DebateRecord[],
  prior = 1,
  round: "final" | "round0" = "final",
): ExecutorWeights {
  const outcomes: ExecutorOutcome[] = [];
  for (const debate of train) {
    debate.agents.forEach((texts, index) => {
      const final = (round === "round0" ? texts[0] : texts[texts.length - 1]) ?? "";
      const answer = parseDebateAnswer(debate.task, final, debate.choices);
      outcomes.push({ executor: agentName(index), correct: isCorrectAnswer(debate.task, answer, debate.gold) });
    });
  }
  return fitExecutorWeights(outcomes, { prior });
}

// ---------------------------------------------------------------------------------------------
// Preparation
// ---------------------------------------------------------------------------------------------

/** Count each round's tokens and parse each answer. */
export function prepareDebate(
  debate: DebateRecord,
  countTokens: (text: string, model?: string) => number = countTextTokens,
): PreparedDebate {
  const roundCount = debate.agents[0]?.length ?? 0;
  const rounds = Array.from({ length: roundCount }, (_, round) => {
    const texts = debate.agents.map((agentTexts) => agentTexts[round] ?? "");
    const agentTokens = texts.map((text) => countTokens(text, debate.model));
    return {
      tokens: agentTokens.reduce((sum, tokens) => sum + tokens, 0),
      agentTokens,
      answers: texts.map((text) => parseDebateAnswer(debate.task, text, debate.choices)),
    };
  });
  return {
    id: debate.id,
    agents: debate.agents.map((_, index) => agentName(index)),
    rounds,
    isCorrect: (answer) => isCorrectAnswer(debate.task, answer, debate.gold),
  };
}

/** Embed every text of the prepared debates in one call and attach the vectors to their rounds. */
async function attachEmbeddings(
  prepared: PreparedDebate[],
  records: readonly DebateRecord[],
  embeddings: EmbeddingsLike,
): Promise<void> {
  const texts = records.flatMap((record) => {
    const roundCount = record.agents[0]?.length ?? 0;
    return Array.from({ length: roundCount }, (_, round) =>
      record.agents.map((agentTexts) => agentTexts[round] ?? ""),
    ).flat();
  });
  const vectors = await embeddings.embedDocuments(texts);
  if (vectors.length !== texts.length) {
    throw new RangeError(`the embedder returned ${vectors.length} vectors for ${texts.length} texts`);
  }
  let next = 0;
  prepared.forEach((debate, index) => {
    prepared[index] = {
      ...debate,
      rounds: debate.rounds.map((round) => {
        const roundVectors = debate.agents.map(() => vectors[next++] ?? []);
        return { ...round, embeddings: roundVectors };
      }),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------------------------

function summarise(budget: number, rule: DebateReplayRowName, questions: readonly QuestionReplay[]): DebateReplayRow {
  const count = questions.length;
  const share = (test: (replay: QuestionReplay) => boolean) =>
    count === 0 ? 0 : questions.filter(test).length / count;
  const accuracy = share((replay) => replay.correct);
  const meanTokens = count === 0 ? 0 : questions.reduce((sum, replay) => sum + replay.tokens, 0) / count;
  return {
    budget,
    rule,
    kind: rowKind(rule),
    questions: count,
    accuracy,
    meanTokens,
    costEfficiency: meanTokens > 0 ? accuracy / (meanTokens / 1000) : null,
    stoppedEarlyShare: share((replay) => replay.stopReason !== "completed"),
    stoppedByRuleShare: share(
      (replay) => replay.stopReason === "rule" || replay.stopReason === "reserve" || replay.stopReason === "no_bidders",
    ),
    stoppedByBudgetShare: share((replay) => replay.stopReason === "budget" || replay.stopReason === "unaffordable"),
    unansweredShare: share((replay) => replay.answer === undefined),
    overBudgetShare: share((replay) => replay.tokens > budget),
    meanTexts: count === 0 ? 0 : questions.reduce((sum, replay) => sum + replay.texts, 0) / count,
  };
}
