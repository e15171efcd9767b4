/**
 * The debate's LangGraph state. Everything the debate counts (tokens spent, per-agent usage,
 * the auction records) lives here, not in closures, so a checkpointer persists it and a parent
 * graph can read it.
 */
import { Annotation } from "@langchain/langgraph";
import type { AuctionOutcome } from "../market/types.js";
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
  /** α × utility. */
  amount: number;
  utility: number;
  utilitySource: UtilitySource;
  aggressiveness: number;
  /** `budgeted_vcg` only: the message's reservation size (prompt + output cap). */
  tokens?: number;
  /** The intent (or, in `full_draft` mode, the draft) the bid was made with. */
  text: string;
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

/** Everything about one round. */
export interface RoundRecord {
  round: number;
  /** The auction id (also the ledger's), absent in `full` mode. */
  auctionId?: string;
  bids: DebateBid[];
  /** The cleared auction, absent in `full` mode. */
  outcome?: AuctionOutcome;
  /** Winners that were able to speak (in `full` mode: everyone who spoke). */
  speakers: string[];
  /** Clearing price each winner paid (utility units, not tokens). */
  prices: Record<string, number>;
  /** Parsed answers of this round, by agent (from its message if it spoke, else its intent or draft). */
  answers: Record<string, string>;
  drops: DebateDrop[];
  /** Tokens settled during this round. */
  tokens: number;
}

/** Why the debate stopped. */
export type DebateStopReason = "converged" | "max_rounds" | "budget" | "no_agents";

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
