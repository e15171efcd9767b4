/**
 * The online protocol: route held-out prompts IN ORDER, and after each one learn only what a
 * deployed router would learn — the prompt, with the outcome of the model(s) it actually called.
 * One function per router; each makes one pass (one λ, one threshold) and tallies every call.
 */
import type { AuctionOutcome } from "../../market/types.js";
import type { OutcomeIndex } from "../data/outcomes.js";
import { createEscalationPolicy, type EscalationResult, parserForTask } from "./escalation.js";
import { estimateValues, type TrainingProfile } from "./estimator.js";
import { type CostScale, createMemoryAuctionRouter } from "./memoryAuction.js";
import type { OutcomeMemory } from "./outcome-memory.js";

/** One call as the caller served it. */
export interface CallResult {
  model: string;
  /** Recorded grade, 0–1. */
  correct: number;
  costUsd: number;
  response: string;
  inputTokens?: number;
  outputTokens?: number;
  /** True when the tokens were counted with a tokenizer. */
  estimated?: boolean;
}

/** Asks a model about a recorded prompt. */
export type AskModel = (promptId: string, model: string) => Promise<CallResult>;

/** What a pass needs: the data, the memory to read and learn into, the fitted profile. */
export interface OnlineContext {
  index: OutcomeIndex;
  /** Held-out prompts, routed in this order. */
  promptIds: readonly string[];
  /** Embedded prompt by id. */
  vectors: ReadonlyMap<string, ArrayLike<number>>;
  /** Read on every decision; every routed prompt is added to it with the outcomes of the models called. */
  memory: OutcomeMemory;
  profile: TrainingProfile;
  ask: AskModel;
  k: number;
  priorStrength: number;
  sameTaskNeighbours: boolean;
  seed: number;
  /** What the auction normalises cost by (see `createMemoryAuctionRouter`). Default `"task"`. */
  costScale?: CostScale;
  /** Called after each routed prompt (progress bars, ledger). */
  onRouted?: (routed: RoutedPrompt) => void;
}

/** One routed prompt: the calls made (all charged), the final answer and the auction, if any. */
export interface RoutedPrompt {
  promptId: string;
  calls: CallResult[];
  /** The call whose answer is final. */
  final: CallResult;
  /** The memory-bid auction (memory-auction router only). */
  auction?: AuctionOutcome;
  /** Why the escalation stopped (escalation policy only). */
  escalation?: EscalationResult;
}

/** Models available for a prompt, cheapest first by training mean cost (then by name). */
export function availableModels(index: OutcomeIndex, profile: TrainingProfile, promptId: string): string[] {
  const evalName = index.promptInfo(promptId)?.eval_name ?? "";
  return [...index.outcomesOf(promptId).keys()].sort(
    (left, right) =>
      profile.meanCostUsd(left, evalName) - profile.meanCostUsd(right, evalName) || (left < right ? -1 : 1),
  );
}

function vectorOf(context: OnlineContext, promptId: string): ArrayLike<number> {
  const vector = context.vectors.get(promptId);
  if (vector === undefined) throw new Error(`prompt ${promptId} was not embedded`);
  return vector;
}

/**
 * One pass of the memory-bid auction router at one λ.
 * @returns every routed prompt, in order.
 */
export async function routeMemoryAuctionOnline(context: OnlineContext, lambda: number): Promise<RoutedPrompt[]> {
  const { index, promptIds, memory, profile, ask, k, priorStrength, sameTaskNeighbours, seed, onRouted } = context;
  const costScale = context.costScale ?? "task";
  const router = createMemoryAuctionRouter({
    memory,
    profile,
    lambda,
    k,
    priorStrength,
    sameTaskNeighbours,
    seed,
    costScale,
  });
  const routed: RoutedPrompt[] = [];
  for (const promptId of promptIds) {
    const evalName = index.promptInfo(promptId)?.eval_name ?? "";
    const vector = vectorOf(context, promptId);
    const available = availableModels(index, profile, promptId);
    const decision = router.route({ vector, evalName, available, promptId });
    const call = await ask(promptId, decision.model);
    memory.add({ promptId, evalName, outcomes: new Map([[call.model, call.correct]]) }, vector);
    const entry: RoutedPrompt = { promptId, calls: [call], final: call, auction: decision.outcome };
    routed.push(entry);
    onRouted?.(entry);
  }
  return routed;
}

/** Options of {@link routeEscalationOnline}. */
export interface EscalationPassOptions {
  /** Models to climb, cheapest first: one ladder, or one per task (`eval_name`). */
  ladder: readonly string[] | ((evalName: string) => readonly string[]);
  threshold: number;
  /** Compare τ with each value divided by the top rung's estimated value (share of the top model). Default false. */
  relativeThreshold?: boolean;
  /** How often two agreeing answers of (previous, current) were right on the task's training prompts. */
  agreementValue?: (evalName: string, previousModel: string, model: string) => number;
}

/**
 * One pass of the escalation policy at one threshold. Every model asked is charged and learned.
 * @returns every routed prompt, in order.
 */
export async function routeEscalationOnline(
  context: OnlineContext,
  options: EscalationPassOptions,
): Promise<RoutedPrompt[]> {
  const { index, promptIds, memory, profile, ask, k, priorStrength, sameTaskNeighbours, onRouted } = context;
  const { ladder, threshold, agreementValue, relativeThreshold = false } = options;
  const ladderOf = typeof ladder === "function" ? ladder : () => ladder;
  const policies = new Map<string, ReturnType<typeof createEscalationPolicy>>();
  const routed: RoutedPrompt[] = [];
  for (const promptId of promptIds) {
    const evalName = index.promptInfo(promptId)?.eval_name ?? "";
    let policy = policies.get(evalName);
    if (policy === undefined) {
      policy = createEscalationPolicy({ ladder: ladderOf(evalName), threshold });
      policies.set(evalName, policy);
    }
    const vector = vectorOf(context, promptId);
    const available = availableModels(index, profile, promptId);
    const neighbours = memory.neighbours({ vector, k, ...(sameTaskNeighbours ? { evalName } : {}) });
    const values = new Map(
      estimateValues({
        neighbours,
        models: available,
        prior: (model) => profile.accuracy(model, evalName),
        priorStrength,
      }).map((estimate) => [estimate.model, estimate.value]),
    );
    const calls: CallResult[] = [];
    const top = [...policy.ladder].reverse().find((model) => available.includes(model));
    const scale = relativeThreshold && top !== undefined ? (values.get(top) ?? 1) : 1;
    const escalation = await policy.run({
      scale,
      available,
      estimate: (model) => values.get(model) ?? 0,
      ask: async (model) => {
        const call = await ask(promptId, model);
        calls.push(call);
        return call.response;
      },
      parse: parserForTask(evalName),
      ...(agreementValue === undefined
        ? {}
        : { agreementValue: (previous: string, model: string) => agreementValue(evalName, previous, model) }),
    });
    memory.add(
      { promptId, evalName, outcomes: new Map(calls.map((call) => [call.model, call.correct] as const)) },
      vector,
    );
    const final = calls[calls.length - 1] as CallResult;
    const entry: RoutedPrompt = { promptId, calls, final, escalation };
    routed.push(entry);
    onRouted?.(entry);
  }
  return routed;
}

/**
 * Fit the agreement value of consecutive ladder pairs on the training part: for each task with a
 * parser and each pair (previous, current), the share of training prompts where both answers parse
 * to the same answer and the current model was right, among those where they agree.
 * @returns `(evalName, previous, model) → value`, 0 when the pair never agreed on the task.
 */
export function fitAgreementValues(
  index: OutcomeIndex,
  trainPromptIds: readonly string[],
  ladder: readonly string[] | ((evalName: string) => readonly string[]),
): (evalName: string, previousModel: string, model: string) => number {
  const ladderOf = typeof ladder === "function" ? ladder : () => ladder;
  const totals = new Map<string, { agreed: number; right: number }>();
  for (const promptId of trainPromptIds) {
    const evalName = index.promptInfo(promptId)?.eval_name ?? "";
    const parse = parserForTask(evalName);
    if (parse === undefined) continue;
    const taskLadder = ladderOf(evalName);
    for (let rung = 1; rung < taskLadder.length; rung++) {
      const previous = index.outcome(promptId, taskLadder[rung - 1] as string);
      const current = index.outcome(promptId, taskLadder[rung] as string);
      if (previous === "unavailable" || current === "unavailable") continue;
      const answer = parse(current.response ?? "");
      if (answer === undefined || answer !== parse(previous.response ?? "")) continue;
      const key = `${evalName}\u0000${previous.model}\u0000${current.model}`;
      const entry = totals.get(key) ?? { agreed: 0, right: 0 };
      entry.agreed += 1;
      entry.right += current.correct;
      totals.set(key, entry);
    }
  }
  return (evalName, previousModel, model) => {
    const entry = totals.get(`${evalName}\u0000${previousModel}\u0000${model}`);
    return entry === undefined || entry.agreed === 0 ? 0 : entry.right / entry.agreed;
  };
}
