/**
 * A multi-agent experiment (`mode: debate`): for every token budget of the sweep, the sampled benchmark
 * questions are answered by each mechanism over the config's live pool — the gated debate (`intent`),
 * DALA's original (`full_draft`), belief coordination (`econ`) — plus the full-communication debate
 * (`full`, unbudgeted, run once) as the baseline. Every example's real usage, answer and verdict is
 * appended to `<output>/multiagent-runs.jsonl`, which a rerun reads back instead of asking again.
 *
 * Read top to bottom: the options and the record, the sweep, one example per mechanism, the cache.
 */
import { existsSync } from "node:fs";
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { z } from "zod";
import { createTokenBudget } from "../../budget/budget.js";
import { costUsd } from "../../budget/prices.js";
import { countMessageTokens } from "../../budget/tokens.js";
import type { ModelPrice } from "../../budget/types.js";
import { createBeliefCoordination } from "../../coordination/graph.js";
import { COORDINATOR_TOKEN_LIMIT, executorMessages, strategyMessages } from "../../coordination/prompts.js";
import { createAuctionDebate } from "../../debate/graph.js";
import type { AuctionDebateStateType } from "../../debate/state.js";
import { parseAggressiveness } from "../../debate/training.js";
import { GavelError } from "../../errors.js";
import { parseJsonLines } from "../../jsonl.js";
import { isChatModel, promptTokensOf } from "../../models.js";
import { mapWithConcurrency } from "../concurrency.js";
import type { PythonRunner } from "../data/python.js";
import { DataError } from "../errors.js";
import { debateBudgetsOf, type ExperimentConfig, type MULTI_AGENT_MECHANISMS } from "../experiment/config.js";
import { LiveBackendError } from "../live/errors.js";
import { isLiveBackend, type LivePool, type LivePoolOptions } from "../live/pool.js";
import { createLiveBenchmark } from "../live/run.js";
import type { LiveTask } from "../live/tasks.js";
import type { EvalReport } from "../report/results.js";
import type { EmbeddingsLike } from "../routing/embedding.js";
import type { EvaluationProgress } from "../routing/options.js";
import { answerParserOf } from "./answers.js";
import { multiAgentReport } from "./report.js";

/** A mechanism of a multi-agent experiment. */
export type MultiAgentMechanism = (typeof MULTI_AGENT_MECHANISMS)[number];

/** File name of the per-example cache in the output folder. */
export const MULTI_AGENT_RUNS_FILE = "multiagent-runs.jsonl";

/** One agent of the experiment: a pool model under a bidder name. */
export interface MultiAgentAgent {
  name: string;
  /** The pool model's name (prices, outcomes). */
  model: string;
  role?: string;
  price: ModelPrice;
  chatModel: BaseChatModel;
}

/** Options of {@link runMultiAgentSweep}. */
export interface MultiAgentSweepOptions {
  /** A validated experiment with `mode: debate`, `data.source: benchmark` and a live backend. */
  config: ExperimentConfig;
  /** Where API keys are read from (read once, by the pool). */
  env: Readonly<Record<string, string | undefined>>;
  /** The embedder of belief coordination's beliefs (the CLI passes the config's `embedder`). */
  embeddings: EmbeddingsLike;
  /** Builds local GGUF models (the CLI passes `LlamaCppChatModel`). */
  createLlamaCppModel?: LivePoolOptions["createLlamaCppModel"];
  /** Runs code answers (HumanEval, MBPP). Default: `createPythonRunner()`. */
  pythonRunner?: PythonRunner;
  onProgress?: (event: EvaluationProgress) => void;
  /** Checks that an Ollama server answers before any call. Default: `GET <baseURL>/models`, 5 s. */
  probe?: (url: string) => Promise<void>;
  configFile?: string;
  /** Clock of the report's `createdAt`. */
  now?: () => Date;
}

const runRecordSchema = z.object({
  mechanism: z.enum(["intent", "full_draft", "full", "econ"]),
  /** Tokens per example the run was held to; `null` for the unbudgeted full-communication baseline. */
  budget: z.number().int().positive().nullable(),
  promptId: z.string(),
  /** The agents, `name=model` joined by commas: a cache line of another agent set is not reused. */
  agents: z.string(),
  answer: z.string().nullable(),
  correct: z.boolean(),
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  /** Some usage was counted with the tokenizer (the provider reported none). */
  estimated: z.boolean(),
  calls: z.number().int().nonnegative(),
  callsByModel: z.record(z.string(), z.number()),
  usd: z.number().nonnegative(),
  rounds: z.number().int().nonnegative(),
  stopReason: z.string(),
  /** Belief coordination only: the output cap its executors got, sized from what the budget left. */
  executorCap: z.number().int().positive().optional(),
  /** Belief coordination only: not even a 16-token executor round fit the budget, so nobody was called. */
  unaffordable: z.literal(true).optional(),
  /** The example failed as a whole (its usage is lost) or some agent calls failed: the first message. */
  error: z.string().optional(),
});

/** One example answered by one mechanism at one budget: a line of `multiagent-runs.jsonl`. */
export type MultiAgentRunRecord = z.infer<typeof runRecordSchema>;

/** What {@link runMultiAgentSweep} returns. */
export interface MultiAgentSweep {
  report: EvalReport;
  /** Every example run of this sweep (reused cache lines included). */
  records: MultiAgentRunRecord[];
  runsPath: string;
  /** Runs answered now, and reused from the cache. */
  asked: number;
  reused: number;
  /** Pool models with no price (local): their calls count 0 USD. */
  unpricedModels: string[];
}

/** A debate experiment that cannot start (no usable chat model, ...). */
export class MultiAgentSetupError extends GavelError {
  override readonly name = "MultiAgentSetupError";
}

// ---------------------------------------------------------------------------------------------
// The sweep
// ---------------------------------------------------------------------------------------------

/**
 * Run a `mode: debate` experiment: every mechanism of `debate.mechanisms` on the sampled benchmark
 * questions at every budget of `sweep.budgetsTokens` (the full-communication baseline once, unbudgeted),
 * counting the providers' real usage, and build its report (policies = mechanisms, points = budgets).
 *
 * @throws MissingApiKeyError naming the variable, before any call.
 * @throws DataError when a GGUF file is missing; LiveBackendError when Ollama does not answer or no call succeeded.
 * @example
 * ```ts
 * const config = await loadExperimentConfig("configs/budget_sweep.yaml");
 * const { report } = await runMultiAgentSweep({ config, env: process.env, embeddings: createHashingEmbeddings() });
 * await writeReport(report, config.output);
 * ```
 */
export async function runMultiAgentSweep(options: MultiAgentSweepOptions): Promise<MultiAgentSweep> {
  const { config, embeddings, onProgress } = options;
  const { data, backend } = config;
  if (config.mode !== "debate" || data.source !== "benchmark" || !isLiveBackend(backend)) {
    throw new MultiAgentSetupError("runMultiAgentSweep: needs mode debate, data.source benchmark and a live backend");
  }
  const settings = debateSettingsOf(config);
  const { pool, tasks } = await createLiveBenchmark(config, options);
  try {
    const agents = agentsOf(pool, settings.agents);
    const budgets = debateBudgetsOf(config);
    const runsPath = join(config.output, MULTI_AGENT_RUNS_FILE);
    const aggressiveness =
      settings.aggressiveness === undefined ? undefined : await readAggressiveness(settings.aggressiveness, agents);
    const signature = runSignature(agents, aggressiveness);
    const cache = await readRunCache(runsPath, signature);
    await mkdir(dirname(runsPath), { recursive: true });

    const parseAnswer = answerParserOf(data.benchmark);
    const example: ExampleSettings = {
      agents,
      parseAnswer,
      embeddings,
      maxRounds: settings.maxRounds,
      auction: settings.auction,
      topK: settings.topK,
      seed: config.seed,
      signature,
      ...(aggressiveness === undefined ? {} : { aggressiveness }),
    };
    // The passes: the full-communication baseline once (unbudgeted), every other mechanism at every budget.
    const passes: Array<{ mechanism: MultiAgentMechanism; budget: number | null }> = [];
    if (settings.mechanisms.includes("full")) passes.push({ mechanism: "full", budget: null });
    for (const budget of budgets) {
      for (const mechanism of settings.mechanisms) if (mechanism !== "full") passes.push({ mechanism, budget });
    }

    const records: MultiAgentRunRecord[] = [];
    let asked = 0;
    let reused = 0;
    for (const pass of passes) {
      const run = passRunner(example, pass.mechanism, pass.budget);
      let done = 0;
      const total = tasks.length;
      const policy = pass.mechanism;
      const parameter = pass.budget ?? undefined;
      onProgress?.({ phase: "route", policy, ...(parameter === undefined ? {} : { parameter }), done, total });
      const results = await mapWithConcurrency(tasks, backend.concurrency, async (task) => {
        const key = cacheKey(pass.mechanism, pass.budget, task.promptId);
        let record = cache.get(key);
        if (record === undefined) {
          record = await run(task);
          await appendFile(runsPath, `${JSON.stringify(record)}\n`, "utf8");
          asked += 1;
        } else {
          reused += 1;
        }
        done += 1;
        onProgress?.({ phase: "route", policy, ...(parameter === undefined ? {} : { parameter }), done, total });
        return record;
      });
      records.push(...results);
    }

    if (asked > 0 && records.every((record) => record.inputTokens + record.outputTokens === 0)) {
      const failed = records.find((record) => record.error !== undefined);
      throw new LiveBackendError({
        backend: backend.kind,
        problem: `no call succeeded${failed?.error === undefined ? "" : ` (first error: ${failed.error})`}: nothing to report (see ${runsPath})`,
      });
    }
    const report = multiAgentReport({
      config,
      tasks: tasks.length,
      agents,
      budgets,
      mechanisms: settings.mechanisms,
      records,
      createdAt: (options.now ?? (() => new Date()))(),
    });
    return {
      report,
      records,
      runsPath,
      asked,
      reused,
      unpricedModels: pool.models.filter((entry) => entry.unpriced).map((entry) => entry.name),
    };
  } finally {
    await pool.dispose();
  }
}

/**
 * The `debate` settings of an experiment, with the schema's defaults when the file has no `debate` key.
 *
 * @example
 * ```ts
 * const { maxRounds, auction, topK } = debateSettingsOf(config); // 3, "second_price", 1 without a debate key
 * ```
 */
export function debateSettingsOf(config: ExperimentConfig): NonNullable<ExperimentConfig["debate"]> {
  return (
    config.debate ?? {
      mechanisms: ["intent", "full_draft", "full", "econ"] as MultiAgentMechanism[],
      maxRounds: 3,
      auction: "second_price" as const,
      topK: 1,
    }
  );
}

/**
 * The agents: `debate.agents` of the config (each naming a pool model), or one agent per pool model,
 * named after it (characters other than letters, digits, `_`, `.`, `-` become `-`).
 *
 * @throws MultiAgentSetupError when an agent names no pool model or a pool model is not a chat model.
 * @example
 * ```ts
 * const { pool } = await createLiveBenchmark(config, { env: process.env });
 * const agents = agentsOf(pool, debateSettingsOf(config).agents); // [{ name, model, price, chatModel, role? }]
 * ```
 */
export function agentsOf(
  pool: LivePool,
  configured: NonNullable<ExperimentConfig["debate"]>["agents"],
): MultiAgentAgent[] {
  const byName = new Map(pool.models.map((entry) => [entry.name, entry]));
  const wanted =
    configured ??
    pool.models.map((entry, index) => {
      const name = entry.name.replace(/[^\w.-]/g, "-");
      const clash = pool.models.some(
        (other, position) => position < index && other.name.replace(/[^\w.-]/g, "-") === name,
      );
      return { name: clash ? `${name}-${index + 1}` : name, model: entry.name };
    });
  return wanted.map((agent) => {
    const entry = byName.get(agent.model);
    if (entry === undefined) {
      throw new MultiAgentSetupError(`debate.agents: "${agent.model}" is not a model of the pool`);
    }
    if (!isChatModel(entry.model)) {
      throw new MultiAgentSetupError(
        `${entry.name}: the debate needs a LangChain chat model (BaseChatModel), got a model without _modelType`,
      );
    }
    return {
      name: agent.name,
      model: entry.name,
      price: entry.price,
      chatModel: entry.model,
      ...("role" in agent && typeof agent.role === "string" ? { role: agent.role } : {}),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// One example, per mechanism
// ---------------------------------------------------------------------------------------------

/** What every debate of an experiment shares: its agents, answer parser and `debate` settings. */
export interface ExperimentDebateSettings {
  agents: MultiAgentAgent[];
  parseAnswer: (text: string) => string | undefined;
  maxRounds: number;
  auction: NonNullable<ExperimentConfig["debate"]>["auction"];
  topK: number;
  seed: number;
}

interface ExampleSettings extends ExperimentDebateSettings {
  embeddings: EmbeddingsLike;
  /** What a cache line must say in `agents` to be reused, per mechanism (see {@link runSignature}). */
  signature: (mechanism: MultiAgentMechanism) => string;
  /** α of the gated debates (`debate.aggressiveness`); default 1 for every agent. */
  aggressiveness?: Readonly<Record<string, number>>;
}

/** Mechanisms whose agents bid, so that α changes what they do. */
const BIDDING_MECHANISMS: ReadonlySet<MultiAgentMechanism> = new Set(["intent", "full_draft"]);

/**
 * The cache signature of a run: the agents as `name=model` joined by commas, and for the bidding
 * mechanisms the α in force (`|α=name:value,...`), so a line of another agent set or another α is
 * asked again, while the full debate and belief coordination (no bids) keep their lines.
 */
function runSignature(
  agents: readonly MultiAgentAgent[],
  aggressiveness: Readonly<Record<string, number>> | undefined,
): (mechanism: MultiAgentMechanism) => string {
  const base = agents.map((agent) => `${agent.name}=${agent.model}`).join(",");
  if (aggressiveness === undefined) return () => base;
  const alpha = agents.map((agent) => `${agent.name}:${aggressiveness[agent.name] ?? 1}`).join(",");
  return (mechanism) => (BIDDING_MECHANISMS.has(mechanism) ? `${base}|α=${alpha}` : base);
}

/**
 * α saved by `gavel train debate` (`debate.aggressiveness`), checked against the agents: a name that is
 * no agent of this experiment is an error (α of another agent set), an agent without α bids with 1.
 */
async function readAggressiveness(path: string, agents: readonly MultiAgentAgent[]): Promise<Record<string, number>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new DataError(
      {
        file: path,
        fields: ["debate.aggressiveness"],
        problem: "cannot read the α file (write it with `gavel train debate --out`)",
      },
      { cause: error },
    );
  }
  let aggressiveness: Record<string, number>;
  try {
    aggressiveness = parseAggressiveness(text);
  } catch (error) {
    throw new DataError(
      { file: path, fields: ["debate.aggressiveness"], problem: (error as Error).message },
      { cause: error },
    );
  }
  const names = new Set(agents.map((agent) => agent.name));
  const strangers = Object.keys(aggressiveness).filter((name) => !names.has(name));
  if (strangers.length > 0) {
    throw new DataError({
      file: path,
      fields: ["debate.aggressiveness"],
      problem: `α for ${strangers.join(", ")}, which ${strangers.length === 1 ? "is" : "are"} not agents of this experiment (${[...names].join(", ")}): train α with this config's agents`,
    });
  }
  return aggressiveness;
}

/** The unbudgeted full-communication baseline's ceiling: never reached. */
const UNBOUNDED_TOKENS = Number.MAX_SAFE_INTEGER;
/** The graphs' own defaults, which smaller budgets scale down (see {@link outputCaps}, {@link econExecutorCap}). */
const MESSAGE_CAP = 192;
const INTENT_CAP = 48;
const EXECUTOR_CAP = 512;
/** The smallest executor answer worth paying for (`Answer: …` and `Confidence: …` lines). */
export const MIN_EXECUTOR_CAP = 16;

/**
 * The debates' output caps scaled to the budget so a small budget still pays for a round: a message
 * gets at most a `2 × agents`-th of the budget (between 32 and 192), an intent a `4 × agents`-th
 * (between 16 and 48). Belief coordination sizes its executors per question: {@link econExecutorCap}.
 */
export function outputCaps(budget: number | null, agents: number): { message: number; intent: number } {
  if (budget === null) return { message: MESSAGE_CAP, intent: INTENT_CAP };
  const clamp = (value: number, low: number, high: number) => Math.max(low, Math.min(high, Math.floor(value)));
  return {
    message: clamp(budget / (2 * agents), 32, MESSAGE_CAP),
    intent: clamp(budget / (4 * agents), 16, INTENT_CAP),
  };
}

/** Options of {@link econExecutorCap}. */
export interface EconExecutorCapOptions {
  question: string;
  /** Tokens per example; `null`: unbudgeted (the graph's default cap, 512). */
  budget: number | null;
  /** The coordinator's model name (its tokenizer). */
  coordinatorModel: string;
  /** Every executor: its name (part of its prompt) and model name. */
  executors: ReadonlyArray<{ name: string; model: string }>;
}

/**
 * The output cap of belief coordination's executors for one question: what the budget leaves for the
 * first round once the coordinator's strategy (prompt + its 50-token cap) and every executor's prompt
 * are paid, shared between the executors — `floor(left / executors)`, at most 512. Prompts are counted
 * with the tokenizer on the messages the graph sends, the strategy (not written yet) at its 50-token
 * bound. The commitment is paid from what the executors leave unused; when it does not fit, the graph
 * commits the belief-equilibrium candidate. `undefined` when not even a 16-token cap fits: the example
 * is unaffordable and nobody should be called. This counts with js-tiktoken (model names only); the
 * sweep applies the same rule with `promptTokensOf` on the agents' models, as the graph reserves, so a
 * local model's prompts are counted by its own tokenizer (about 3× tiktoken's count on the tiny model).
 *
 * @example
 * ```ts
 * const cap = econExecutorCap({
 *   question: "What is 17 * 3?",
 *   budget: 1024,
 *   coordinatorModel: "gpt-4o-mini",
 *   executors: [{ name: "a", model: "gpt-4o-mini" }, { name: "b", model: "gpt-4.1-nano" }],
 * }); // a number of tokens, or undefined
 * ```
 */
export function econExecutorCap(options: EconExecutorCapOptions): number | undefined {
  const { question, budget, coordinatorModel, executors } = options;
  if (budget === null) return EXECUTOR_CAP;
  const strategy = countMessageTokens(strategyMessages(question, COORDINATOR_TOKEN_LIMIT), coordinatorModel);
  const prompts = executors.map((executor) =>
    countMessageTokens(firstExecutorMessages(executor.name, question), executor.model),
  );
  return executorCapFrom(budget, strategy, prompts);
}

/** An executor's first-round prompt before the strategy is written (the strategy is paid at its bound). */
function firstExecutorMessages(executor: string, question: string) {
  return executorMessages({ executor, question, strategy: "", previousCommitment: undefined });
}

/** `floor((budget − strategy − Σ prompts) / executors)` at most 512, each prompt + the 50-token strategy bound. */
function executorCapFrom(
  budget: number,
  strategyPrompt: number,
  executorPrompts: readonly number[],
): number | undefined {
  const strategy = strategyPrompt + COORDINATOR_TOKEN_LIMIT;
  const prompts = executorPrompts.reduce((sum, prompt) => sum + prompt + COORDINATOR_TOKEN_LIMIT, 0);
  const cap = Math.min(EXECUTOR_CAP, Math.floor((budget - strategy - prompts) / Math.max(1, executorPrompts.length)));
  return cap < MIN_EXECUTOR_CAP ? undefined : cap;
}

/** Answers one task with one mechanism at one budget; never throws for a failing example. */
function passRunner(
  settings: ExampleSettings,
  mechanism: MultiAgentMechanism,
  budget: number | null,
): (task: LiveTask) => Promise<MultiAgentRunRecord> {
  const { agents } = settings;
  const modelOf = new Map(agents.map((agent) => [agent.name, agent]));
  const base = { mechanism, budget, agents: settings.signature(mechanism) };

  const tally = (
    usage: Array<{ agent: MultiAgentAgent; input: number; output: number; calls: number; estimated: boolean }>,
  ) => {
    const callsByModel: Record<string, number> = {};
    let usd = 0;
    for (const entry of usage) {
      callsByModel[entry.agent.model] = (callsByModel[entry.agent.model] ?? 0) + entry.calls;
      usd += costUsd(entry.agent.price, { inputTokens: entry.input, outputTokens: entry.output });
    }
    return {
      inputTokens: usage.reduce((sum, entry) => sum + entry.input, 0),
      outputTokens: usage.reduce((sum, entry) => sum + entry.output, 0),
      estimated: usage.some((entry) => entry.estimated),
      calls: usage.reduce((sum, entry) => sum + entry.calls, 0),
      callsByModel,
      usd,
    };
  };
  /** An example that spent nothing: it failed as a whole, or (belief coordination) was unaffordable. */
  const nothingSpent = (task: LiveTask, stopReason: string): MultiAgentRunRecord => ({
    ...base,
    promptId: task.promptId,
    answer: null,
    correct: false,
    inputTokens: 0,
    outputTokens: 0,
    estimated: false,
    calls: 0,
    callsByModel: {},
    usd: 0,
    rounds: 0,
    stopReason,
  });
  const failed = (task: LiveTask, error: unknown): MultiAgentRunRecord => ({
    ...nothingSpent(task, "error"),
    error: error instanceof Error ? error.message : String(error),
  });
  if (mechanism === "econ") {
    const [first] = agents;
    if (first === undefined) throw new MultiAgentSetupError("belief coordination needs at least one agent");
    const tokenBudget = budget === null ? undefined : createTokenBudget({ limits: { example: { maxTokens: budget } } });
    // One graph per executor cap (caps repeat across questions of similar length); all share the budget.
    const graphs = new Map<number, ReturnType<typeof createBeliefCoordination>>();
    const graphFor = (executorCap: number) => {
      let graph = graphs.get(executorCap);
      if (graph === undefined) {
        graph = createBeliefCoordination({
          coordinator: first.chatModel,
          executors: agents.map((agent) => ({ name: agent.name, model: agent.chatModel })),
          embeddings: asLangChainEmbeddings(settings.embeddings),
          parseAnswer: settings.parseAnswer,
          maxRounds: settings.maxRounds,
          seed: settings.seed,
          executorMaxTokens: executorCap,
          ...(tokenBudget === undefined ? {} : { budget: tokenBudget }),
        });
        graphs.set(executorCap, graph);
      }
      return graph;
    };
    return async (task) => {
      // Counted as the graph reserves (promptTokensOf: a local model's own tokenizer, not only tiktoken's).
      const executorCap =
        budget === null
          ? EXECUTOR_CAP
          : executorCapFrom(
              budget,
              await promptTokensOf(first.chatModel, strategyMessages(task.prompt, COORDINATOR_TOKEN_LIMIT)),
              await Promise.all(
                agents.map((agent) => promptTokensOf(agent.chatModel, firstExecutorMessages(agent.name, task.prompt))),
              ),
            );
      if (executorCap === undefined) {
        // Not even a 16-token executor round fits: no call (a strategy nobody could follow is waste).
        return { ...nothingSpent(task, "budget"), unaffordable: true };
      }
      try {
        const state = await graphFor(executorCap).invoke(
          { question: task.prompt, budgetScopes: { example: task.promptId } },
          { recursionLimit: 3 * settings.maxRounds + 10 },
        );
        const usage = Object.entries(state.usage).map(([name, entry]) => ({
          agent: name === "coordinator" ? first : (modelOf.get(name) ?? first),
          input: entry.inputTokens,
          output: entry.outputTokens,
          calls: entry.calls,
          estimated: entry.estimated,
        }));
        const errors = state.rounds.flatMap((round) => round.answers.flatMap((answer) => answer.error ?? []));
        return {
          ...base,
          promptId: task.promptId,
          answer: state.answer ?? null,
          correct: await isRightAnswer(task, state.answer),
          ...tally(usage),
          rounds: state.rounds.length,
          stopReason: state.stopReason ?? "max-rounds",
          executorCap,
          ...(errors[0] === undefined ? {} : { error: errors[0] }),
        };
      } catch (error) {
        return failed(task, error);
      }
    };
  }

  const debate = experimentDebate(
    settings,
    mechanism,
    budget,
    BIDDING_MECHANISMS.has(mechanism) ? settings.aggressiveness : undefined,
  );
  return async (task) => {
    try {
      const state = await debate(task);
      const usage = Object.entries(state.usage).map(([name, entry]) => ({
        agent: modelOf.get(name) ?? (agents[0] as MultiAgentAgent),
        input: entry.promptTokens,
        output: entry.completionTokens,
        calls: entry.calls,
        estimated: entry.estimatedCalls > 0,
      }));
      const errors = state.rounds.flatMap((round) =>
        round.drops.filter((drop) => drop.reason === "error").map((drop) => drop.detail),
      );
      return {
        ...base,
        promptId: task.promptId,
        answer: state.finalAnswer ?? null,
        correct: await isRightAnswer(task, state.finalAnswer),
        ...tally(usage),
        rounds: state.rounds.length,
        stopReason: state.stopReason ?? "max_rounds",
        ...(errors[0] === undefined ? {} : { error: errors[0] }),
      };
    } catch (error) {
      return failed(task, error);
    }
  };
}

/**
 * A task's verdict on a debate's final answer: no answer is wrong; otherwise the benchmark's own checker.
 *
 * @example
 * ```ts
 * await isRightAnswer(task, state.finalAnswer); // false when the debate ended without an answer
 * ```
 */
export async function isRightAnswer(task: LiveTask, answer: string | undefined): Promise<boolean> {
  return answer !== undefined && (await task.check(answer));
}

/**
 * One debate of an experiment (`intent`, `full_draft` or `full`) at one budget, as a function of the
 * task: the graph is built once with the caps of {@link outputCaps} and the given α (default 1 for
 * every agent), and every call invokes it on one task (the prompt id is the ledger's example id). A
 * failing agent call is a drop in the state; only a broken graph throws.
 *
 * @example
 * ```ts
 * const debate = experimentDebate(settings, "intent", 1024, { solver: 1.3, critic: 0.7 });
 * const state = await debate(task);
 * await isRightAnswer(task, state.finalAnswer);
 * ```
 */
export function experimentDebate(
  settings: ExperimentDebateSettings,
  mechanism: Exclude<MultiAgentMechanism, "econ">,
  budget: number | null,
  aggressiveness?: Readonly<Record<string, number>>,
): (task: LiveTask) => Promise<AuctionDebateStateType> {
  const { agents } = settings;
  const caps = outputCaps(budget, agents.length);
  const graph = createAuctionDebate({
    agents: agents.map((agent) => ({
      name: agent.name,
      model: agent.chatModel,
      ...(agent.role === undefined ? {} : { role: agent.role }),
    })),
    mode: mechanism,
    mechanism: settings.auction,
    budget: budget ?? UNBOUNDED_TOKENS,
    maxRounds: settings.maxRounds,
    topK: settings.topK,
    parseAnswer: settings.parseAnswer,
    seed: settings.seed,
    messageMaxTokens: caps.message,
    intentMaxTokens: caps.intent,
    ...(aggressiveness === undefined ? {} : { aggressiveness: { ...aggressiveness } }),
    name: `debate_${mechanism}`,
  });
  return (task) =>
    graph.invoke({ question: task.prompt, exampleId: task.promptId }, { recursionLimit: settings.maxRounds + 10 });
}

/** `embedQuery` from `embedDocuments`, for a LangChain `EmbeddingsInterface`. */
function asLangChainEmbeddings(embeddings: EmbeddingsLike): EmbeddingsInterface {
  return {
    embedDocuments: (texts) => embeddings.embedDocuments(texts),
    embedQuery: async (text) => (await embeddings.embedDocuments([text]))[0] ?? [],
  };
}

// ---------------------------------------------------------------------------------------------
// The cache
// ---------------------------------------------------------------------------------------------

function cacheKey(mechanism: MultiAgentMechanism, budget: number | null, promptId: string): string {
  return `${mechanism}|${budget ?? "unbudgeted"}|${promptId}`;
}

/**
 * The cached runs of this agent set, by key. The file is read by the one JSONL rule (`src/jsonl.ts`)
 * with `torn: "any"`: a line that is not JSON (a run killed mid-write, appended after by the next run)
 * is skipped and asked again. Lines of another agent set or an older format, failed examples, and
 * belief-coordination lines without `executorCap` or `unaffordable` (written before its executors were
 * sized per question) are asked again too.
 */
async function readRunCache(
  path: string,
  signature: (mechanism: MultiAgentMechanism) => string,
): Promise<Map<string, MultiAgentRunRecord>> {
  const cache = new Map<string, MultiAgentRunRecord>();
  if (!existsSync(path)) return cache;
  const lines = parseJsonLines(await readFile(path, "utf8"), { schema: z.unknown(), file: path, torn: "any" });
  for (const { value } of lines) {
    const parsed = runRecordSchema.safeParse(value);
    if (
      !parsed.success ||
      parsed.data.agents !== signature(parsed.data.mechanism) ||
      parsed.data.stopReason === "error"
    )
      continue;
    // Belief coordination lines written before executor caps were sized per question are asked again.
    const { mechanism, executorCap, unaffordable } = parsed.data;
    if (mechanism === "econ" && executorCap === undefined && unaffordable === undefined) continue;
    cache.set(cacheKey(parsed.data.mechanism, parsed.data.budget, parsed.data.promptId), parsed.data);
  }
  return cache;
}
