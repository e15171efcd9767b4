/**
 * `gated-tuned`: the settings of the gated replay tuned per budget on the TRAINING questions only.
 *
 * 1. α per agent by the debate's own REINFORCE (`trainAggressiveness`, reward
 *    `accuracy − λ · tokens / budget`), each step replaying one training question under `gated` with
 *    the sampled α and the base auction settings.
 * 2. Then, with that α, a small grid over reserve price × top-k: every training question replayed
 *    under each pair; the pair with the highest training accuracy wins (ties: fewer mean tokens,
 *    then the earlier pair: smaller top-k, lower reserve).
 *
 * Pure and deterministic for a seed: no I/O, the test questions are never seen.
 */
import { z } from "zod";
import { trainAggressiveness } from "../../../debate/training.js";
import { type GatedSettings, type PreparedDebate, type RuleContext, replayDebate } from "./rules.js";

/** Reserve prices tried by default (bids are α × value, value in [0, 1]). */
export const DEFAULT_TUNING_RESERVE_PRICES = [0, 0.05, 0.1, 0.2, 0.3] as const;

/**
 * Zod schema of the tuning options (part of `replayDebates`' options, `tuning`).
 *
 * @example
 * ```ts
 * gatedTuningOptionsSchema.parse({ reservePrices: [0, 0.1] }).epochs; // 3
 * ```
 */
export const gatedTuningOptionsSchema = z
  .object({
    /** Reserve prices of the grid. */
    reservePrices: z
      .array(z.number().nonnegative())
      .min(1)
      .default([...DEFAULT_TUNING_RESERVE_PRICES]),
    /** Top-k values of the grid. Default: 1 … the number of agents. */
    topKs: z.array(z.number().int().positive()).min(1).optional(),
    /** REINFORCE passes over the training questions. */
    epochs: z.number().int().positive().default(3),
    /** Weight of the token cost in the REINFORCE reward. */
    lambda: z.number().nonnegative().default(0.5),
    /** REINFORCE step size η. */
    learningRate: z.number().positive().default(0.1),
    /** σ of REINFORCE's Gaussian policy. */
    noise: z.number().positive().default(0.2),
  })
  .strict();

/** The tuning options, as parsed. */
export type GatedTuningOptions = z.output<typeof gatedTuningOptionsSchema>;

/** What was tuned for one budget. */
export interface TunedGating {
  budget: number;
  topK: number;
  reservePrice: number;
  /** α by agent name. */
  aggressiveness: Record<string, number>;
  /** Training accuracy of the chosen settings (`null`: no training question, defaults kept). */
  trainAccuracy: number | null;
  /** Mean tokens per training question of the chosen settings (`null` as above). */
  trainMeanTokens: number | null;
}

/**
 * Tune `gated` for one budget on the training questions (see the module comment).
 *
 * @param input.train the prepared TRAINING questions (with no training question, the base settings
 *   and α = 1 are returned with `trainAccuracy: null`).
 * @param input.base the auction settings α is trained under (mechanism, reserve price, top-k).
 * @param input.context reliabilities and seed (the seed also drives REINFORCE's draws).
 * @example
 * ```ts
 * const tuned = await tuneGating({ train, agents, budget: 512, base: DEFAULT_GATED_SETTINGS, context,
 *   tuning: gatedTuningOptionsSchema.parse({}) });
 * replayDebate(question, "gated-tuned", 512, { ...context, gating: { ...DEFAULT_GATED_SETTINGS, ...tuned } });
 * ```
 */
export async function tuneGating(input: {
  train: readonly PreparedDebate[];
  agents: readonly string[];
  budget: number;
  base: GatedSettings;
  context: RuleContext;
  tuning: GatedTuningOptions;
}): Promise<TunedGating> {
  const { train, agents, budget, base, context, tuning } = input;
  if (train.length === 0 || agents.length === 0) {
    return {
      budget,
      topK: base.topK,
      reservePrice: base.reservePrice,
      aggressiveness: Object.fromEntries(agents.map((agent) => [agent, base.aggressiveness[agent] ?? 1])),
      trainAccuracy: null,
      trainMeanTokens: null,
    };
  }
  const byId = new Map(train.map((debate) => [debate.id, debate]));
  const debateOf = (id: string) => {
    const debate = byId.get(id);
    if (debate === undefined) throw new RangeError(`tuneGating: no training question "${id}"`);
    return debate;
  };
  const { aggressiveness } = await trainAggressiveness({
    agents: [...agents],
    // The question text is the id: the replay looks the recorded debate up by it.
    questions: train.map((debate) => ({ question: debate.id, gold: debate.id })),
    runDebate: async (alpha, question) => {
      const replay = replayDebate(debateOf(question), "gated", budget, {
        ...context,
        gating: { ...base, aggressiveness: alpha },
      });
      return { finalAnswer: replay.answer, spentTokens: replay.tokens };
    },
    isCorrect: (answer, id) => debateOf(id).isCorrect(answer),
    budget,
    initial: Object.fromEntries(agents.map((agent) => [agent, base.aggressiveness[agent] ?? 1])),
    epochs: tuning.epochs,
    lambda: tuning.lambda,
    learningRate: tuning.learningRate,
    noise: tuning.noise,
    seed: context.seed,
  });

  const topKs = tuning.topKs ?? agents.map((_, index) => index + 1);
  let best: TunedGating | undefined;
  for (const topK of topKs) {
    for (const reservePrice of tuning.reservePrices) {
      const gating: GatedSettings = { ...base, reservePrice, topK, aggressiveness };
      const replays = train.map((debate) => replayDebate(debate, "gated", budget, { ...context, gating }));
      const trainAccuracy = replays.filter((replay) => replay.correct).length / replays.length;
      const trainMeanTokens = replays.reduce((sum, replay) => sum + replay.tokens, 0) / replays.length;
      const better =
        best === undefined ||
        trainAccuracy > (best.trainAccuracy ?? 0) ||
        (trainAccuracy === best.trainAccuracy && trainMeanTokens < (best.trainMeanTokens ?? 0));
      if (better) best = { budget, topK, reservePrice, aggressiveness, trainAccuracy, trainMeanTokens };
    }
  }
  if (best === undefined) throw new RangeError("tuneGating: an empty grid");
  return best;
}
