/**
 * `createBeliefCoordination`: ECON-style belief coordination as a compiled LangGraph graph.
 *
 * Nodes, in order: `write_strategy` (coordinator, ≤ 50 tokens, guarded against stating the answer)
 * → `execute` (every executor answers in parallel, seeing the question, the strategy and the
 * previous commitment; its reply is embedded and its confidence read) → `refine_beliefs` (ECON's belief
 * update, then the commitment candidate by weighted vote) → `commit` (coordinator, ≤ 50 tokens,
 * sees parsed answers and scores only) → back to `execute` until the commitment's parsed answer
 * is the same twice in a row, or `maxRounds`, or the budget cannot pay for the next call.
 *
 * Every model call has a deadline (`timeoutMs`, `runWithDeadline`: abandoned even when the model
 * ignores its abort signal); an abandoned call's reservation is charged at what the provider bills
 * (`closeAbandoned`, `billAbandonedCalls`) and the run goes on without it (see `invokeHeld`).
 */
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { AIMessage, BaseMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { z } from "zod";
import { closeAbandoned } from "../budget/abandoned.js";
import { BudgetExhaustedError, type Reservation, type ScopeIds, usageFromMessage } from "../budget/index.js";
import { releaseQuietly, type SharedTokenBudget, settleQuietly, sharedTokenBudgetSchema } from "../budget/shared.js";
import { parseConfig } from "../errors.js";
import {
  type BudgetableModel,
  cappedCopy,
  declaredOutputCap,
  isChatModel,
  modelName,
  promptTokensOf,
} from "../models.js";
import { DeadlineExceededError, runWithDeadline, timeoutMsSchema } from "../timeouts.js";
import { buildBelief, refineBeliefs } from "./beliefs.js";
import { type ConfidenceSource, confidenceOf } from "./confidence.js";
import { type CandidateSelection, selectCommitmentCandidate } from "./consensus.js";
import { CoordinationError } from "./errors.js";
import {
  COORDINATOR_TOKEN_LIMIT,
  commitmentMessages,
  executorMessages,
  guardStrategy,
  strategyMessages,
  truncateToTokens,
} from "./prompts.js";
import { type ExecutorWeights, executorWeightsSchema, weightMap } from "./weights.js";

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/**
 * Name under which the coordinator's usage is recorded (an executor may not take it).
 *
 * @example
 * ```ts
 * createBeliefCoordination({ coordinator, executors: [{ name: COORDINATOR_NAME, model }], embeddings, parseAnswer });
 * // throws ConfigError: "coordinator" is reserved
 * ```
 */
export const COORDINATOR_NAME = "coordinator";
/**
 * Default output cap of an executor's answer.
 *
 * @example
 * ```ts
 * createBeliefCoordination({ coordinator, executors, embeddings, parseAnswer }); // executors capped at 512 tokens
 * createBeliefCoordination({ coordinator, executors, embeddings, parseAnswer, executorMaxTokens: 1024 });
 * ```
 */
export const DEFAULT_EXECUTOR_MAX_TOKENS = 512;
/**
 * Default deadline of one model call (strategy, executor answer, commitment), in ms: 5 minutes,
 * the router's `DEFAULT_ANSWER_TIMEOUT_MS`. A call writes at most `executorMaxTokens` (512) tokens,
 * so a healthy one, even a local model on a CPU, finishes far inside it; the same bound as the
 * router's answer keeps one rule for "a model call that never ends", while a hung agent (or one
 * that ignores its abort signal) no longer holds the whole graph.
 *
 * @example
 * ```ts
 * createBeliefCoordination({ coordinator, executors, embeddings, parseAnswer }); // calls abandoned after 300000 ms
 * createBeliefCoordination({ coordinator, executors, embeddings, parseAnswer, timeoutMs: 30_000 });
 * ```
 */
export const DEFAULT_COORDINATION_TIMEOUT_MS = 300_000;

const chatModel = z.custom<BaseChatModel>(isChatModel, { message: "must be a LangChain chat model" });
const isFunction = (value: unknown) => typeof value === "function";

/** The `weights` option as `{ executor: weight }`: a plain map as given, saved weights through `weightMap`. */
function weightsByExecutor(weights: Record<string, number> | ExecutorWeights): Record<string, number> {
  return "version" in weights ? weightMap(weights as ExecutorWeights) : (weights as Record<string, number>);
}

/**
 * Zod schema of {@link BeliefCoordinationOptions}, parsed once by {@link createBeliefCoordination}.
 *
 * @example
 * ```ts
 * const result = beliefCoordinationOptionsSchema.safeParse({ coordinator, executors: [], embeddings, parseAnswer });
 * result.success; // false
 * result.error?.issues[0]?.path; // ["executors"]: at least one executor
 * ```
 */
export const beliefCoordinationOptionsSchema = z
  .object({
    coordinator: chatModel,
    executors: z
      .array(
        z.object({ name: z.string().regex(/^[\w.-]+$/, "letters, digits, _ . - only"), model: chatModel }).strict(),
      )
      .min(1),
    embeddings: z.custom<EmbeddingsInterface>(
      (value) => typeof (value as { embedDocuments?: unknown } | null)?.embedDocuments === "function",
      { message: "must be a LangChain Embeddings (with embedDocuments)" },
    ),
    parseAnswer: z.custom<(text: string) => string | undefined>(isFunction, { message: "must be a function" }),
    maxRounds: z.number().int().min(1).max(20).default(3),
    beliefIterations: z.number().int().nonnegative().default(5),
    tolerance: z.number().nonnegative().default(0.01),
    stepSize: z.number().nonnegative().default(0.1),
    weights: z.union([z.record(z.string(), z.number().nonnegative()), executorWeightsSchema]).optional(),
    budget: sharedTokenBudgetSchema.optional(),
    budgetScopes: z
      .object({ thread: z.string().min(1), run: z.string().min(1), example: z.string().min(1) })
      .partial()
      .strict()
      .optional(),
    seed: z.number().int().default(0),
    candidateRule: z.enum(["weighted-vote", "closest-to-mean"]).default("weighted-vote"),
    strategyAnswerCheck: z.enum(["strip", "reject", "off"]).default("strip"),
    coordinatorMaxTokens: z.number().int().min(1).max(COORDINATOR_TOKEN_LIMIT).default(COORDINATOR_TOKEN_LIMIT),
    executorMaxTokens: z.number().int().positive().default(DEFAULT_EXECUTOR_MAX_TOKENS),
    timeoutMs: timeoutMsSchema.default(DEFAULT_COORDINATION_TIMEOUT_MS),
    billAbandonedCalls: z.boolean().default(true),
    name: z.string().min(1).default("belief_coordination"),
  })
  .strict()
  .superRefine((options, context) => {
    const names = options.executors.map((executor) => executor.name);
    names.forEach((name, index) => {
      if (name === COORDINATOR_NAME) {
        context.addIssue({
          code: "custom",
          path: ["executors", index, "name"],
          message: `"${COORDINATOR_NAME}" is reserved`,
        });
      } else if (names.indexOf(name) !== index) {
        context.addIssue({
          code: "custom",
          path: ["executors", index, "name"],
          message: `duplicate executor name "${name}"`,
        });
      }
    });
    if (options.weights !== undefined) {
      const map = weightsByExecutor(options.weights);
      for (const name of names) {
        if (typeof map[name] !== "number") {
          context.addIssue({ code: "custom", path: ["weights", name], message: `no weight for executor "${name}"` });
        }
      }
    }
  });

/** Options of {@link createBeliefCoordination}. */
export type BeliefCoordinationOptions = z.input<typeof beliefCoordinationOptionsSchema>;

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

/** Real (or, when the provider gave none, tokenizer-estimated) usage of one agent. */
export interface CoordinationAgentUsage {
  model: string;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** True when any of its calls' usage was counted with the tokenizer. */
  estimated: boolean;
}

/** One executor's answer in one round. */
export interface ExecutorAnswer {
  executor: string;
  /** The full reply (kept in state for inspection; no other agent is shown it). */
  text: string;
  answer: string | undefined;
  confidence: number;
  confidenceSource: ConfidenceSource;
  /**
   * The executor's call failed (it threw, or missed `timeoutMs`: "… did not finish within N ms
   * and was abandoned."): its message. It then has no belief and no vote.
   */
  error?: string;
}

/** What happened in one round. */
export interface CoordinationRound {
  round: number;
  answers: ExecutorAnswer[];
  /** Belief refinement: updates run, ‖b − b_prev‖ per update, why it stopped. */
  refinement: { iterations: number; deltas: number[]; stoppedBy: string };
  selection: CandidateSelection;
  commitment: string;
  commitmentAnswer: string | undefined;
  /** `"coordinator"`, or `"candidate"` when the coordinator's commitment did not parse or the budget could not pay for it. */
  commitmentSource: "coordinator" | "candidate";
  /** The coordinator's commitment call missed `timeoutMs` (its message); the candidate was used. */
  commitmentError?: string;
}

/** Why the rounds ended. */
export type CoordinationStopReason = "stable" | "max-rounds" | "budget";

interface PendingRound {
  answers: ExecutorAnswer[];
  beliefs: number[][];
  selection?: CandidateSelection;
  refinement?: CoordinationRound["refinement"];
}

const replace = <T>(initial: () => T) => Annotation<T>({ reducer: (_previous, next) => next, default: initial });

/**
 * State of the coordination graph. Input: `question` (and optionally `budgetScopes`); output: `answer`, `commitment`, …
 *
 * @example
 * ```ts
 * const coordination = createBeliefCoordination({ coordinator, executors, embeddings, parseAnswer });
 * const state: typeof BeliefCoordinationState.State = await coordination.invoke({ question: "What is 17 × 3?" });
 * [state.answer, state.stopReason, state.rounds.length]; // e.g. ["51", "stable", 2]
 * ```
 */
export const BeliefCoordinationState = Annotation.Root({
  /** The problem. */
  question: Annotation<string>,
  /** Budget scopes of this run (override the `budgetScopes` option), e.g. `{ example: "gsm8k-17" }`. */
  budgetScopes: Annotation<ScopeIds | undefined>,
  strategy: replace<string>(() => ""),
  /** The strategy guard removed a stated answer. */
  strategyLeaked: replace<boolean>(() => false),
  /** The coordinator's strategy call missed `timeoutMs` (its message); executors then got no strategy. */
  strategyError: replace<string | undefined>(() => undefined),
  rounds: replace<CoordinationRound[]>(() => []),
  pending: replace<PendingRound | undefined>(() => undefined),
  /** The latest commitment (text). */
  commitment: replace<string | undefined>(() => undefined),
  /** The final answer: the parsed answer of the final commitment. */
  answer: replace<string | undefined>(() => undefined),
  stopReason: replace<CoordinationStopReason | undefined>(() => undefined),
  /** The budget refusal that stopped the run, if any. */
  stopDetail: replace<string | undefined>(() => undefined),
  /** Usage per agent (`"coordinator"` and each executor name). */
  usage: replace<Record<string, CoordinationAgentUsage>>(() => ({})),
});

type State = typeof BeliefCoordinationState.State;
type Update = typeof BeliefCoordinationState.Update;

// ---------------------------------------------------------------------------
// Model calls under the budget
// ---------------------------------------------------------------------------

interface CappedAgent {
  name: string;
  model: BudgetableModel;
  modelName: string;
  cap: number;
}

function capAgent(name: string, model: BaseChatModel, cap: number): CappedAgent {
  const declared = declaredOutputCap(model);
  if (declared !== undefined && declared <= cap) return { name, model, modelName: modelName(model), cap: declared };
  const copy = cappedCopy(model, cap);
  if (copy === undefined) {
    throw new CoordinationError(
      `Cannot cap ${name}'s output at ${cap} tokens: build the model with maxTokens ≤ ${cap}.`,
      { reason: "uncappable-model", agent: name },
    );
  }
  return { name, model: copy, modelName: modelName(model), cap };
}

interface CallResult {
  reply: AIMessage;
  text: string;
}

/** The deadline of every call, and what an abandoned call is charged. */
interface CallDeadline {
  timeoutMs: number;
  /** The caller's signal (the graph's `config.signal`). */
  signal: AbortSignal | undefined;
  billAbandonedCalls: boolean;
}

/**
 * A call whose room is already held (or no budget): invoke with a deadline, then settle (or
 * release on failure). A call abandoned at its deadline or on the caller's abort (even one whose
 * model ignores its signal) rejects at once; its reservation is charged at what the provider bills
 * (`closeAbandoned`: the late reply's usage when it comes within the grace period, else the whole
 * reservation; not awaited, the reservation holds its room until then), or released at zero
 * without `billAbandonedCalls`.
 */
async function invokeHeld(
  agent: CappedAgent,
  messages: BaseMessage[],
  budget: SharedTokenBudget | undefined,
  reservation: Reservation | undefined,
  usage: Record<string, CoordinationAgentUsage>,
  role: string,
  deadline: CallDeadline,
): Promise<CallResult> {
  let reply: AIMessage;
  let abandoned: Promise<AIMessage> | undefined;
  try {
    reply = await runWithDeadline(
      (signal) =>
        agent.model.invoke(messages, {
          signal,
          tags: ["nostream", "gavel:coordination"],
          metadata: { gavel_coordination_role: role, gavel_agent: agent.name },
        }) as Promise<AIMessage>,
      {
        timeoutMs: deadline.timeoutMs,
        ...(deadline.signal !== undefined && { signal: deadline.signal }),
        label: agent.name === COORDINATOR_NAME ? `Coordinator ${role}` : `Executor "${agent.name}"`,
        onAbandoned: (pending) => {
          abandoned = pending;
        },
      },
    );
  } catch (error) {
    if (budget && reservation) {
      if (abandoned === undefined) await releaseQuietly(budget, reservation);
      else {
        void closeAbandoned(budget, reservation, {
          bill: deadline.billAbandonedCalls,
          late: abandoned.then((late) => usageFromMessage(late, messages, agent.modelName)),
        });
      }
    }
    throw error;
  }
  const spent = usageFromMessage(reply, messages, agent.modelName);
  if (budget && reservation) await settleQuietly(budget, reservation, spent);
  const previous = usage[agent.name] ?? {
    model: agent.modelName,
    calls: 0,
    inputTokens: 0,
    outputTokens: 0,
    estimated: false,
  };
  usage[agent.name] = {
    model: agent.modelName,
    calls: previous.calls + 1,
    inputTokens: previous.inputTokens + spent.inputTokens,
    outputTokens: previous.outputTokens + spent.outputTokens,
    estimated: previous.estimated || spent.estimated === true,
  };
  return { reply, text: typeof reply.content === "string" ? reply.content : reply.text };
}

/** Reserves `inputTokens` (see {@link promptTokensOf}) + the agent's cap; `undefined` without a budget. */
async function reserveFor(
  agent: CappedAgent,
  inputTokens: number,
  budget: SharedTokenBudget | undefined,
  scopes: ScopeIds | undefined,
  label: string,
): Promise<Reservation | undefined> {
  return budget?.reserve({
    model: agent.modelName,
    inputTokens,
    maxOutputTokens: agent.cap,
    ...(scopes !== undefined && { scopes }),
    label,
  });
}

// ---------------------------------------------------------------------------
// The graph
// ---------------------------------------------------------------------------

/**
 * Build the belief-coordination graph (ECON, simplified to run in Node; see docs/coordination.md).
 *
 * @param options see {@link BeliefCoordinationOptions}; `coordinator`, `executors`, `embeddings`
 *   and `parseAnswer` are required.
 * @returns a compiled LangGraph graph: invoke it with `{ question }`, read `answer`,
 *   `commitment`, `rounds`, `usage`, `stopReason`; or add it as a node of a parent graph whose
 *   state has `question` and `answer`. Its recursion need is `3 · maxRounds + 2` steps (LangGraph's
 *   default limit, 25, covers `maxRounds ≤ 7`).
 * @throws ConfigError naming the field when an option is invalid (unknown key, duplicate
 *   executor name, missing weight, coordinator cap above 50, ...).
 * @throws CoordinationError when a model declares a larger output cap than needed and cannot be copied with a smaller one.
 * @example
 * ```ts
 * import { ChatOpenAI } from "@langchain/openai";
 * import { createBeliefCoordination } from "langchain-gavel";
 * import { UniversalSentenceEncoderEmbeddings } from "langchain-gavel/encoder";
 * import { extractFinalNumber } from "langchain-gavel/eval";
 *
 * const graph = createBeliefCoordination({
 *   coordinator: new ChatOpenAI({ model: "gpt-4o-mini" }),
 *   executors: [
 *     { name: "a", model: new ChatOpenAI({ model: "gpt-4o-mini", logprobs: true }) },
 *     { name: "b", model: new ChatOpenAI({ model: "gpt-4.1-nano", logprobs: true }) },
 *   ],
 *   embeddings: new UniversalSentenceEncoderEmbeddings(),
 *   parseAnswer: extractFinalNumber,
 *   maxRounds: 3,
 * });
 * const { answer, usage } = await graph.invoke({ question: "What is 17 * 3?" });
 * ```
 */
export function createBeliefCoordination(options: BeliefCoordinationOptions) {
  const config = parseConfig("createBeliefCoordination options", beliefCoordinationOptionsSchema, options);
  const {
    embeddings,
    parseAnswer,
    maxRounds,
    beliefIterations,
    tolerance,
    stepSize,
    budget,
    seed,
    candidateRule,
    strategyAnswerCheck,
    coordinatorMaxTokens,
    executorMaxTokens,
    timeoutMs,
    billAbandonedCalls,
  } = config;
  const coordinator = capAgent(COORDINATOR_NAME, config.coordinator, coordinatorMaxTokens);
  const executors = config.executors.map(({ name, model }) => capAgent(name, model, executorMaxTokens));
  const weights = config.weights === undefined ? undefined : weightsByExecutor(config.weights);
  const weightOf = (name: string) => weights?.[name] ?? 1;
  const scopesOf = (state: State): ScopeIds | undefined => state.budgetScopes ?? config.budgetScopes;

  const budgetStop = (error: BudgetExhaustedError): Update => ({ stopReason: "budget", stopDetail: error.message });
  const deadlineOf = (runConfig: RunnableConfig | undefined): CallDeadline => ({
    timeoutMs,
    signal: runConfig?.signal,
    billAbandonedCalls,
  });

  async function strategyNode(state: State, runConfig?: RunnableConfig): Promise<Update> {
    const messages = strategyMessages(state.question, coordinatorMaxTokens);
    const usage = { ...state.usage };
    const inputTokens = budget === undefined ? 0 : await promptTokensOf(coordinator.model, messages);
    let reservation: Reservation | undefined;
    try {
      reservation = await reserveFor(coordinator, inputTokens, budget, scopesOf(state), "coordination.strategy");
    } catch (error) {
      if (BudgetExhaustedError.isInstance(error)) return budgetStop(error);
      throw error;
    }
    let text: string;
    try {
      ({ text } = await invokeHeld(
        coordinator,
        messages,
        budget,
        reservation,
        usage,
        "strategy",
        deadlineOf(runConfig),
      ));
    } catch (error) {
      // A strategy that never came: executors get none, as when the guard rejects one.
      if (!DeadlineExceededError.isInstance(error)) throw error;
      return { strategy: "", strategyError: error.message, usage };
    }
    const bounded = truncateToTokens(text.trim(), coordinatorMaxTokens, coordinator.modelName);
    const guarded = guardStrategy(bounded, parseAnswer, strategyAnswerCheck);
    return { strategy: guarded.strategy, strategyLeaked: guarded.leaked, usage };
  }

  async function executeNode(state: State, runConfig?: RunnableConfig): Promise<Update> {
    const scopes = scopesOf(state);
    const prompts = executors.map((executor) =>
      executorMessages({
        executor: executor.name,
        question: state.question,
        strategy: state.strategy,
        previousCommitment: state.commitment,
      }),
    );
    // A round starts only if the budget holds room for every executor at once.
    const inputTokens =
      budget === undefined
        ? executors.map(() => 0)
        : await Promise.all(executors.map((executor, index) => promptTokensOf(executor.model, prompts[index] ?? [])));
    const reservations: Array<Reservation | undefined> = [];
    try {
      for (const [index, executor] of executors.entries()) {
        reservations.push(
          await reserveFor(executor, inputTokens[index] ?? 0, budget, scopes, `coordination.executor.${executor.name}`),
        );
      }
    } catch (error) {
      for (const reservation of reservations) if (reservation && budget) await releaseQuietly(budget, reservation);
      if (BudgetExhaustedError.isInstance(error)) return budgetStop(error);
      throw error;
    }
    const usage = { ...state.usage };
    const deadline = deadlineOf(runConfig);
    const settled = await Promise.allSettled(
      executors.map((executor, index) =>
        invokeHeld(executor, prompts[index] ?? [], budget, reservations[index], usage, "executor", deadline),
      ),
    );
    if (deadline.signal?.aborted) throw deadline.signal.reason; // the caller gave up: no round to record
    const answers: ExecutorAnswer[] = settled.map((outcome, index) => {
      const executor = executors[index]?.name ?? `executor-${index}`;
      if (outcome.status === "rejected") {
        const message = outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason);
        return { executor, text: "", answer: undefined, confidence: 0, confidenceSource: "default", error: message };
      }
      const { reply, text } = outcome.value;
      const confidence = confidenceOf(reply, text);
      return {
        executor,
        text,
        answer: parseAnswer(text),
        confidence: confidence.value,
        confidenceSource: confidence.source,
      };
    });
    const answered = answers.filter((answer) => answer.error === undefined);
    if (answered.length === 0) {
      const errors = settled.flatMap((outcome) => (outcome.status === "rejected" ? [outcome.reason] : []));
      throw new CoordinationError(
        `Every executor failed in round ${state.rounds.length + 1}.`,
        { reason: "all-executors-failed" },
        { cause: new AggregateError(errors, "executor failures") },
      );
    }
    const vectors = await embeddings.embedDocuments(answered.map((answer) => answer.text));
    const beliefs = answered.map((answer, index) => buildBelief(vectors[index] ?? [], answer.confidence));
    return { pending: { answers, beliefs }, usage };
  }

  function refineNode(state: State): Update {
    const pending = state.pending;
    if (pending === undefined) return {};
    const answered = pending.answers.filter((answer) => answer.error === undefined);
    const refinement = refineBeliefs(pending.beliefs, { iterations: beliefIterations, tolerance, stepSize });
    const selection = selectCommitmentCandidate(
      answered.map((answer, index) => ({
        name: answer.executor,
        answer: answer.answer,
        belief: refinement.beliefs[index] ?? [],
        confidence: answer.confidence,
        weight: weightOf(answer.executor),
      })),
      { seed, rule: candidateRule },
    );
    return {
      pending: {
        ...pending,
        selection,
        refinement: { iterations: refinement.iterations, deltas: refinement.deltas, stoppedBy: refinement.stoppedBy },
      },
    };
  }

  async function commitNode(state: State, runConfig?: RunnableConfig): Promise<Update> {
    const pending = state.pending;
    if (pending?.selection === undefined || pending.refinement === undefined) return {};
    const { selection } = pending;
    const scoreOf = new Map(selection.scores.map((entry) => [entry.name, entry.score]));
    const messages = commitmentMessages({
      question: state.question,
      strategy: state.strategy,
      summaries: pending.answers
        .filter((answer) => answer.error === undefined)
        .map((answer) => ({
          executor: answer.executor,
          answer: answer.answer,
          confidence: answer.confidence,
          score: scoreOf.get(answer.executor) ?? 0,
        })),
      candidate: selection.candidate,
      tokenLimit: coordinatorMaxTokens,
    });
    const usage = { ...state.usage };
    let commitment: string;
    let commitmentAnswer: string | undefined;
    let commitmentSource: CoordinationRound["commitmentSource"] = "coordinator";
    let refusal: BudgetExhaustedError | undefined;
    let commitmentError: string | undefined;
    const inputTokens = budget === undefined ? 0 : await promptTokensOf(coordinator.model, messages);
    let reservation: Reservation | undefined;
    try {
      reservation = await reserveFor(coordinator, inputTokens, budget, scopesOf(state), "coordination.commitment");
    } catch (error) {
      if (!BudgetExhaustedError.isInstance(error)) throw error;
      refusal = error;
    }
    let text: string | undefined;
    if (refusal === undefined) {
      try {
        ({ text } = await invokeHeld(
          coordinator,
          messages,
          budget,
          reservation,
          usage,
          "commitment",
          deadlineOf(runConfig),
        ));
      } catch (error) {
        // A commitment that never came: the round's belief candidate stands, as when it does not parse.
        if (!DeadlineExceededError.isInstance(error)) throw error;
        commitmentError = error.message;
      }
    }
    if (text !== undefined) {
      commitment = truncateToTokens(text.trim(), coordinatorMaxTokens, coordinator.modelName);
      commitmentAnswer = parseAnswer(commitment);
    } else {
      commitment = "";
      commitmentAnswer = undefined;
    }
    if (commitmentAnswer === undefined) {
      commitmentSource = "candidate";
      commitmentAnswer = selection.candidate;
      if (commitment === "" && selection.candidate !== undefined) commitment = `Answer: ${selection.candidate}`;
    }
    const round: CoordinationRound = {
      round: state.rounds.length + 1,
      answers: pending.answers,
      refinement: pending.refinement,
      selection,
      commitment,
      commitmentAnswer,
      commitmentSource,
      ...(commitmentError !== undefined && { commitmentError }),
    };
    const rounds = [...state.rounds, round];
    const previous = state.rounds[state.rounds.length - 1];
    let stopReason: CoordinationStopReason | undefined = refusal === undefined ? undefined : "budget";
    if (stopReason === undefined && previous !== undefined && previous.commitmentAnswer !== undefined) {
      if (previous.commitmentAnswer === commitmentAnswer) stopReason = "stable";
    }
    if (stopReason === undefined && rounds.length >= maxRounds) stopReason = "max-rounds";
    return {
      ...(refusal !== undefined && { stopDetail: refusal.message }),
      rounds,
      pending: undefined,
      commitment,
      answer: commitmentAnswer,
      usage,
      ...(stopReason !== undefined && { stopReason }),
    };
  }

  const afterStop = (state: State) => (state.stopReason === undefined ? "continue" : "stop");

  return new StateGraph(BeliefCoordinationState)
    .addNode("write_strategy", strategyNode)
    .addNode("execute", executeNode)
    .addNode("refine_beliefs", refineNode)
    .addNode("commit", commitNode)
    .addEdge(START, "write_strategy")
    .addConditionalEdges("write_strategy", afterStop, { continue: "execute", stop: END })
    .addConditionalEdges("execute", afterStop, { continue: "refine_beliefs", stop: END })
    .addEdge("refine_beliefs", "commit")
    .addConditionalEdges("commit", afterStop, { continue: "execute", stop: END })
    .compile({ name: config.name });
}
