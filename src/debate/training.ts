/**
 * Fitting the per-agent bid aggressiveness α by REINFORCE, as DALA does (§4.3): the reward of a
 * debate is `accuracy − λ · tokens / budget`, and each α follows a Gaussian policy around its
 * current value. Per step and question: draw ε ~ N(0, I), run the debate with α + σε (clipped at
 * 0), score it, and move α ← max(0, α + η · (r − b) · ε / σ), with b the baseline that reduces
 * the gradient's variance: the mean reward of earlier debates on the same question (so a question
 * that is hard under every α does not read as a bad draw of α), or, on a question's first visit, the
 * running mean reward over all debates so far. Deterministic for a given seed.
 *
 * Saving and loading α are pure functions over JSON text, so the caller chooses where it lives.
 */
import { z } from "zod";
import { parseConfig, parseJsonConfig } from "../errors.js";
import { createSeededRandom } from "../market/random.js";
import { standardNormal } from "../math.js";
/**
 * What a training debate must return: its final answer and the tokens it spent. An
 * `AuctionDebateStateType` (what `createAuctionDebate(...).invoke` resolves to) is one; a replay of a
 * recorded debate is another.
 *
 * @example
 * ```ts
 * const runDebate = async (aggressiveness: Record<string, number>, question: string): Promise<TrainingDebateOutcome> => {
 *   const { finalAnswer, spentTokens } = await createAuctionDebate({ agents, aggressiveness }).invoke({ question });
 *   return { finalAnswer, spentTokens };
 * };
 * ```
 */
export interface TrainingDebateOutcome {
  finalAnswer?: string | undefined;
  spentTokens: number;
}

/** One training question. */
export interface TrainingQuestion {
  question: string;
  gold: string;
}

const isFunction = (value: unknown) => typeof value === "function";

/**
 * Zod schema of {@link TrainAggressivenessOptions}.
 *
 * @example
 * ```ts
 * const options = trainAggressivenessOptionsSchema.parse({
 *   agents: ["solver", "critic"],
 *   questions: [{ question: "What is 17 × 3?", gold: "51" }],
 *   runDebate: (aggressiveness, question) => createAuctionDebate({ agents, aggressiveness }).invoke({ question }),
 *   budget: 2048,
 * });
 * [options.lambda, options.epochs]; // [0.5, 3]: the defaults
 * ```
 */
export const trainAggressivenessOptionsSchema = z
  .object({
    agents: z.array(z.string().min(1)).min(1),
    questions: z.array(z.object({ question: z.string(), gold: z.string() }).strict()).min(1),
    runDebate: z.custom<
      (
        aggressiveness: Record<string, number>,
        question: string,
        item: TrainingQuestion,
      ) => Promise<TrainingDebateOutcome>
    >(isFunction, {
      message: "must be a function (aggressiveness, question, item) => Promise<{ finalAnswer, spentTokens }>",
    }),
    isCorrect: z
      .custom<(answer: string | undefined, gold: string) => boolean | Promise<boolean>>(isFunction, {
        message: "must be a function",
      })
      .optional(),
    budget: z.number().positive(),
    initial: z.record(z.string(), z.number().nonnegative()).optional(),
    lambda: z.number().nonnegative().default(0.5),
    learningRate: z.number().positive().default(0.1),
    noise: z.number().positive().default(0.2),
    epochs: z.number().int().positive().default(3),
    seed: z.number().int().default(0),
    onEpoch: z.custom<(epoch: TrainingEpoch) => void>(isFunction, { message: "must be a function" }).optional(),
  })
  .strict();

/**
 * Options of {@link trainAggressiveness}.
 *
 * | field | default | meaning |
 * |---|---|---|
 * | `agents` | — | agent names |
 * | `questions` | — | the training split: `{ question, gold }` |
 * | `runDebate` | — | `(α, question, item) => debate.invoke(...)`, a debate built with that α (`item` is the `{ question, gold }` asked); any `{ finalAnswer, spentTokens }` will do (e.g. a replayed recorded debate) |
 * | `isCorrect` | string equality | `(finalAnswer, gold) => boolean`, or a `Promise<boolean>` (e.g. a benchmark's async checker) |
 * | `budget` | — | tokens per example (the reward's denominator) |
 * | `initial` | 1 for every agent | starting α |
 * | `lambda` | `0.5` | weight of the token cost in the reward |
 * | `learningRate` | `0.1` | η |
 * | `noise` | `0.2` | σ of the Gaussian policy |
 * | `epochs` | `3` | passes over the questions |
 * | `seed` | `0` | seed of the ε draws |
 * | `onEpoch` | — | called with each epoch's figures as soon as it ends (progress) |
 */
export type TrainAggressivenessOptions = z.input<typeof trainAggressivenessOptionsSchema>;

/** What one epoch achieved (with the sampled α of each step). */
export interface TrainingEpoch {
  epoch: number;
  accuracy: number;
  meanTokens: number;
  meanReward: number;
  aggressiveness: Record<string, number>;
}

/** The fitted α and the history of the fit. */
export interface TrainingResult {
  aggressiveness: Record<string, number>;
  history: TrainingEpoch[];
}

/**
 * Fits α per agent by REINFORCE on `accuracy − λ · tokens / budget`.
 *
 * @throws ConfigError naming each bad option.
 * @example
 * const { aggressiveness } = await trainAggressiveness({
 *   agents: ["solver", "guesser"],
 *   questions: [{ question: "6 × 7?", gold: "42" }],
 *   budget: 1024,
 *   runDebate: (alpha, question) =>
 *     createAuctionDebate({ agents, aggressiveness: alpha, budget: 1024 }).invoke({ question }),
 * });
 * const saved = serializeAggressiveness(aggressiveness); // write it anywhere
 * parseAggressiveness(saved); // the same α
 */
export async function trainAggressiveness(options: TrainAggressivenessOptions): Promise<TrainingResult> {
  const settings = parseConfig("trainAggressiveness options", trainAggressivenessOptionsSchema, options);
  const { agents, questions, runDebate, budget, lambda, learningRate, noise, epochs, seed, onEpoch } = settings;
  const isCorrect = settings.isCorrect ?? ((answer: string | undefined, gold: string) => answer === gold);
  const random = createSeededRandom({ seed, stream: "debate.reinforce" });
  const alpha: Record<string, number> = {};
  for (const agent of agents) alpha[agent] = settings.initial?.[agent] ?? 1;
  let baseline: number | undefined;
  let steps = 0;
  /** Per question (by position): the mean reward of its earlier debates and how many there were. */
  const questionBaselines = questions.map(() => ({ mean: 0, visits: 0 }));
  const history: TrainingEpoch[] = [];

  for (let epoch = 0; epoch < epochs; epoch++) {
    let correct = 0;
    let tokens = 0;
    let rewards = 0;
    for (const [position, item] of questions.entries()) {
      const epsilon = agents.map(() => standardNormal(random.nextFloat));
      const sampled: Record<string, number> = {};
      agents.forEach((agent, index) => {
        sampled[agent] = Math.max(0, (alpha[agent] ?? 1) + noise * (epsilon[index] ?? 0));
      });
      const state = await runDebate(sampled, item.question, item);
      const accuracy = (await isCorrect(state.finalAnswer, item.gold)) ? 1 : 0;
      const reward = accuracy - (lambda * state.spentTokens) / budget;
      const own = questionBaselines[position] ?? { mean: 0, visits: 0 };
      const advantage = reward - (own.visits > 0 ? own.mean : (baseline ?? reward));
      agents.forEach((agent, index) => {
        alpha[agent] = Math.max(0, (alpha[agent] ?? 1) + (learningRate * advantage * (epsilon[index] ?? 0)) / noise);
      });
      steps += 1;
      baseline = baseline === undefined ? reward : baseline + (reward - baseline) / steps;
      own.visits += 1;
      own.mean += (reward - own.mean) / own.visits;
      correct += accuracy;
      tokens += state.spentTokens;
      rewards += reward;
    }
    const figures: TrainingEpoch = {
      epoch,
      accuracy: correct / questions.length,
      meanTokens: tokens / questions.length,
      meanReward: rewards / questions.length,
      aggressiveness: { ...alpha },
    };
    history.push(figures);
    onEpoch?.(figures);
  }
  return { aggressiveness: alpha, history };
}

const savedAggressivenessSchema = z
  .object({
    kind: z.literal("gavel.debate.aggressiveness"),
    version: z.literal(1),
    aggressiveness: z.record(z.string(), z.number().nonnegative()),
  })
  .strict();

/**
 * α as JSON text (versioned), to save anywhere.
 *
 * @example
 * serializeAggressiveness({ solver: 1.4, guesser: 0.6 });
 */
export function serializeAggressiveness(aggressiveness: Readonly<Record<string, number>>): string {
  return JSON.stringify({ kind: "gavel.debate.aggressiveness", version: 1, aggressiveness }, null, 2);
}

/**
 * α from JSON text written by {@link serializeAggressiveness}.
 *
 * @throws ConfigError when the text is not valid JSON of that shape (the field is named).
 * @example
 * createAuctionDebate({ agents, aggressiveness: parseAggressiveness(text) });
 */
export function parseAggressiveness(text: string): Record<string, number> {
  return parseJsonConfig("saved aggressiveness", savedAggressivenessSchema, text).aggressiveness;
}
