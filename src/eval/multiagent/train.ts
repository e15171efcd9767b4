/**
 * Fitting the gated debate's aggressiveness α per agent on a live `mode: debate` experiment: the config's
 * pool and agents debate a TRAINING split of its benchmark — a seeded sample of problems the evaluation
 * sample of the same config does not contain — under one token budget, and `trainAggressiveness`
 * (REINFORCE on `accuracy − λ · tokens / budget`, src/debate/training.ts) moves α after every debate.
 * Correctness is the benchmark's own checker; tokens are the providers' reported usage.
 *
 * Read top to bottom: the options and the result, the training run, the split, the setup checks.
 */
import { z } from "zod";
import { type TrainingEpoch, trainAggressiveness } from "../../debate/training.js";
import { functionSchema, parseConfig } from "../../errors.js";
import { createPythonRunner, type PythonRunner } from "../data/python.js";
import { DataError } from "../errors.js";
import { ConfigFileError, debateBudgetsOf, type ExperimentConfig } from "../experiment/config.js";
import { LiveBackendError } from "../live/errors.js";
import { isLiveBackend, type LivePoolOptions } from "../live/pool.js";
import { createLiveBenchmark } from "../live/run.js";
import { type LiveTask, loadLiveTasks } from "../live/tasks.js";
import { splitPromptIds } from "../report/metrics.js";
import { answerParserOf } from "./answers.js";
import { agentsOf, debateSettingsOf, experimentDebate, isRightAnswer, MultiAgentSetupError } from "./run.js";

/** Training questions drawn when the caller does not say. */
export const DEFAULT_TRAINING_QUESTIONS = 20;

/** Zod schema of {@link DebateTrainingOptions}: the tunables are checked, the config and seams are passed through. */
export const debateTrainingOptionsSchema = z
  .object({
    /** A validated experiment with `mode: debate`, `data.source: benchmark` and a live backend. */
    config: z.custom<ExperimentConfig>((value) => typeof value === "object" && value !== null, {
      message: "must be a validated experiment config",
    }),
    /** Where API keys are read from (read once, by the pool). */
    env: z.record(z.string(), z.string().optional()),
    /** Tokens per example of the debates and the reward's denominator. Default: {@link defaultTrainingBudget}. */
    budget: z.number().int().positive().optional(),
    /** Training questions: a seeded sample of this many problems outside the evaluation sample. */
    questions: z.number().int().positive().default(DEFAULT_TRAINING_QUESTIONS),
    /** Passes over the training questions. */
    epochs: z.number().int().positive().default(3),
    /** Weight of the token cost in the reward. */
    lambda: z.number().nonnegative().default(0.5),
    /** η of the REINFORCE step. */
    learningRate: z.number().positive().default(0.1),
    /** σ of the Gaussian policy around α. */
    noise: z.number().positive().default(0.2),
    /** Starting α by agent name (missing names: 1). */
    initial: z.record(z.string(), z.number().nonnegative()).optional(),
    /** Builds local GGUF models (the CLI passes `LlamaCppChatModel`). */
    createLlamaCppModel: functionSchema<NonNullable<LivePoolOptions["createLlamaCppModel"]>>().optional(),
    /** Runs code answers (HumanEval, MBPP). Default: `createPythonRunner()` for a code benchmark. */
    pythonRunner: z.custom<PythonRunner>((value) => typeof value === "object" && value !== null).optional(),
    /** Checks that an Ollama server answers before any call. Default: `GET <baseURL>/models`, 5 s. */
    probe: functionSchema<(url: string) => Promise<void>>().optional(),
    /** The config's file, named in errors. */
    configFile: z.string().min(1).optional(),
    /** Called once the split is drawn, before the first debate. */
    onStart: functionSchema<(plan: DebateTrainingPlan) => void>().optional(),
    /** Called with each epoch's figures when it ends (`epoch` counts from 0). */
    onEpoch: functionSchema<(epoch: TrainingEpoch, epochs: number) => void>().optional(),
  })
  .strict();

/**
 * Options of {@link trainDebateAggressiveness}.
 *
 * | field | default | meaning |
 * |---|---|---|
 * | `config` | — | a `mode: debate` experiment on a benchmark with a live backend |
 * | `env` | — | where the API key is read |
 * | `budget` | median of the config's budget sweep | tokens per example |
 * | `questions` | `20` | size of the training split |
 * | `epochs`, `lambda`, `learningRate`, `noise`, `initial` | `3`, `0.5`, `0.1`, `0.2`, 1 each | REINFORCE (see `trainAggressiveness`) |
 * | `createLlamaCppModel`, `pythonRunner`, `probe`, `configFile` | — | the seams of `createLiveBenchmark` |
 * | `onStart`, `onEpoch` | — | progress: the plan once the split is drawn, each epoch's figures |
 */
export type DebateTrainingOptions = z.input<typeof debateTrainingOptionsSchema>;

/** What a training run is about to do (given to `onStart`). */
export interface DebateTrainingPlan {
  benchmark: string;
  agents: Array<{ name: string; model: string }>;
  budget: number;
  /** Training questions, and the size of the evaluation sample they are kept apart from. */
  training: number;
  evaluation: number;
}

/** What {@link trainDebateAggressiveness} returns. */
export interface DebateTraining {
  /** The fitted α by agent name: what `serializeAggressiveness` saves. */
  aggressiveness: Record<string, number>;
  /** One entry per epoch: accuracy, mean tokens, mean reward, α after the epoch. */
  history: TrainingEpoch[];
  /** The debating agents (bidder name, pool model). */
  agents: Array<{ name: string; model: string }>;
  benchmark: string;
  /** Tokens per example the debates were held to. */
  budget: number;
  /** The REINFORCE settings in force; `seed` is the config's. */
  settings: { epochs: number; lambda: number; learningRate: number; noise: number; seed: number };
  /** Prompt ids: the training questions (file order), and the evaluation sample they were kept apart from. */
  split: { training: string[]; evaluation: string[] };
  /** Every debate of the run: reported tokens (prompt + completion), calls, and whether any usage was estimated. */
  usage: { tokens: number; calls: number; estimated: boolean };
}

// ---------------------------------------------------------------------------------------------
// The training run
// ---------------------------------------------------------------------------------------------

/**
 * Fit the gated debate's α per agent by REINFORCE on a training split of the config's benchmark, over
 * the config's live pool and agents (`debate.agents`, `auction`, `topK`, `maxRounds`; mode `intent`;
 * output caps from `outputCaps` at the budget). The training questions never include a problem of the
 * evaluation sample `gavel eval` would ask with the same config.
 *
 * @throws ConfigFileError (naming the key) when the config is not a `mode: debate` benchmark
 *   experiment with a live backend; MissingApiKeyError before any call; DataError when the evaluation
 *   sample leaves no problem to train on; LiveBackendError when no call of the first epoch succeeded;
 *   MultiAgentSetupError when an agent names no pool model, or the budget paid for no call in the first epoch.
 * @example
 * ```ts
 * const config = await loadExperimentConfig("configs/budget_sweep.yaml");
 * const { aggressiveness, history } = await trainDebateAggressiveness({ config, env: process.env, questions: 20 });
 * await writeFile("debate-aggressiveness.json", serializeAggressiveness(aggressiveness));
 * ```
 */
export async function trainDebateAggressiveness(options: DebateTrainingOptions): Promise<DebateTraining> {
  const settings = parseConfig("trainDebateAggressiveness options", debateTrainingOptionsSchema, options);
  const { config, epochs, lambda, learningRate, noise, onStart, onEpoch } = settings;
  const { data, backend } = requireDebateExperiment(config, settings.configFile);
  const budget = settings.budget ?? defaultTrainingBudget(config);
  const debate = debateSettingsOf(config);
  const code = data.benchmark === "humaneval" || data.benchmark === "mbpp";
  // One runner for the evaluation sample's checks (made by createLiveBenchmark) and the training split's.
  const pythonRunner = settings.pythonRunner ?? (code ? createPythonRunner() : undefined);
  const { pool, tasks: evaluation } = await createLiveBenchmark(config, {
    env: settings.env,
    ...(settings.createLlamaCppModel === undefined ? {} : { createLlamaCppModel: settings.createLlamaCppModel }),
    ...(pythonRunner === undefined ? {} : { pythonRunner }),
    ...(settings.probe === undefined ? {} : { probe: settings.probe }),
    ...(settings.configFile === undefined ? {} : { configFile: settings.configFile }),
  });
  try {
    const training = await trainingSplit(config, evaluation, settings.questions, pythonRunner);
    const agents = agentsOf(pool, debate.agents);
    const shared = {
      agents,
      parseAnswer: answerParserOf(data.benchmark),
      maxRounds: debate.maxRounds,
      auction: debate.auction,
      topK: debate.topK,
      seed: config.seed,
    };
    const named = agents.map((agent) => ({ name: agent.name, model: agent.model }));
    onStart?.({
      benchmark: data.benchmark,
      agents: named,
      budget,
      training: training.length,
      evaluation: evaluation.length,
    });
    const taskOf = new Map(training.map((task) => [task.promptId, task]));
    const usage = { tokens: 0, calls: 0, estimated: false };
    let debates = 0;
    let firstError: string | undefined;

    const result = await trainAggressiveness({
      agents: agents.map((agent) => agent.name),
      // The gold is the prompt id: the task's own checker decides, and the debate knows its task.
      questions: training.map((task) => ({ question: task.prompt, gold: task.promptId })),
      budget,
      lambda,
      learningRate,
      noise,
      epochs,
      seed: config.seed,
      ...(settings.initial === undefined ? {} : { initial: settings.initial }),
      runDebate: async (alpha, _question, item) => {
        const task = taskOf.get(item.gold) as LiveTask;
        const state = await experimentDebate(shared, "intent", budget, alpha)(task);
        debates += 1;
        usage.tokens += state.spentTokens;
        for (const entry of Object.values(state.usage)) {
          usage.calls += entry.calls;
          usage.estimated ||= entry.estimatedCalls > 0;
        }
        firstError ??= state.rounds
          .flatMap((round) => round.drops.filter((drop) => drop.reason === "error"))
          .map((drop) => drop.detail)[0];
        // A whole epoch without a single paid call: the backend is down, or the budget pays for nothing.
        if (debates === training.length && usage.tokens === 0) {
          if (firstError === undefined) {
            throw new MultiAgentSetupError(
              `a budget of ${budget} tokens per example pays for no debate round of ${agents.length} agents (the first epoch made no call): raise the budget (--budget, or sweep.budgetsTokens)`,
            );
          }
          throw new LiveBackendError({
            backend: backend.kind,
            problem: `no call succeeded in the first epoch (first error: ${firstError}): nothing to learn from`,
          });
        }
        return state;
      },
      isCorrect: (answer, promptId) => isRightAnswer(taskOf.get(promptId) as LiveTask, answer),
      ...(onEpoch === undefined ? {} : { onEpoch: (epoch: TrainingEpoch) => onEpoch(epoch, epochs) }),
    });
    return {
      aggressiveness: result.aggressiveness,
      history: result.history,
      agents: named,
      benchmark: data.benchmark,
      budget,
      settings: { epochs, lambda, learningRate, noise, seed: config.seed },
      split: { training: training.map((task) => task.promptId), evaluation: evaluation.map((task) => task.promptId) },
      usage,
    };
  } finally {
    await pool.dispose();
  }
}

/**
 * The budget α is trained at when none is given: the median of the config's token-budget sweep
 * (`debateBudgetsOf`). For an even count it is the larger of the two middle budgets, so it is always a
 * budget the sweep evaluates, and the one more likely to pay for a debate round.
 *
 * @example
 * ```ts
 * defaultTrainingBudget(config); // 1024 for budgetsTokens [256, 512, 1024, 1536, 2048]; 1024 for [256, 512, 1024, 2048]
 * ```
 */
export function defaultTrainingBudget(config: ExperimentConfig): number {
  const budgets = debateBudgetsOf(config);
  return budgets[Math.floor(budgets.length / 2)] as number;
}

// ---------------------------------------------------------------------------------------------
// The split
// ---------------------------------------------------------------------------------------------

/**
 * The training questions: every problem of the benchmark file (no `limit`, no `maxPrompts`) except the
 * evaluation sample, then a seeded sample of `count` of them (`splitPromptIds` with the config's seed,
 * the sampler of `maxPrompts`). File order.
 */
async function trainingSplit(
  config: ExperimentConfig,
  evaluation: readonly LiveTask[],
  count: number,
  pythonRunner: PythonRunner | undefined,
): Promise<LiveTask[]> {
  const { data } = config;
  if (data.source !== "benchmark") throw new Error("trainingSplit: needs benchmark data");
  const everything = await loadLiveTasks({
    benchmark: data.benchmark,
    seed: config.seed,
    ...(data.path === undefined ? {} : { path: data.path }),
    ...(pythonRunner === undefined ? {} : { pythonRunner }),
  });
  const asked = new Set(evaluation.map((task) => task.promptId));
  const rest = everything.filter((task) => !asked.has(task.promptId));
  if (rest.length === 0) {
    throw new DataError({
      file: data.path ?? data.benchmark,
      fields: ["data.maxPrompts"],
      problem: `the evaluation sample takes all ${everything.length} problems, so none is left to train on: lower data.limit or data.maxPrompts`,
    });
  }
  if (count >= rest.length) return rest;
  const kept = new Set(
    splitPromptIds(
      rest.map((task) => task.promptId),
      { trainFraction: count / rest.length, seed: config.seed },
    ).train,
  );
  return rest.filter((task) => kept.has(task.promptId));
}

// ---------------------------------------------------------------------------------------------
// Setup checks
// ---------------------------------------------------------------------------------------------

type DebateExperiment = ExperimentConfig & {
  data: Extract<ExperimentConfig["data"], { source: "benchmark" }>;
  backend: Extract<ExperimentConfig["backend"], { kind: "openai" | "openrouter" | "ollama" | "llamacpp" }>;
};

/** The config, narrowed; or a ConfigFileError naming each key that rules it out and how to fix it. */
function requireDebateExperiment(config: ExperimentConfig, file = "experiment config"): DebateExperiment {
  const issues: Array<{ field: string; message: string }> = [];
  if (config.mode !== "debate") {
    issues.push({
      field: "mode",
      message: `gavel train debate trains the agents of a multi-agent experiment: set mode: debate (this file has mode: ${config.mode})`,
    });
  }
  if (config.data.source !== "benchmark") {
    issues.push({
      field: "data.source",
      message:
        "the training questions come from a benchmark: set data.source: benchmark with data.benchmark (gsm8k, svamp, mmlu, humaneval, mbpp)",
    });
  }
  if (!isLiveBackend(config.backend)) {
    issues.push({
      field: "backend.kind",
      message: `REINFORCE reruns the debate with every sampled α, so the agents must answer live: set backend.kind to openai, openrouter, ollama or llamacpp (this file has ${config.backend.kind})`,
    });
  }
  if (issues.length > 0) throw new ConfigFileError(file, issues);
  return config as DebateExperiment;
}
