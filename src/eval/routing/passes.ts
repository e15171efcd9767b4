/**
 * The router passes of a recorded run: the shipped `AuctionRouter` in each bidding mode (`memory`,
 * `auto`), under each protocol (`batch`, `online`), at each λ, over the held-out prompts — and the fit
 * of `auto`'s confidence rule on the training part. Shared by the main run (`runRecordedEvaluation`)
 * and the leave-one-dataset-out run (`runLeaveOneOut`).
 *
 * The router is given the prompt text and its id, never its dataset. The only eval-side knowledge
 * used while routing is the recorded grade of each member called (fed back in the online protocol:
 * what a verifier would say) and the recorded USD of each call (the measured cost).
 */

import type { ModelPrice } from "../../budget/types.js";
import { mulberry32Float } from "../../market/random.js";
import type { StrategyMemory } from "../../memory/types.js";
import {
  AuctionRouter,
  type ConfidenceRule,
  type ConfidenceSample,
  DEFAULT_CONFIDENCE_RULE,
  fitConfidenceRule,
} from "../../router/index.js";
import type { OutcomeIndex, OutcomeRecord } from "../data/outcomes.js";
import type { OperatingPoint, PolicyResult } from "../report/results.js";
import type { EvaluationProgress, RecordedProtocol, RecordedRouterName } from "./options.js";
import { pointKey, routerPolicyName } from "./options.js";
import type { RecordedPromptLookup } from "./recorded-model.js";
import {
  type BufferedLedger,
  createBufferedLedger,
  frozenMemory,
  leaveOneOutMemory,
  type PrecomputedEmbeddings,
  type RoutedPrompt,
  recordedPool,
  routePass,
  trainingMemory,
} from "./shipped.js";

/** What the passes need. */
export interface ShippedPassesInput {
  index: OutcomeIndex;
  /** Training prompt ids (may be empty: a cold start). */
  train: readonly string[];
  /** Held-out prompt ids. */
  test: readonly string[];
  /** Pool members and their fitted prices. */
  prices: ReadonlyMap<string, ModelPrice>;
  /** The recorded prompts' lookup the pool shares (token counts kept). */
  lookup: RecordedPromptLookup;
  embeddings: PrecomputedEmbeddings;
  modes: readonly RecordedRouterName[];
  protocols: readonly RecordedProtocol[];
  lambdas: readonly number[];
  /** λ of the confidence-rule fit. */
  confidenceLambda: number;
  onlineExploration: number;
  neighbours: number;
  priorStrength: number;
  seed: number;
  strongModel: string;
  /** Keep each pass's ledger writes (for the recorded points). */
  bufferLedger: boolean;
  /** Policy name suffix (the leave-one-out run names its dataset). */
  suffix?: string;
  onProgress?: (event: EvaluationProgress) => void;
}

/** What the passes produced. */
export interface ShippedPasses {
  policies: PolicyResult[];
  /** `auto`'s rule, fitted on the training part (or the router's default without one). */
  confidence: ConfidenceRule & { utility?: number; samples: number; fitted: boolean };
  /** Each pass's buffered ledger, by `policy:parameter`. */
  ledgers: Map<string, BufferedLedger>;
  /** The held-out prompts in the online protocol's order. */
  onlineOrder: string[];
}

/** The training part's records of the pool's models. */
export function trainingRecords(index: OutcomeIndex, train: readonly string[], models: readonly string[]) {
  const keep = new Set(models);
  return train.flatMap((promptId) => [...index.outcomesOf(promptId).values()].filter((row) => keep.has(row.model)));
}

/** The held-out prompts in a seeded order (Fisher–Yates over mulberry32, seed + 1). */
export function onlineOrder(promptIds: readonly string[], seed: number): string[] {
  const order = [...promptIds];
  const random = mulberry32Float(seed + 1);
  for (let position = order.length - 1; position > 0; position--) {
    const other = Math.floor(random() * (position + 1));
    [order[position], order[other]] = [order[other] as string, order[position] as string];
  }
  return order;
}

/** Run every (mode, protocol, λ) pass of the shipped router. */
export async function runShippedPasses(input: ShippedPassesInput): Promise<ShippedPasses> {
  const { index, train, test, prices, embeddings, modes, protocols, lambdas, strongModel } = input;
  const progress = input.onProgress ?? (() => undefined);
  const models = [...prices.keys()];
  const records = trainingRecords(index, train, models);
  const pool = recordedPool(input.lookup, prices);
  const base = await trainingMemory(records, embeddings);
  const frozen = frozenMemory(base);
  const memoryBids = { neighbours: input.neighbours, priorStrength: input.priorStrength };

  let confidence: ShippedPasses["confidence"] = { ...DEFAULT_CONFIDENCE_RULE, samples: 0, fitted: false };
  if (modes.includes("auto") && train.length > 0) {
    confidence = await fitConfidence({ ...input, pool, base, memoryBids, progress });
  }
  const rule = { minEvidence: confidence.minEvidence, maxSpread: confidence.maxSpread };

  const order = onlineOrder(test, input.seed);
  const policies: PolicyResult[] = [];
  const ledgers = new Map<string, BufferedLedger>();
  for (const mode of modes) {
    for (const protocol of protocols) {
      const name = `${routerPolicyName(mode, protocol)}${input.suffix ?? ""}`;
      const points: OperatingPoint[] = [];
      for (const lambda of lambdas) {
        const online = protocol === "online";
        const memory: StrategyMemory = online ? await trainingMemory(records, embeddings) : frozen;
        const ledger = input.bufferLedger ? createBufferedLedger() : undefined;
        if (ledger !== undefined) ledgers.set(pointKey(name, lambda), ledger);
        const router = new AuctionRouter({
          pool,
          memory,
          embeddings,
          mode,
          lambda,
          seed: input.seed,
          memoryBids: {
            ...memoryBids,
            explorationRate: online ? input.onlineExploration : 0,
            ...(mode === "auto" ? { confidence: rule } : {}),
          },
          ...(ledger === undefined ? {} : { ledger }),
        });
        const promptIds = online ? order : test;
        const routed = await routePass({
          router,
          index,
          promptIds,
          learn: online,
          onRouted: (_routed, done) => {
            if (done % 25 === 0 || done === promptIds.length) {
              progress({ phase: "route", policy: name, parameter: lambda, done, total: promptIds.length });
            }
          },
        });
        points.push(pointOfPass(index, routed, `λ=${lambda}`, lambda, strongModel));
      }
      policies.push({
        name,
        kind: "router",
        protocol,
        description: describe(mode, protocol, input, rule),
        points,
      });
    }
  }
  return { policies, confidence, ledgers, onlineOrder: order };
}

function describe(
  mode: RecordedRouterName,
  protocol: RecordedProtocol,
  input: ShippedPassesInput,
  rule: ConfidenceRule,
): string {
  const bids = `memory bids (value from ${input.neighbours} neighbours per member, prior strength ${input.priorStrength}, minus λ × normalised expected cost)`;
  const how =
    mode === "memory"
      ? `AuctionRouter mode "memory": ${bids}; the winner answers alone`
      : `AuctionRouter mode "auto": ${bids} when the memory is confident (evidence ≥ ${round(rule.minEvidence)}, spread ≤ ${round(rule.maxSpread)}), else an escalation from the cheapest member`;
  const when =
    protocol === "batch"
      ? "batch: memory loaded from the training part, frozen during the test pass (writes discarded)"
      : `online: held-out prompts in a seeded order, every called member's grade fed back with recordOutcome (exploration ${input.onlineExploration})${input.train.length === 0 ? ", from an empty memory" : ", from the training memory"}`;
  return `${how}; ${when}.`;
}

const round = (value: number) => Number(value.toPrecision(3));

/** An operating point from a pass: recorded grades of the final answers, recorded USD of every call. */
export function pointOfPass(
  index: OutcomeIndex,
  routed: readonly RoutedPrompt[],
  label: string,
  parameter: number,
  largestModel: string,
): OperatingPoint {
  let correct = 0;
  let costUsd = 0;
  let calls = 0;
  let largest = 0;
  const callsByModel: Record<string, number> = {};
  const paths: Record<string, number> = {};
  for (const prompt of routed) {
    const final = index.outcome(prompt.promptId, prompt.final);
    if (final !== "unavailable") correct += final.correct;
    if (prompt.final === largestModel) largest++;
    paths[prompt.path] = (paths[prompt.path] ?? 0) + 1;
    for (const member of prompt.calls) {
      const cell = index.outcome(prompt.promptId, member);
      calls++;
      callsByModel[member] = (callsByModel[member] ?? 0) + 1;
      if (cell !== "unavailable") costUsd += cell.cost_usd;
    }
  }
  const prompts = routed.length;
  return {
    label,
    parameter,
    accuracy: prompts === 0 ? 0 : correct / prompts,
    costUsd,
    meanCostUsd: prompts === 0 ? 0 : costUsd / prompts,
    prompts,
    calls,
    largestModelShare: prompts === 0 ? 0 : largest / prompts,
    callsByModel,
    paths,
  };
}

// ---------------------------------------------------------------------------------------------
// The confidence rule, fitted on the training part
// ---------------------------------------------------------------------------------------------

/** An evidence threshold no memory reaches: `auto` with it always takes the unsure path. */
const NEVER_CONFIDENT = 1e12;

interface FitInput extends ShippedPassesInput {
  pool: ReturnType<typeof recordedPool>;
  base: StrategyMemory;
  memoryBids: { neighbours: number; priorStrength: number };
  progress: (event: EvaluationProgress) => void;
}

/**
 * Fit `auto`'s confidence rule on the TRAINING part: each training prompt is replayed leave-one-out
 * (the memory without that prompt's own auction) through the shipped router twice — mode `memory`
 * (the memory path: its winner's evidence and spread, and the winner's recorded grade and USD) and
 * mode `auto` never confident (the escalation path: its recorded grade and the USD of every call) —
 * and `fitConfidenceRule` picks the rule at `confidenceLambda`. Costs are normalised by the dearest
 * pool member's recorded USD on that prompt.
 */
async function fitConfidence(input: FitInput): Promise<ShippedPasses["confidence"]> {
  const { index, train, pool, base, embeddings, memoryBids, confidenceLambda: lambda, seed, progress } = input;
  const loo = leaveOneOutMemory(base);
  const common = { pool, memory: loo, embeddings, lambda, seed };
  const memoryRouter = new AuctionRouter({ ...common, mode: "memory", memoryBids });
  const escalation = new AuctionRouter({
    ...common,
    mode: "auto",
    memoryBids: { ...memoryBids, confidence: { minEvidence: NEVER_CONFIDENT, maxSpread: 0 } },
  });
  const exclude = (promptId: string) => {
    loo.exclude.auctionId = `train:${promptId}`;
  };
  const report = (policy: string) => (_routed: RoutedPrompt, done: number) => {
    if (done % 25 === 0 || done === train.length) progress({ phase: "fit", policy, done, total: train.length });
  };
  const viaMemory = await routePass({
    router: memoryRouter,
    index,
    promptIds: train,
    learn: false,
    beforeEach: exclude,
    onRouted: report("confidence: memory path"),
  });
  const viaEscalation = await routePass({
    router: escalation,
    index,
    promptIds: train,
    learn: false,
    beforeEach: exclude,
    onRouted: report("confidence: escalation path"),
  });
  const samples: ConfidenceSample[] = [];
  viaMemory.forEach((memoryRoute, position) => {
    const escalated = viaEscalation[position] as RoutedPrompt;
    const { promptId } = memoryRoute;
    const outcomes = index.outcomesOf(promptId);
    const dearest = Math.max(0, ...pool.map((member) => outcomes.get(member.name)?.cost_usd ?? 0));
    const winner = winnerEvidence(memoryRoute);
    if (winner === undefined) return;
    samples.push({
      evidence: winner.evidence,
      spread: winner.spread,
      memory: pathResult(outcomes, memoryRoute, dearest),
      unsure: pathResult(outcomes, escalated, dearest),
    });
  });
  if (samples.length === 0) return { ...DEFAULT_CONFIDENCE_RULE, samples: 0, fitted: false };
  const fitted = fitConfidenceRule(samples, { lambda });
  return { ...fitted, samples: samples.length, fitted: true };
}

function pathResult(outcomes: ReadonlyMap<string, OutcomeRecord>, routed: RoutedPrompt, dearest: number) {
  const usd = routed.calls.reduce((total, member) => total + (outcomes.get(member)?.cost_usd ?? 0), 0);
  return { correct: outcomes.get(routed.final)?.correct ?? 0, normalisedCost: dearest > 0 ? usd / dearest : 0 };
}

/** The memory winner's evidence and spread: its bid's `meta` in the auction's clearing (`record.outcome`). */
function winnerEvidence(routed: RoutedPrompt): { evidence: number; spread: number } | undefined {
  const outcome = routed.record.outcome as { results?: Array<{ bidder?: unknown; meta?: unknown }> } | undefined;
  const bid = outcome?.results?.find((result) => result.bidder === routed.final);
  const meta = bid?.meta as { evidence?: unknown; spread?: unknown } | undefined;
  if (typeof meta?.evidence !== "number" || typeof meta.spread !== "number") return undefined;
  return { evidence: meta.evidence, spread: meta.spread };
}
