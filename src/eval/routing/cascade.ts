/**
 * Agreement cascades as bidders: "ask two cheap models; keep their answer when their parsed answers
 * agree, else ask the fallback (the strong model)". On a multiple-choice task two cheap models that
 * agree are right far more often than either alone, so a cascade buys much of the strong model's
 * accuracy for a fraction of its cost. Every call a cascade makes is charged.
 *
 * A cascade bids in the memory-bid auction like a model: its value is estimated from memory (the
 * cascade's replayed outcome on the remembered neighbours, smoothed toward its training accuracy on
 * the task) and its cost is its mean replayed USD per prompt on the task's training prompts. Which
 * cascades exist is fitted on the training part only (`fitCascades`). Pure: no I/O.
 */
import type { OutcomeIndex, OutcomeRecord } from "../data/outcomes.js";
import { type AnswerParser, parserForTask } from "./escalation.js";
import { fitTrainingProfile, type TrainingProfile } from "./estimator.js";
import { createMemoryAuctionRouter } from "./memoryAuction.js";
import { availableModels, type CallResult, type OnlineContext, type RoutedPrompt } from "./online.js";
import type { OutcomeMemory } from "./outcome-memory.js";

/** Default share of the strong model's mean cost on a task above which a model is not a cheap cascade member. */
export const DEFAULT_CASCADE_MEMBER_COST_SHARE = 0.25;
/** Default number of cascades kept per task (the most accurate of its training Pareto frontier). */
export const DEFAULT_CASCADES_PER_TASK = 4;

/** One agreement cascade on one task. */
export interface AgreementCascade {
  /** The bidder name, e.g. `cascade(mistralai/mixtral-8x7b-chat + zero-one-ai/Yi-34B-Chat → gpt-4-1106-preview)`. */
  name: string;
  evalName: string;
  /** Asked first; its answer is kept when the two agree. */
  first: string;
  /** Asked second. */
  second: string;
  /** Asked when the two disagree (or an answer cannot be parsed); its answer is final. */
  fallback: string;
  /** Replayed accuracy and mean USD per prompt on the task's training prompts. */
  trainingAccuracy: number;
  trainingMeanCostUsd: number;
}

/** The bidder name of a cascade. */
export function cascadeName(first: string, second: string, fallback: string): string {
  return `cascade(${first} + ${second} → ${fallback})`;
}

/** Whether two responses agree: both parse, to the same answer. */
export function answersAgree(parse: AnswerParser, firstResponse: string, secondResponse: string): boolean {
  const first = parse(firstResponse);
  return first !== undefined && first === parse(secondResponse);
}

/**
 * Replay a cascade on a recorded prompt (training data): its grade and the USD of every call it makes.
 * @returns `undefined` when one of its models is unavailable for the prompt or the task has no parser.
 */
export function replayCascade(
  index: OutcomeIndex,
  promptId: string,
  cascade: Pick<AgreementCascade, "first" | "second" | "fallback">,
): { correct: number; costUsd: number } | undefined {
  const parse = parserForTask(index.promptInfo(promptId)?.eval_name ?? "");
  const first = index.outcome(promptId, cascade.first);
  const second = index.outcome(promptId, cascade.second);
  const fallback = index.outcome(promptId, cascade.fallback);
  if (parse === undefined || first === "unavailable" || second === "unavailable" || fallback === "unavailable") {
    return undefined;
  }
  const pairCost = first.cost_usd + second.cost_usd;
  if (answersAgree(parse, first.response ?? "", second.response ?? "")) {
    return { correct: first.correct, costUsd: pairCost };
  }
  return { correct: fallback.correct, costUsd: pairCost + fallback.cost_usd };
}

/** Options of {@link fitCascades}. */
export interface FitCascadesOptions {
  /** The fallback of every cascade. */
  strongModel: string;
  /** A member's mean cost on the task must be ≤ this share of the strong model's. Default 0.25. */
  memberCostShare?: number;
  /** Cascades kept per task. Default 4. */
  perTask?: number;
}

/**
 * Fit the cascades of each task with an answer parser on the training prompts: every pair of cheap
 * models (mean cost ≤ `memberCostShare` × the strong model's on the task) is replayed with the strong
 * model as fallback; the pairs on the task's accuracy–cost Pareto frontier are kept, the `perTask`
 * most accurate of them. Deterministic (ties broken by name).
 * @example
 * ```ts
 * const cascades = fitCascades(index, train, { strongModel: "gpt-4-1106-preview" });
 * cascades[0]?.name; // "cascade(mistralai/mixtral-8x7b-chat + zero-one-ai/Yi-34B-Chat → gpt-4-1106-preview)"
 * ```
 */
export function fitCascades(
  index: OutcomeIndex,
  trainPromptIds: readonly string[],
  options: FitCascadesOptions,
): AgreementCascade[] {
  const {
    strongModel,
    memberCostShare = DEFAULT_CASCADE_MEMBER_COST_SHARE,
    perTask = DEFAULT_CASCADES_PER_TASK,
  } = options;
  const profile = fitTrainingProfile(index, trainPromptIds);
  const promptsByTask = new Map<string, string[]>();
  for (const promptId of trainPromptIds) {
    const evalName = index.promptInfo(promptId)?.eval_name ?? "";
    if (parserForTask(evalName) === undefined) continue;
    const list = promptsByTask.get(evalName) ?? [];
    list.push(promptId);
    promptsByTask.set(evalName, list);
  }
  const cascades: AgreementCascade[] = [];
  for (const evalName of [...promptsByTask.keys()].sort()) {
    const promptIds = promptsByTask.get(evalName) as string[];
    const strongCost = profile.meanCostUsd(strongModel, evalName);
    const members = profile.models
      .filter((model) => model !== strongModel && profile.meanCostUsd(model, evalName) <= memberCostShare * strongCost)
      .sort(
        (left, right) =>
          profile.meanCostUsd(left, evalName) - profile.meanCostUsd(right, evalName) || (left < right ? -1 : 1),
      );
    const candidates: AgreementCascade[] = [];
    for (let left = 0; left < members.length; left++) {
      for (let right = left + 1; right < members.length; right++) {
        const first = members[left] as string;
        const second = members[right] as string;
        let correct = 0;
        let cost = 0;
        let count = 0;
        for (const promptId of promptIds) {
          const replayed = replayCascade(index, promptId, { first, second, fallback: strongModel });
          if (replayed === undefined) continue;
          correct += replayed.correct;
          cost += replayed.costUsd;
          count++;
        }
        if (count === 0) continue;
        candidates.push({
          name: cascadeName(first, second, strongModel),
          evalName,
          first,
          second,
          fallback: strongModel,
          trainingAccuracy: correct / count,
          trainingMeanCostUsd: cost / count,
        });
      }
    }
    cascades.push(...paretoCascades(candidates).slice(0, perTask));
  }
  return cascades;
}

/** The cascades no other is at least as accurate and as cheap as (one strictly), most accurate first. */
function paretoCascades(candidates: readonly AgreementCascade[]): AgreementCascade[] {
  const sorted = [...candidates].sort(
    (left, right) =>
      right.trainingAccuracy - left.trainingAccuracy ||
      left.trainingMeanCostUsd - right.trainingMeanCostUsd ||
      (left.name < right.name ? -1 : 1),
  );
  const kept: AgreementCascade[] = [];
  let cheapestSoFar = Number.POSITIVE_INFINITY;
  for (const candidate of sorted) {
    if (candidate.trainingMeanCostUsd < cheapestSoFar) {
      kept.push(candidate);
      cheapestSoFar = candidate.trainingMeanCostUsd;
    }
  }
  return kept;
}

/**
 * The training view the cascade auction reads: the training outcomes plus, for every training prompt,
 * one virtual record per cascade of its task (its replayed grade and USD). Fit the profile and warm
 * the memory on it; held-out prompts are never replayed.
 */
export function withCascadeRecords(
  index: OutcomeIndex,
  trainPromptIds: readonly string[],
  cascades: readonly AgreementCascade[],
): { records: OutcomeRecord[]; profile: TrainingProfile; outcomesOf: (promptId: string) => Map<string, number> } {
  const records: OutcomeRecord[] = [];
  const virtual = new Map<string, Map<string, number>>();
  for (const promptId of trainPromptIds) {
    const info = index.promptInfo(promptId);
    if (info === undefined) continue;
    const outcomes = new Map<string, number>();
    for (const [model, record] of index.outcomesOf(promptId)) {
      records.push(record);
      outcomes.set(model, record.correct);
    }
    for (const cascade of cascades) {
      if (cascade.evalName !== info.eval_name) continue;
      const replayed = replayCascade(index, promptId, cascade);
      if (replayed === undefined) continue;
      records.push({
        prompt_id: promptId,
        prompt: info.prompt,
        eval_name: info.eval_name,
        model: cascade.name,
        correct: replayed.correct,
        cost_usd: replayed.costUsd,
      });
      outcomes.set(cascade.name, replayed.correct);
    }
    virtual.set(promptId, outcomes);
  }
  const profileIndex = indexOutcomesLite(records);
  return {
    records,
    profile: fitTrainingProfile(profileIndex, trainPromptIds),
    outcomesOf: (promptId) => new Map(virtual.get(promptId) ?? []),
  };
}

/** A minimal index over records (no validation: they come from a validated index). */
function indexOutcomesLite(records: readonly OutcomeRecord[]): OutcomeIndex {
  const cells = new Map<string, Map<string, OutcomeRecord>>();
  const infos = new Map<string, { prompt_id: string; prompt: string; eval_name: string }>();
  for (const record of records) {
    const byModel = cells.get(record.prompt_id) ?? new Map<string, OutcomeRecord>();
    byModel.set(record.model, record);
    cells.set(record.prompt_id, byModel);
    if (!infos.has(record.prompt_id)) {
      infos.set(record.prompt_id, {
        prompt_id: record.prompt_id,
        prompt: record.prompt,
        eval_name: record.eval_name,
      });
    }
  }
  const empty: ReadonlyMap<string, OutcomeRecord> = new Map();
  return {
    promptIds: [...cells.keys()],
    models: [...new Set(records.map((record) => record.model))].sort(),
    rowCount: records.length,
    promptInfo: (promptId) => infos.get(promptId),
    outcome: (promptId, model) => cells.get(promptId)?.get(model) ?? "unavailable",
    outcomesOf: (promptId) => cells.get(promptId) ?? empty,
  };
}

/** The result of running a cascade on one prompt: every call made (all charged) and the final one. */
export interface CascadeRun {
  calls: CallResult[];
  final: CallResult;
  agreed: boolean;
}

/**
 * Run a cascade: ask `first`, then `second`; keep `first`'s answer when the parsed answers agree,
 * else ask `fallback`, whose answer is final.
 */
export async function runCascade(
  cascade: Pick<AgreementCascade, "first" | "second" | "fallback">,
  parse: AnswerParser,
  ask: (model: string) => Promise<CallResult>,
): Promise<CascadeRun> {
  const first = await ask(cascade.first);
  const second = await ask(cascade.second);
  if (answersAgree(parse, first.response, second.response)) {
    return { calls: [first, second], final: first, agreed: true };
  }
  const fallback = await ask(cascade.fallback);
  return { calls: [first, second, fallback], final: fallback, agreed: false };
}

/** Options of {@link routeCascadeAuctionOnline}. */
export interface CascadeAuctionPassOptions {
  lambda: number;
  /** The fitted cascades (see {@link fitCascades}); the context's profile and memory must know them. */
  cascades: readonly AgreementCascade[];
}

/**
 * One pass of the cascade auction at one λ: the memory-bid auction whose bidders are the available
 * models and the task's available cascades. A cascade that wins is run (every call charged). After each
 * prompt the memory learns the outcome of every model called and, when a cascade ran, the cascade's.
 * The context's `profile` must be the one of {@link withCascadeRecords} and its memory warmed with
 * the cascades' training outcomes.
 * @returns every routed prompt, in order.
 */
export async function routeCascadeAuctionOnline(
  context: OnlineContext,
  options: CascadeAuctionPassOptions,
): Promise<RoutedPrompt[]> {
  const { index, promptIds, memory, profile, ask, k, priorStrength, sameTaskNeighbours, seed, onRouted } = context;
  const { lambda, cascades } = options;
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
  const byName = new Map(cascades.map((cascade) => [cascade.name, cascade]));
  const routed: RoutedPrompt[] = [];
  for (const promptId of promptIds) {
    const evalName = index.promptInfo(promptId)?.eval_name ?? "";
    const vector = context.vectors.get(promptId);
    if (vector === undefined) throw new Error(`prompt ${promptId} was not embedded`);
    const models = availableModels(index, profile, promptId);
    const parse = parserForTask(evalName);
    const runnable =
      parse === undefined
        ? []
        : cascades.filter(
            (cascade) =>
              cascade.evalName === evalName &&
              models.includes(cascade.first) &&
              models.includes(cascade.second) &&
              models.includes(cascade.fallback),
          );
    const decision = router.route({
      vector,
      evalName,
      available: [...models, ...runnable.map((cascade) => cascade.name)],
      promptId,
    });
    const cascade = byName.get(decision.model);
    let entry: RoutedPrompt;
    if (cascade === undefined || parse === undefined) {
      const call = await ask(promptId, decision.model);
      learn(memory, promptId, evalName, vector, [call]);
      entry = { promptId, calls: [call], final: call, auction: decision.outcome };
    } else {
      const run = await runCascade(cascade, parse, (model) => ask(promptId, model));
      learn(memory, promptId, evalName, vector, run.calls, [cascade.name, run.final.correct]);
      entry = { promptId, calls: run.calls, final: run.final, auction: decision.outcome };
    }
    routed.push(entry);
    onRouted?.(entry);
  }
  return routed;
}

function learn(
  memory: OutcomeMemory,
  promptId: string,
  evalName: string,
  vector: ArrayLike<number>,
  calls: readonly CallResult[],
  cascadeOutcome?: readonly [string, number],
): void {
  const outcomes = new Map(calls.map((call) => [call.model, call.correct] as const));
  if (cascadeOutcome !== undefined) outcomes.set(cascadeOutcome[0], cascadeOutcome[1]);
  memory.add({ promptId, evalName, outcomes }, vector);
}

/**
 * Fit an escalation ladder per task on the training part. The first rung is the task's most accurate
 * cheap model (mean cost ≤ `memberCostShare` × the strong model's), so the cheapest operating point
 * is the best cheap answer; on a task with an answer parser the second rung is its best partner (the
 * member whose agreement cascade with it is most accurate on the training prompts); the strong model
 * is the top. A task the training part does not hold gets `fallbackLadder`.
 * @example
 * ```ts
 * const ladderOf = fitTaskLadders(index, train, { strongModel: "gpt-4-1106-preview", fallbackLadder });
 * ladderOf("mbpp"); // ["gpt-3.5-turbo-1106", "gpt-4-1106-preview"]
 * ```
 */
export function fitTaskLadders(
  index: OutcomeIndex,
  trainPromptIds: readonly string[],
  options: FitCascadesOptions & { fallbackLadder: readonly string[] },
): (evalName: string) => readonly string[] {
  const { strongModel, memberCostShare = DEFAULT_CASCADE_MEMBER_COST_SHARE, fallbackLadder } = options;
  const profile = fitTrainingProfile(index, trainPromptIds);
  const ladders = new Map<string, readonly string[]>();
  const promptsOf = (evalName: string) =>
    trainPromptIds.filter((promptId) => index.promptInfo(promptId)?.eval_name === evalName);
  const tasks = new Set(trainPromptIds.map((promptId) => index.promptInfo(promptId)?.eval_name ?? ""));
  for (const evalName of [...tasks].sort()) {
    const strongCost = profile.meanCostUsd(strongModel, evalName);
    const members = profile.models
      .filter((model) => model !== strongModel && profile.meanCostUsd(model, evalName) <= memberCostShare * strongCost)
      .sort(
        (left, right) =>
          profile.accuracy(right, evalName) - profile.accuracy(left, evalName) || (left < right ? -1 : 1),
      );
    const best = members[0];
    if (best === undefined) {
      ladders.set(evalName, [strongModel]);
      continue;
    }
    if (parserForTask(evalName) === undefined || members.length < 2) {
      ladders.set(evalName, [best, strongModel]);
      continue;
    }
    const promptIds = promptsOf(evalName);
    let partner = members[1] as string;
    let partnerAccuracy = Number.NEGATIVE_INFINITY;
    for (const candidate of members.slice(1)) {
      let correct = 0;
      let count = 0;
      for (const promptId of promptIds) {
        const replayed = replayCascade(index, promptId, { first: best, second: candidate, fallback: strongModel });
        if (replayed === undefined) continue;
        correct += replayed.correct;
        count++;
      }
      const accuracy = count === 0 ? 0 : correct / count;
      if (accuracy > partnerAccuracy) {
        partner = candidate;
        partnerAccuracy = accuracy;
      }
    }
    ladders.set(evalName, [best, partner, strongModel]);
  }
  return (evalName) => ladders.get(evalName) ?? fallbackLadder;
}
