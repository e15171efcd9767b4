/**
 * Memory bids in the engine (issue 10): embed the request once, read each available member's nearest
 * outcome entries (one search per member, filtered by agent: {@link memberNeighbours}), estimate,
 * clear, and — in `"auto"` mode — ask whether the memory is confident. The pure parts are `../memory-bids/`; this
 * file does the I/O and builds the auction record of the memory paths.
 *
 * Budget: with a budget, only the members whose answer alone fits what is left for the request's
 * scopes bid (`BudgetScreen.screenAnswers`: the same answer need the plan auction's screen keeps in
 * reserve); the others are dropped with the figures.
 */
import type { BaseMessage } from "@langchain/core/messages";
import { createSeededRandom } from "../../market/random.js";
import type { AuctionOutcome } from "../../market/types.js";
import { StrategyMemoryError } from "../../memory/errors.js";
import { agentNeighbourSearchOf } from "../../memory/matrix-memory.js";
import type { StrategyMemory, StrategySearchHit } from "../../memory/types.js";
import type { BudgetScreen } from "../budget-screen.js";
import { type CascadeEvidence, estimateCascades } from "../memory-bids/cascade.js";
import {
  clearMemoryBids,
  escalationLadder,
  estimateMembers,
  isConfident,
  type MemberEvidence,
  type MemoryBidsClearing,
  MemoryEmbedderMismatchError,
  requestText,
} from "../memory-bids/index.js";
import type { ResolvedMember } from "../options.js";
import type { AuctionState, EngineContext, RouterAuctionRecord, RouterPath } from "./records.js";

/** What memory bids decided for one request. */
export interface MemoryDecision {
  /** The embedded request text and its vector. */
  text: string;
  vector: number[];
  /** The members that bid (those the budget affords), and who was dropped with why. */
  available: ResolvedMember[];
  excluded: Record<string, string>;
  /** The clearing (bids with value, evidence, spread, normalised cost in `meta`), when anyone bid. */
  clearing: MemoryBidsClearing | undefined;
  /** `"memory"`, `"explore"`, or `undefined` when `"auto"` is unsure (the caller picks the unsure path). */
  path: Extract<RouterPath, "memory" | "explore"> | undefined;
  /** Why, as a sentence (the confidence rule's verdict in `"auto"`). */
  reason: string;
  /**
   * The agreement cascade that won the auction, when one did (`memoryBids.cascades`): the request
   * takes the escalation path with rungs `[first, second]` and `top` (in `"auto"`, when confident or
   * when unsure with `unsure: "escalate"`).
   */
  cascade?: CascadeEvidence;
}

/** The memory-bid stage of one engine. */
export interface MemoryBidStage {
  decide(state: AuctionState): Promise<MemoryDecision>;
}

/** Build the stage; `screen` holds the budget arithmetic (used only with a budget). */
export function createMemoryBidStage({ settings }: EngineContext, screen: BudgetScreen): MemoryBidStage {
  const memory = settings.memory as NonNullable<typeof settings.memory>;
  const embeddings = settings.embeddings as NonNullable<typeof settings.embeddings>;
  const embedderId = settings.embedderId as string;
  const { memoryBids } = settings;
  /** Requests decided so far: the exploration draw is seeded by the seed and this counter. */
  let requests = 0;

  async function embed(text: string): Promise<number[]> {
    const [vector] = await embeddings.embedDocuments([text]);
    if (vector === undefined || vector.length === 0) {
      throw new MemoryEmbedderMismatchError(embedderId, undefined, { reason: "the embedder returned no vector" });
    }
    return vector;
  }

  async function decide(state: AuctionState): Promise<MemoryDecision> {
    const request = state.request;
    const draw = createSeededRandom({ seed: settings.seed + requests, stream: "gavel:explore" }).nextFloat();
    requests += 1;
    const text = requestText(request.messages);
    const vector = await embed(text);
    const screened = settings.budget
      ? await screen.screenAnswers(state)
      : { admitted: settings.pool, excluded: {}, floor: undefined };
    const available = screened.admitted;
    if (available.length === 0) {
      return {
        text,
        vector,
        available,
        excluded: screened.excluded,
        clearing: undefined,
        path: "memory",
        reason: "budget: no member can afford its answer",
      };
    }
    const hits = await memberNeighbours(
      memory,
      vector,
      available.map((member) => member.name),
      memoryBids.neighbours,
      embedderId,
    );
    const promptTokens = approximatePromptTokens(request.messages);
    const evidence = estimateMembers({
      hits,
      members: available.map((member) => ({ name: member.name, price: member.price })),
      promptTokens,
      settings: memoryBids,
      embedderId,
    });
    // Agreement cascades bid beside the members, from the same hits (no extra search).
    const cascades = memoryBids.cascades
      ? estimateCascades({ hits, evidence, priorStrength: memoryBids.priorStrength })
      : [];
    const rate = memoryBids.explorationRate;
    const cleared = clearMemoryBids([...evidence, ...cascades], {
      lambda: settings.lambda,
      seed: settings.seed,
      ...(rate > 0 && { explore: { rate, draw } }),
    });
    // Exploration draws among the members only: a drawn cascade falls back to the auction's winner.
    const drawnCascade = cleared.explored && cascades.some((item) => item.member === cleared.winner);
    const clearing: MemoryBidsClearing = drawnCascade
      ? { ...cleared, winner: cleared.outcome.winners[0] as string, explored: false }
      : cleared;
    const winner = clearing.evidence.find((item) => item.member === clearing.outcome.winners[0]) as MemberEvidence;
    const cascade = clearing.explored ? undefined : cascades.find((item) => item.member === clearing.winner);
    const explored = clearing.explored ? `; explored: ε ${rate} drew "${clearing.winner}"` : "";
    const summary = `memory bids: "${winner.member}" value ${winner.value.toFixed(3)}, evidence ${winner.evidence.toFixed(1)}`;
    const won =
      cascade === undefined
        ? summary
        : `memory bids: ${cascade.member} won (value ${cascade.value.toFixed(3)}, evidence ${cascade.evidence.toFixed(1)}, agreement ${cascade.agreement.toFixed(2)})`;
    const base = { text, vector, available, excluded: screened.excluded, clearing };
    if (settings.mode === "memory") {
      if (cascade !== undefined) return { ...base, cascade, path: undefined, reason: won };
      return { ...base, path: clearing.explored ? "explore" : "memory", reason: `${won}${explored}` };
    }
    const verdict = isConfident(winner, memoryBids.confidence);
    if (cascade !== undefined) {
      // An unsure cascade climbs its own ladder when unsure requests escalate; with `unsure: "plans"` it does not run.
      const runs = verdict.confident || memoryBids.unsure === "escalate";
      return { ...base, ...(runs && { cascade }), path: undefined, reason: `${won}; ${verdict.reason}` };
    }
    if (!verdict.confident && !clearing.explored && winner.member === cheapestMember(clearing.evidence, available)) {
      return {
        ...base,
        path: "memory",
        reason: `${verdict.reason}; "${winner.member}" won and is the cheapest member: a climb would only buy dearer answers`,
      };
    }
    return {
      ...base,
      path: verdict.confident ? (clearing.explored ? "explore" : "memory") : undefined,
      reason: verdict.confident ? `${verdict.reason}${explored}` : verdict.reason,
    };
  }

  return { decide };
}

/**
 * Each member's `k` nearest outcome entries for one request vector, by member name: one search per
 * member filtered by agent, over entries whose outcome is set (answers still waiting for feedback are
 * no evidence, and a prompt asked again and again must not fill the neighbours with them). A matrix
 * memory (in-memory, vectra) answers them as one batch
 * (`agentNeighbourSearchOf`: the request scored once, the stored entries read without copies — the
 * estimates only read them); any other memory gets one `memory.search` per member, in parallel.
 * The hits are the same either way.
 *
 * @throws MemoryEmbedderMismatchError when the memory holds vectors of another dimension.
 */
export async function memberNeighbours(
  memory: StrategyMemory,
  vector: readonly number[],
  members: readonly string[],
  k: number,
  embedderId: string,
): Promise<Map<string, readonly StrategySearchHit[]>> {
  try {
    const batch = agentNeighbourSearchOf(memory);
    const found = batch
      ? batch(vector, members, k)
      : await Promise.all(members.map((agent) => memory.search({ vector, k, filter: { agent, hasOutcome: true } })));
    return new Map(members.map((member, index) => [member, found[index] ?? []]));
  } catch (error) {
    if (StrategyMemoryError.isInstance(error) && error.reason === "dimension_mismatch") {
      throw new MemoryEmbedderMismatchError(embedderId, undefined, { reason: error.message, cause: error });
    }
    throw error;
  }
}

/** The member the escalation ladder asks first (the lowest expected cost), among `members` (cascade bids left out). */
function cheapestMember(evidence: readonly MemberEvidence[], members: readonly ResolvedMember[]): string | undefined {
  const names = new Set(members.map((member) => member.name));
  return escalationLadder(evidence.filter((item) => names.has(item.member))).rungs[0];
}

/** Characters per token of the cold cost estimate's prompt side (English text with tiktoken encodings: about 4). */
const CHARACTERS_PER_TOKEN = 4;
/** Tokens a chat format adds per message. */
const TOKENS_PER_MESSAGE = 4;

/**
 * The prompt tokens of the cold cost estimate, approximated from the characters: a tokenizer's count
 * takes about 3 ms on a long few-shot prompt — more than the rest of the decision — and the estimate
 * only needs the order of magnitude (observed costs replace it as evidence accumulates). The budget
 * screen, when there is a budget, counts exactly.
 */
function approximatePromptTokens(messages: readonly BaseMessage[]): number {
  let tokens = 0;
  for (const message of messages) tokens += TOKENS_PER_MESSAGE + Math.ceil(message.text.length / CHARACTERS_PER_TOKEN);
  return tokens;
}

/**
 * The record of an auction decided by memory bids (paths `"memory"`, `"explore"`, `"escalation"`):
 * no plans, no jury; `outcome` is the memory-bid clearing; `winner` the member whose answer is final.
 */
export function memoryRecord(
  state: AuctionState,
  decision: MemoryDecision,
  fields: { winner: ResolvedMember; path: RouterPath; reason: string; task: string; createdAt: number },
  settings: EngineContext["settings"],
): RouterAuctionRecord {
  const { clearing } = decision;
  const outcome: AuctionOutcome = clearing?.outcome ?? {
    mechanism: "first_price",
    winners: [],
    results: [],
    clearingPrice: 0,
    seed: settings.seed,
    reservePrice: 0,
    topK: 1,
  };
  const result = outcome.results.find((item) => item.bidder === fields.winner.name);
  return {
    auctionId: state.auctionId,
    task: fields.task,
    createdAt: fields.createdAt,
    weights: settings.weights,
    jurors: [],
    bids: [],
    dropped: { ...decision.excluded },
    juries: [],
    provisionalWinner: outcome.winners[0],
    refinements: [],
    refinementSkipped: "memory bids: no plans",
    winner: fields.winner.name,
    winnerPlan: "",
    outcome,
    price: {
      cost: 0,
      amount: result?.amount ?? 0,
      clearingPrice: outcome.clearingPrice,
      inputPerMillion: fields.winner.price.inputPerMillion,
      outputPerMillion: fields.winner.price.outputPerMillion,
    },
    path: fields.path,
    reason: fields.reason,
    ...(clearing === undefined && { fallback: { member: fields.winner.name, reason: decision.reason } }),
  };
}
