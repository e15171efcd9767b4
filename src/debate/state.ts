/**
 * The debate's LangGraph state. Everything the debate counts (tokens spent, per-agent usage,
 * the auction records) lives here, not in closures, so a checkpointer persists it and a parent
 * graph can read it.
 */
import { Annotation } from "@langchain/langgraph";
import type { AuctionOutcome } from "../market/types.js";
import type { SpeakerValueSource } from "./gating.js";
import type { DebateCallPurpose } from "./prompts.js";
import type { UtilitySource } from "./utility.js";

/** One broadcast message. */
export interface TranscriptEntry {
  /** 0-based round. */
  round: number;
  agent: string;
  content: string;
}

/** Tokens one agent used, as the provider reported them (or counted, when it did not). */
export interface AgentUsage {
  promptTokens: number;
  completionTokens: number;
  /** Calls made (intents, messages and drafts). */
  calls: number;
  intentCalls: number;
  messageCalls: number;
  /** Calls whose usage was counted with the tokenizer because the provider reported none. */
  estimatedCalls: number;
}

/** One agent's bid in a round. */
export interface DebateBid {
  agent: string;
  /** α × value. */
  amount: number;
  /**
   * What the agent's message is worth, by `source`: its intent's (or draft's) utility estimate
   * (`"intent"`); without an intent (a `prior_bids` round), its reliability (`"reliability"`) or
   * reliability × (1 − agreement) once it has answered (`"disagreement"`). See `speakerValue`.
   */
  value: number;
  source: SpeakerValueSource;
  aggressiveness: number;
  /**
   * Tokens its message costs: the message's reservation (prompt + `messageMaxTokens`), or in
   * `full_draft` intent rounds 0 (the draft is paid already: broadcasting it costs nothing, so
   * `budgeted_vcg`'s token cap does not bind on drafts). An agent whose tokens exceed what is left
   * of the budget does not take part in the auction (its bid is still recorded here).
   */
  tokens: number;
  /** Bids made with an intent or draft only: the utility estimate (= `value`). */
  utility?: number;
  /** Bids made with an intent or draft only: how `utility` was estimated. */
  utilitySource?: UtilitySource;
  /** Bids made with an intent or draft only: the intent (or, in `full_draft` mode, the draft). */
  text?: string;
}

/** An agent left out of (part of) a round, and why. */
export interface DebateDrop {
  agent: string;
  stage: DebateCallPurpose;
  /**
   * `"error"`: the call threw (the reservation was released; when the caller aborted it, charged
   * as abandoned); `"timeout"`: it missed `timeoutMs` and was abandoned (charged at what the
   * provider bills, see `billAbandonedCalls`); `"budget"`: it did not fit.
   */
  reason: "error" | "timeout" | "budget";
  detail: string;
}

/**
 * How a round chose its speakers:
 * - `"intents"` (`intent` / `full_draft` modes, the budget pays for a full round): every agent
 *   wrote an intent or draft and bid its utility;
 * - `"everyone"` (`full` mode, the budget pays for every message): no auction, everyone spoke;
 * - `"prior_bids"` (any mode, the budget cannot pay for a full round): no intent or draft was
 *   written; agents bid from what they knew before the round (reliability, their previous answer
 *   and the others' agreement) and the winners whose messages fit wrote them.
 */
export type DebateGating = "intents" | "prior_bids" | "everyone";

/** Everything about one round. */
export interface RoundRecord {
  round: number;
  /** How the speakers were chosen (see {@link DebateGating}). */
  gating: DebateGating;
  /** The auction id (also the ledger's), absent when `gating` is `"everyone"`. */
  auctionId?: string;
  /**
   * Every bid, in the agents' order (empty when `gating` is `"everyone"`). In a `"prior_bids"`
   * round an agent that has spoken and heard nothing since (no other message from the round of
   * its latest one on) does not bid: speaking again would repeat itself.
   */
  bids: DebateBid[];
  /** The cleared auction among the agents whose message fitted, absent when `gating` is `"everyone"`. */
  outcome?: AuctionOutcome;
  /** Who spoke: winners whose messages fitted together, in rank order (`"everyone"`: everyone who spoke). */
  speakers: string[];
  /** Clearing price each speaker paid (utility units, not tokens). */
  prices: Record<string, number>;
  /** Parsed answers of this round, by agent (from its message if it spoke, else its intent or draft). */
  answers: Record<string, string>;
  drops: DebateDrop[];
  /** Tokens settled during this round. */
  tokens: number;
}

/**
 * Why the debate stopped (the replay's `ReplayStopReason` uses the same names where they apply):
 * - `"converged"`: the answers agree;
 * - `"max_rounds"`: `maxRounds` rounds were held;
 * - `"budget"`: no bidder's message fits what is left of the budget;
 * - `"reserve"`: a `prior_bids` auction where every bidder's message fitted but no bid met the
 *   reserve price;
 * - `"no_bidders"`: a `prior_bids` round where nobody may bid: every agent has spoken and heard
 *   nothing new since (`heardNothingNew`);
 * - `"no_agents"`: no agent's call succeeded in the round.
 */
export type DebateStopReason = "converged" | "max_rounds" | "budget" | "reserve" | "no_bidders" | "no_agents";

const concat = <T>(left: T[], right: T[] | undefined): T[] => (right ? left.concat(right) : left);
const replace = <T>(left: T, right: T | undefined): T => (right === undefined ? left : right);
const merge = <T>(left: Record<string, T>, right: Record<string, T> | undefined): Record<string, T> =>
  right ? { ...left, ...right } : left;

/**
 * The debate graph's state. Input: `question` (required), `budget` (optional, overrides the
 * configured tokens per example), `exampleId` (optional, the ledger scope id).
 *
 * @example
 * ```ts
 * const debate = createAuctionDebate({ agents });
 * const state: typeof AuctionDebateState.State = await debate.invoke({ question: "What is 17 × 3?", exampleId: "gsm8k-17" });
 * [state.finalAnswer, state.stopReason, state.spentTokens]; // e.g. ["51", "converged", 640]
 * ```
 */
export const AuctionDebateState = Annotation.Root({
  question: Annotation<string>,
  /** Tokens for this example; defaults to the configured `budget`. */
  budget: Annotation<number | undefined>({ reducer: replace, default: () => undefined }),
  exampleId: Annotation<string | undefined>({ reducer: replace, default: () => undefined }),
  /** The public transcript: broadcast messages only. */
  transcript: Annotation<TranscriptEntry[]>({ reducer: concat, default: () => [] }),
  /** Each agent's latest private text: its intent, or its draft when it was not broadcast. */
  drafts: Annotation<Record<string, string>>({ reducer: merge, default: () => ({}) }),
  /** Each agent's latest parsed answer. */
  answers: Annotation<Record<string, string>>({ reducer: merge, default: () => ({}) }),
  rounds: Annotation<RoundRecord[]>({ reducer: concat, default: () => [] }),
  /** Cumulative usage by agent. */
  usage: Annotation<Record<string, AgentUsage>>({ reducer: merge, default: () => ({}) }),
  spentTokens: Annotation<number>({ reducer: replace, default: () => 0 }),
  remainingTokens: Annotation<number | undefined>({ reducer: replace, default: () => undefined }),
  stopReason: Annotation<DebateStopReason | undefined>({ reducer: replace, default: () => undefined }),
  finalAnswer: Annotation<string | undefined>({ reducer: replace, default: () => undefined }),
  /** Votes per answer behind `finalAnswer` (counts for majority, weights for weighted). */
  votes: Annotation<Record<string, number>>({ reducer: replace, default: () => ({}) }),
});

/** The full state type. */
export type AuctionDebateStateType = typeof AuctionDebateState.State;
/** What `invoke` accepts. */
export type AuctionDebateInput = typeof AuctionDebateState.Update;
