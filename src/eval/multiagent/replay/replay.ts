/**
 * `replayDebates`: replay recorded multi-agent debates under a budget sweep and compare Gavel's
 * stopping and aggregation rules with the recorded full debate.
 *
 * Steps, top to bottom:
 * 1. Split the questions into a training and a test part (seeded, independent of line order).
 * 2. Fit each agent's reliability on the training part (smoothed accuracy of its final answer).
 * 3. Prepare the test questions: count every recorded text's tokens with a real tokenizer, parse
 *    every answer with the task's checker, embed every text (only when `econ-commitment` runs).
 * 4. For every budget and rule, replay every test question (see `rules.ts`) and summarise.
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
import { functionSchema, parseConfig } from "../../../errors.js";
import { tieKey } from "../../../market/random.js";
import type { EmbeddingsLike } from "../../routing/embedding.js";
import { type DebateRecord, isCorrectAnswer, parseDebateAnswer } from "./records.js";
import {
  DEBATE_REPLAY_RULES,
  type DebateReplayRule,
  FULL_DEBATE,
  type PreparedDebate,
  type QuestionReplay,
  replayDebate,
  replayFullDebate,
} from "./rules.js";

/** The budget sweep of the DALA paper, tokens per question. */
export const DEFAULT_DEBATE_BUDGETS = [256, 512, 1024, 1536, 2048] as const;
/** Share of the questions used to fit the agents' reliability. */
export const DEFAULT_TRAIN_FRACTION = 0.5;

const isFunction = (value: unknown) => typeof value === "function";

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
    /** Rules to compare (the full debate is always reported). */
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

/** One line of the comparison: a rule under a budget, over the test questions. */
export interface DebateReplayRow {
  budget: number;
  rule: DebateReplayRule | typeof FULL_DEBATE;
  questions: number;
  /** Share of test questions answered right. */
  accuracy: number;
  /** Mean recorded completion tokens paid per question. */
  meanTokens: number;
  /** `accuracy / (meanTokens / 1000)`; `null` when no token was paid. */
  costEfficiency: number | null;
  /** Share of questions that paid for fewer rounds than were recorded. */
  stoppedEarlyShare: number;
  /** ... because the rule's own condition held (agreement, stable commitment). */
  stoppedByRuleShare: number;
  /** ... because the next round (or the first) did not fit the budget. */
  stoppedByBudgetShare: number;
  /** Share of questions with no answer (no round fit, or no answer parsed). */
  unansweredShare: number;
  /** Share of questions whose replay cost more than the budget (only the full debate can). */
  overBudgetShare: number;
}

/** Everything {@link replayDebates} found. */
export interface DebateReplayReport {
  questions: { total: number; train: number; test: number };
  trainFraction: number;
  seed: number;
  budgets: number[];
  rules: DebateReplayRule[];
  /** Ids of the training questions (the others were replayed). */
  trainIds: string[];
  /** Learned reliability per agent position (`agent-1`, ...), as `fitExecutorWeights` saves it. */
  reliability: ExecutorWeights;
  /** Budget × rule, full debate last within each budget. */
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
  } = parseConfig("replayDebates options", replayDebatesOptionsSchema, options);

  const { train, test } = splitDebates(debates, trainFraction, seed);
  const reliability = fitReliability(train, prior);
  const context = { reliability: weightMap(reliability), defaultReliability: 0.5, seed };
  const prepared = test.map((debate) => prepareDebate(debate, countTokens));
  if (rules.includes("econ-commitment") && embeddings !== undefined) await attachEmbeddings(prepared, test, embeddings);

  const rows: DebateReplayRow[] = [];
  const replays: DebateReplayReport["replays"] = [];
  const full = prepared.map((debate) => replayFullDebate(debate, seed));
  for (const budget of budgets) {
    for (const rule of rules) {
      const questions = prepared.map((debate) => replayDebate(debate, rule, budget, context));
      rows.push(summarise(budget, rule, questions));
      replays.push({ budget, rule, questions });
    }
    rows.push(summarise(budget, FULL_DEBATE, full));
    replays.push({ budget, rule: FULL_DEBATE, questions: full });
  }
  return {
    questions: { total: debates.length, train: train.length, test: test.length },
    trainFraction,
    seed,
    budgets,
    rules,
    trainIds: train.map((debate) => debate.id),
    reliability,
    rows,
    replays,
  };
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

/** Agent name of position `index`: `agent-1`, `agent-2`, ... */
export function agentName(index: number): string {
  return `agent-${index + 1}`;
}

/**
 * Each agent's reliability: the smoothed accuracy (`fitExecutorWeights`) of its final recorded
 * answer over the training questions. An agent never seen weighs 0.5.
 */
export function fitReliability(train: readonly DebateRecord[], prior = 1): ExecutorWeights {
  const outcomes: ExecutorOutcome[] = [];
  for (const debate of train) {
    debate.agents.forEach((texts, index) => {
      const final = texts[texts.length - 1] ?? "";
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
    return {
      tokens: texts.reduce((sum, text) => sum + countTokens(text, debate.model), 0),
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

function summarise(
  budget: number,
  rule: DebateReplayRow["rule"],
  questions: readonly QuestionReplay[],
): DebateReplayRow {
  const count = questions.length;
  const share = (test: (replay: QuestionReplay) => boolean) =>
    count === 0 ? 0 : questions.filter(test).length / count;
  const accuracy = share((replay) => replay.correct);
  const meanTokens = count === 0 ? 0 : questions.reduce((sum, replay) => sum + replay.tokens, 0) / count;
  return {
    budget,
    rule,
    questions: count,
    accuracy,
    meanTokens,
    costEfficiency: meanTokens > 0 ? accuracy / (meanTokens / 1000) : null,
    stoppedEarlyShare: share((replay) => replay.roundsPaid < replay.roundsRecorded),
    stoppedByRuleShare: share((replay) => replay.stopReason === "rule"),
    stoppedByBudgetShare: share((replay) => replay.stopReason === "budget" || replay.stopReason === "unaffordable"),
    unansweredShare: share((replay) => replay.answer === undefined),
    overBudgetShare: share((replay) => replay.tokens > budget),
  };
}
