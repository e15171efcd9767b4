/**
 * Strategy-auction router: its own decision overhead, model latency excluded.
 *
 * Target (issue 3): median router overhead ≤ 2 ms per `router.invoke(task)`.
 *
 * Set-up: a pool of 8 zero-latency scripted members (`ScriptedChatModel`, answers computed from
 * the prompt in microseconds, usage reported without a tokenizer) and a strategy memory holding
 * 10,000 plans (the in-memory matrix memory, 512-d vectors from a hashed bag-of-words embedder).
 * One member writes the plan the jurors like best; it is not the cheapest, so every cheaper
 * member retrieves contrastive pairs and refines, and the refined plans are judged again: the
 * full SALE path (plans → jury → memory → refinements → jury → clearing → answer → ledger-free
 * record → memory write).
 *
 * Overhead = median(`router.invoke(task)`) − median(the same model calls made directly). The
 * direct figure replays, stage by stage and with the same concurrency, exactly the calls the
 * router made in a captured run (same members, prompts and caps), so what is left is the
 * router's own work: prompts, parsing, entropy, scoring, clearing, memory lookup and write,
 * model copies, bookkeeping. Measured with the jury of all members and with `jury: "none"`.
 *
 * Budgeted (`router.*.budgeted.*`): the same auctions with a `TokenBudget` whose limits (tokens
 * and USD, at the pool's own prices) are far above what the run spends, so nobody is excluded:
 * the pre-screen and every reservation, refusal check and settlement run as they would under a
 * real limit. The direct figure is the same replay as above (the budget adds no model call).
 *
 * Also reported: the auction's share of all tokens in one run whose members count tokens with
 * the real tokenizer and answer with a 200-word answer (`response_metadata.gavel.usage`).
 */
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import type { BaseMessage } from "@langchain/core/messages";
import { createTokenBudget, type TokenBudget } from "../src/budget/index.js";
import { mulberry32Float } from "../src/market/random.js";
import { createInMemoryStrategyMemory } from "../src/memory/matrix-memory.js";
import type { NewStrategyEntry, StrategyMemory } from "../src/memory/types.js";
import { memberNeighbours } from "../src/router/auction/memory-engine.js";
import {
  AuctionRouter,
  JURY_RUBRIC,
  PLANNING_PROMPT,
  REFINEMENT_PROMPT,
  type RouterMetadata,
} from "../src/router/index.js";
import { clearMemoryBids, estimateCascades, estimateMembers, outcomeEntry } from "../src/router/memory-bids/index.js";
import { DEFAULT_LAMBDA, DEFAULT_MEMORY_BIDS } from "../src/router/options.js";
import { type ScriptedCall, ScriptedChatModel, type ScriptedReply } from "../src/testing/scripted-chat-model.js";
import { type BenchResult, median, medianMicros } from "./harness.js";
import { unitVector } from "./memory-fixtures.js";

const DIMENSIONS = 512;
const MEMORY_ENTRIES = 10_000;
const POOL_SIZE = 8;
const TARGET_MS = 2;
const MEASURE_MS = 4_000;

/**
 * The n-th task: the same question with other numbers, so every auction stores its own task
 * vector (a benchmark repeating one task would fill the memory with identical vectors, whose
 * exact ties cost far more to rank than real, distinct tasks do).
 */
function taskNumber(n: number): string {
  return `A warehouse ships ${1_240 + n} parcels on Monday and ${5 + (n % 30)}% more on Tuesday. Each truck carries ${120 + (n % 97)} parcels. How many trucks are needed on Tuesday?`;
}

/** Output price (USD per million tokens) of member i, cheapest first. */
const OUTPUT_PRICES = [0.15, 0.4, 0.6, 1, 2.5, 5, 10, 15];
/** First plans by member. The jurors like m5's best (it verifies): m5 is not the cheapest, so refinement runs. */
const PLANS = [
  "Compute Tuesday's parcels as 1.15 times Monday, then divide by the truck capacity and round up.",
  "Find 15% of 1,240, add it to 1,240, divide by 180, and round the quotient up to whole trucks.",
  "Scale Monday's count by 1.15, check the arithmetic, divide by 180, take the ceiling.",
  "Work out the increase first, then the total, then trucks = ceil(total / 180); state the unit.",
  "Percentage increase, then ceiling division; risk: rounding down instead of up.",
  "Multiply 1,240 by 1.15 = 1,426, divide by 180 = 7.92, round up to 8, then verify by 8 × 180 ≥ 1,426.",
  "Use exact integer arithmetic: 1,240 × 115 / 100, then ceiling division by 180, and report trucks.",
  "Decompose: increase, total, division, rounding. Main risk is misreading 15% more as 15% of.",
];
const REFINED_PLAN =
  "Compute 1,240 × 1.15 = 1,426 parcels, divide by 180 and round up to 8 trucks; verify that 8 × 180 covers 1,426.";
const ANSWER_WORDS =
  "On Monday the warehouse ships 1,240 parcels. Tuesday is 15% more: 1,240 × 0.15 = 186 extra parcels, so 1,426 parcels in all. Each truck carries 180 parcels, and 1,426 / 180 = 7.92, which is not a whole number of trucks: seven trucks carry only 1,260 parcels and leave 166 behind, so an eighth truck is needed. Check: 8 × 180 = 1,440 ≥ 1,426, with 14 places to spare. The answer is 8 trucks.";
/** A ~200-word answer for the token-share run (the execution a real task would have). */
const LONG_ANSWER = `${ANSWER_WORDS} ${ANSWER_WORDS} ${ANSWER_WORDS}`;

// ---------------------------------------------------------------------------
// A cheap deterministic embedder: hashed bag of words, 512 dimensions.
// ---------------------------------------------------------------------------

function hashWord(word: string): number {
  let hash = 2_166_136_261;
  for (let index = 0; index < word.length; index += 1) {
    hash ^= word.charCodeAt(index);
    hash = Math.imul(hash, 16_777_619);
  }
  return hash >>> 0;
}

function embedText(text: string): number[] {
  const vector = new Array<number>(DIMENSIONS).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    const hash = hashWord(word);
    const index = hash % DIMENSIONS;
    vector[index] = (vector[index] ?? 0) + ((hash >>> 16) & 1 ? 1 : -1);
  }
  return vector;
}

/** Deterministic, microseconds per text; not a semantic embedder (timing only). */
const hashedEmbeddings: EmbeddingsInterface = {
  async embedQuery(text: string) {
    return embedText(text);
  },
  async embedDocuments(texts: string[]) {
    return texts.map(embedText);
  },
};

/** 10,000 stored plans: 1,250 past auctions of 8 bids (1 winning, 7 losing) on varied tasks. */
async function filledMemory(): Promise<StrategyMemory> {
  const memory = createInMemoryStrategyMemory({ embeddings: hashedEmbeddings, maxEntries: MEMORY_ENTRIES });
  const entries: NewStrategyEntry[] = [];
  const auctions = MEMORY_ENTRIES / POOL_SIZE;
  for (let auction = 0; auction < auctions; auction += 1) {
    const task = `Past task ${auction}: ships ${auction * 7} parcels, ${auction % 40}% more, truck capacity ${100 + (auction % 90)}; how many trucks?`;
    const vector = embedText(task);
    for (let member = 0; member < POOL_SIZE; member += 1) {
      entries.push({
        id: `past-${auction}:m${member}`,
        auctionId: `past-${auction}`,
        task,
        kind: "route",
        agent: `m${member}`,
        plan: PLANS[(member + auction) % PLANS.length] as string,
        role: member === auction % POOL_SIZE ? "winning" : "losing",
        cost: 0.001 * (member + 1),
        createdAt: auction,
        vector,
      });
    }
  }
  await memory.add(entries);
  return memory;
}

/** Durations (ms) of the router's memory calls, one per call. */
interface MemoryTimings {
  write: number[];
  lookup: number[];
}

/** `memory` with its `add` (the router's write after each auction) and `contrastivePairs` timed. */
function timedMemory(memory: StrategyMemory, timings: MemoryTimings): StrategyMemory {
  return {
    ...memory,
    async add(entries) {
      const start = performance.now();
      await memory.add(entries);
      timings.write.push(performance.now() - start);
    },
    async contrastivePairs(task, options) {
      const start = performance.now();
      const pairs = await memory.contrastivePairs(task, options);
      timings.lookup.push(performance.now() - start);
      return pairs;
    },
  };
}

// ---------------------------------------------------------------------------
// The scripted pool
// ---------------------------------------------------------------------------

type CallKind = "plan" | "refine" | "jury" | "answer";

/** One model call the router made, captured to replay it directly. */
interface CapturedCall {
  member: number;
  kind: CallKind;
  messages: BaseMessage[];
  maxTokens: number | undefined;
}

function kindOf(messages: readonly BaseMessage[]): CallKind {
  const system = messages[0]?.type === "system" ? messages[0].text : "";
  if (system.startsWith(JURY_RUBRIC)) return "jury";
  if (system.includes(REFINEMENT_PROMPT)) return "refine";
  if (system.startsWith(PLANNING_PROMPT)) return "plan";
  return "answer";
}

const PLAN_BLOCK = /<plan id="([^"]+)">\n([^<]*)\n<\/plan>/g;

/** The juror: 5 for a plan that verifies its result, 4 for one that names a risk, else 3. */
function juryReply(prompt: string): string {
  const lines: string[] = [];
  for (const match of prompt.matchAll(PLAN_BLOCK)) {
    const plan = match[2] ?? "";
    const score = plan.includes("verify") ? 5 : plan.includes("risk") ? 4 : 3;
    lines.push(`${match[1]}: SCORE: ${score}`);
  }
  return lines.join("\n");
}

interface PoolSettings {
  /** `"reported"`: usage from word/character counts (no tokenizer); `"tokenizer"`: counted. */
  usage: "reported" | "tokenizer";
  answer: string;
  /** Receives every call when set. */
  capture?: (call: CapturedCall) => void;
}

function scriptedPool({ usage, answer, capture }: PoolSettings): ScriptedChatModel[] {
  return Array.from({ length: POOL_SIZE }, (_, member) => {
    const reply = (call: ScriptedCall): ScriptedReply => {
      const kind = kindOf(call.messages);
      capture?.({ member, kind, messages: call.messages, maxTokens: call.maxTokens });
      const content =
        kind === "plan"
          ? (PLANS[member] as string)
          : kind === "refine"
            ? REFINED_PLAN
            : kind === "jury"
              ? juryReply(call.messages[1]?.text ?? "")
              : answer;
      if (usage === "tokenizer") return content;
      const inputCharacters = call.messages.reduce((sum, message) => sum + message.text.length, 0);
      const outputTokens = Math.ceil(content.length / 4);
      return { content, usage: { inputTokens: Math.ceil(inputCharacters / 4), outputTokens } };
    };
    return new ScriptedChatModel({ model: `bench-m${member}`, replies: reply, recordCalls: false });
  });
}

/** Member i's price: output from `OUTPUT_PRICES`, input a quarter of it. */
function priceOf(member: number): { inputPerMillion: number; outputPerMillion: number } {
  const output = OUTPUT_PRICES[member] as number;
  return { inputPerMillion: output / 4, outputPerMillion: output };
}

/**
 * A budget no benchmark run comes near (10^12 tokens, $1M; a run spends ~10^7 tokens), priced
 * like the pool, so every member is admitted and every call is reserved and settled in tokens and USD.
 */
function generousBudget(): TokenBudget {
  const prices = Object.fromEntries(OUTPUT_PRICES.map((_, member) => [`bench-m${member}`, priceOf(member)]));
  return createTokenBudget({ limits: { global: { maxTokens: 1e12, maxUsd: 1e6 } }, prices });
}

function routerOver(
  models: ScriptedChatModel[],
  memory: StrategyMemory,
  jury: "all" | "none",
  budget?: TokenBudget,
): AuctionRouter {
  return new AuctionRouter({
    pool: models.map((model, member) => ({ name: `m${member}`, model, price: priceOf(member) })),
    memory,
    jury,
    seed: 1,
    ...(budget && { budget }),
  });
}

/** Consecutive calls of the same kind form one stage (the router awaits each stage before the next). */
function stagesOf(calls: readonly CapturedCall[]): CapturedCall[][] {
  const stages: CapturedCall[][] = [];
  for (const call of calls) {
    const last = stages.at(-1);
    if (last && last[0]?.kind === call.kind) last.push(call);
    else stages.push([call]);
  }
  return stages;
}

// ---------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------

/** The overhead figures of one configuration; `budgeted`: with {@link generousBudget}, named `router.*.budgeted.*`. */
async function overheadFigures(jury: "all" | "none", budgeted = false): Promise<BenchResult[]> {
  const memory = await filledMemory();
  const timings: MemoryTimings = { write: [], lookup: [] };
  let captured: CapturedCall[] | undefined;
  const models = scriptedPool({ usage: "reported", answer: ANSWER_WORDS, capture: (call) => captured?.push(call) });
  const budget = budgeted ? generousBudget() : undefined;
  const router = routerOver(models, timedMemory(memory, timings), jury, budget);
  const suffix = `${budgeted ? "budgeted." : ""}jury_${jury}`;

  // Capture the calls of one auction, then replay them directly, stage by stage.
  let next = 0;
  const task = () => taskNumber(next++);
  await router.invoke(task());
  captured = [];
  const sample = await router.invoke(task());
  const stages = stagesOf(captured);
  captured = undefined;
  const direct = async () => {
    for (const stage of stages) {
      await Promise.all(
        stage.map((call) =>
          (models[call.member] as ScriptedChatModel).invoke(call.messages, { maxTokens: call.maxTokens }),
        ),
      );
    }
  };

  timings.write.length = 0;
  timings.lookup.length = 0;
  const routed = await medianMicros(`router.invoke.${suffix}`, () => router.invoke(task()), { time: MEASURE_MS });
  const memoryWrite = median(timings.write);
  const memoryLookup = median(timings.lookup);
  const baseline = await medianMicros(`router.direct_calls.${suffix}`, direct, { time: MEASURE_MS });
  const auction = (sample.response_metadata.gavel as RouterMetadata).auction;
  const details = {
    pool: POOL_SIZE,
    memoryEntries: await memory.size(),
    dimensions: DIMENSIONS,
    calls: stages.reduce((sum, stage) => sum + stage.length, 0),
    stages: stages.map((stage) => `${stage[0]?.kind}×${stage.length}`).join(" → "),
    provisionalWinner: auction.provisionalWinner,
    winner: auction.winner,
    refinements: auction.refinements.length,
    refinementSkipped: auction.refinementSkipped ?? null,
    ...(budget && { budget: "global 1e12 tokens, $1M", dropped: Object.keys(auction.dropped).length }),
    memoryWriteMs: memoryWrite,
    memoryLookupMs: memoryLookup,
  };
  const overhead = (routed.medianUs - baseline.medianUs) / 1000;
  await memory.close();
  // The 2 ms target is for the router without a budget.
  const target = budgeted ? {} : { target: { op: "<=" as const, value: TARGET_MS } };
  return [
    {
      name: `router.invoke.${suffix}`,
      value: routed.medianUs / 1000,
      unit: "ms",
      details: { ...details, samples: routed.samples },
    },
    {
      name: `router.direct_calls.${suffix}`,
      value: baseline.medianUs / 1000,
      unit: "ms",
      details: { calls: details.calls, samples: baseline.samples },
    },
    {
      name: `router.overhead.${suffix}`,
      value: overhead,
      unit: "ms",
      ...target,
      details,
    },
    {
      name: `router.overhead.memory_write.${suffix}`,
      value: memoryWrite,
      unit: "ms",
      details: { what: "median memory.add after each auction (8 plans; evicts to stay at 10,000)" },
    },
    {
      name: `router.overhead.memory_lookup.${suffix}`,
      value: memoryLookup,
      unit: "ms",
      details: { what: "median memory.contrastivePairs(task, k 8) when refinement runs (0: it did not)" },
    },
    {
      name: `router.overhead.without_memory.${suffix}`,
      value: overhead - memoryWrite - memoryLookup,
      unit: "ms",
      details: {
        what: "overhead minus the two memory medians: prompts, parsing, scoring, clearing, copies, callbacks",
      },
    },
  ];
}

async function tokenShare(): Promise<BenchResult> {
  const memory = await filledMemory();
  const router = routerOver(scriptedPool({ usage: "tokenizer", answer: LONG_ANSWER }), memory, "all");
  const answer = await router.invoke(taskNumber(0));
  const { usage, auction } = answer.response_metadata.gavel as RouterMetadata;
  await memory.close();
  return {
    name: "router.auction_token_share.jury_all",
    value: usage.auctionShare * 100,
    unit: "%",
    details: {
      auctionTokens: usage.auction.total_tokens,
      auctionInput: usage.auction.input_tokens,
      auctionOutput: usage.auction.output_tokens,
      executionTokens: usage.execution.total_tokens,
      refinements: auction.refinements.length,
      note: "tokenizer-counted scripted pool of 8, jury of all 8, refinement on, ~200-word answer",
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Memory-bid decision (issue 10): the median time of one memory-mode decision given the request's
// vector — the router's `memberNeighbours` (one agent-filtered search per member, answered as one
// batch by a matrix memory) on an int8 in-memory memory of outcome entries (k: the router's
// default), then estimateMembers, estimateCascades and clearMemoryBids with the router's defaults. Targets: ≤ 1 ms at 10,000 entries, ≤ 10 ms at 100,000.
// ---------------------------------------------------------------------------------------------

const DECISION_MEMBERS = 11;
const DECISION_NEIGHBOURS = DEFAULT_MEMORY_BIDS.neighbours;
/** The clearing's seed: a router clears every request with its one `seed`. */
const DECISION_SEED = 1;

/**
 * `size` outcome entries over the 11 members: auctions of 1–3 called members (an escalation
 * ladder's length), each auction's entries sharing its request vector, 0/1 outcomes, USD costs.
 */
function outcomeEntries(size: number, names: readonly string[], embedderId: string): NewStrategyEntry[] {
  const random = mulberry32Float(size);
  const entries: NewStrategyEntry[] = [];
  for (let auction = 0; entries.length < size; auction += 1) {
    const vector = unitVector(random);
    const called = Math.min(size - entries.length, 1 + Math.floor(random() * 3));
    const first = Math.floor(random() * names.length);
    for (let rung = 0; rung < called; rung += 1) {
      const member = names[(first + rung * 4) % names.length] as string;
      entries.push(
        outcomeEntry({
          auctionId: `bench:${auction}`,
          member,
          text: `request ${auction}`,
          vector,
          role: called === 1 ? "single" : rung === called - 1 ? "winning" : "losing",
          called: true,
          costUsd: 0.0001 * (1 + names.indexOf(member)) * (0.5 + random()),
          embedderId,
          kind: "",
          createdAt: auction,
          outcome: random() < 0.6 ? 1 : 0,
        }),
      );
    }
  }
  return entries;
}

/**
 * A memory of `size` outcome entries and one memory-mode decision over it, as the router's memory
 * stage makes it given the request vector (`memberNeighbours`, then the estimate, the cascades and
 * the clearing with the router's defaults); each call decides the next of 64 seeded queries and
 * returns the winner.
 */
export async function memoryDecisionRunner(
  size: number,
): Promise<{ decide: () => Promise<string>; close: () => Promise<void> }> {
  const embedderId = "bench-embedder";
  const members = Array.from({ length: DECISION_MEMBERS }, (_, index) => ({
    name: `m${index}`,
    price: { inputPerMillion: 0.1 * 2 ** (index / 2), outputPerMillion: 0.4 * 2 ** (index / 2) },
  }));
  const names = members.map((member) => member.name);
  const memory = createInMemoryStrategyMemory({
    embeddings: {
      embedQuery: () => Promise.reject(new Error("unused")),
      embedDocuments: () => Promise.reject(new Error("unused")),
    },
    maxEntries: size,
    precision: "int8",
  });
  await memory.add(outcomeEntries(size, names, embedderId));
  const random = mulberry32Float(size + 1);
  const queries = Array.from({ length: 64 }, () => Array.from(unitVector(random)));
  let next = 0;
  const decide = async () => {
    const vector = queries[next++ % queries.length] as number[];
    const hits = await memberNeighbours(memory, vector, names, DECISION_NEIGHBOURS, embedderId);
    const evidence = estimateMembers({
      hits,
      members,
      promptTokens: 200,
      settings: DEFAULT_MEMORY_BIDS,
      embedderId,
    });
    const cascades = estimateCascades({ hits, evidence, priorStrength: DEFAULT_MEMORY_BIDS.priorStrength });
    return clearMemoryBids([...evidence, ...cascades], { lambda: DEFAULT_LAMBDA, seed: DECISION_SEED }).winner;
  };
  return { decide, close: () => memory.close() };
}

async function memoryDecisionFigures(size: number, target: number): Promise<BenchResult> {
  const { decide, close } = await memoryDecisionRunner(size);
  let winners = 0;
  const timing = await medianMicros(
    `router.memory-decision.${size}`,
    async () => {
      if ((await decide()) !== "") winners += 1;
    },
    { time: 2_000 },
  );
  await close();
  return {
    name: `router.memory-decision.${size / 1000}k`,
    value: timing.medianUs / 1000,
    unit: "ms",
    target: { op: "<=", value: target },
    details: {
      entries: size,
      members: DECISION_MEMBERS,
      neighbours: DECISION_NEIGHBOURS,
      precision: "int8",
      samples: timing.samples,
      decisions: winners,
      note: `given the request vector (number[], as the embedder returns it): the router's memberNeighbours (11 agent-filtered searches, k ${DECISION_NEIGHBOURS}, one batch on a matrix memory), estimateMembers, estimateCascades, clearMemoryBids`,
    },
  };
}

/** The router's own median overhead per auction (jury all / none; without and with a budget) and the auction token share. */
export async function run(): Promise<BenchResult[]> {
  return [
    await memoryDecisionFigures(10_000, 1),
    await memoryDecisionFigures(100_000, 10),
    ...(await overheadFigures("all")),
    ...(await overheadFigures("none")),
    ...(await overheadFigures("all", true)),
    ...(await overheadFigures("none", true)),
    await tokenShare(),
  ];
}
