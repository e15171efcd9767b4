/**
 * What a routing auction leaves behind (`response_metadata.gavel.auction` and the overhead calls)
 * and what its stages share while it runs. Types, and the one record edit made after the auction:
 * {@link withFallbackAnswer}.
 */
import type { Callbacks } from "@langchain/core/callbacks/manager";
import type { AIMessage, BaseMessage } from "@langchain/core/messages";
import type { Runnable } from "@langchain/core/runnables";
import type { ScopeIds, Usage } from "../../budget/index.js";
import type { EntropySource, PlanEntropy } from "../../entropy.js";
import type { AuctionOutcome } from "../../market/index.js";
import type { ScreenState } from "../budget-screen.js";
import type { ResolvedMember, RouterSettings, RouterWeights } from "../options.js";

// ---------------------------------------------------------------------------
// The record
// ---------------------------------------------------------------------------

/** What an internal call is for (`"escalation"`: a rung's answer that was not the final one). */
export type CallPurpose = "plan" | "jury" | "refine" | "answer" | "escalation";

/**
 * Which path decided who answers: `"plans"` (the SALE plan auction), `"memory"` (memory bids),
 * `"explore"` (memory bids, ε exploration drew the member), `"escalation"` (auto mode, unsure:
 * the cheapest members first, up the ladder until two answers agree or the top member answers).
 */
export type RouterPath = "plans" | "memory" | "explore" | "escalation";

/** One model call made for an auction, as charged. */
export interface AuctionCall {
  member: string;
  model: string;
  purpose: CallPurpose;
  usage: Usage;
  usd: number;
}

/** One scored plan. */
export interface RouterBid {
  bidder: string;
  model: string;
  plan: string;
  planTokens: number;
  entropy: number;
  entropySource: EntropySource;
  entropyMethod: PlanEntropy["method"];
  /** Likert scores 0–5 by juror. */
  jury: Record<string, number>;
  /** Jurors whose score of this plan was dropped, with why. */
  juryDropped: Record<string, string>;
  /** C. */
  cost: number;
  /** V. */
  value: number;
  /** V − C. */
  score: number;
  /** USD per output token of the bidder. */
  pricePerOutputToken: number;
}

/** A memory-guided re-bid by a member cheaper than the provisional winner. */
export interface RefinementRecord {
  bidder: string;
  /** Contrastive pairs the member was shown. */
  pairs: number;
  /** The refined bid, when the refinement call succeeded. */
  bid?: RouterBid;
  /** True when the refined bid beat the member's first bid and replaced it. */
  adopted: boolean;
  /** Why the refinement failed, when it did. */
  reason?: string;
}

/** One jury call. */
export interface JuryRecord {
  juror: string;
  stage: "bids" | "refinements";
  /** Bidders in the order their plans were shown. */
  order: string[];
  /** Why the whole call failed, when it did. */
  failure?: string;
}

/** The full record of one routing auction (`response_metadata.gavel.auction`). */
export interface RouterAuctionRecord {
  auctionId: string;
  task: string;
  createdAt: number;
  weights: RouterWeights;
  jurors: string[];
  /** First-round bids that were scored. */
  bids: RouterBid[];
  /** Bidders dropped from the auction, with why (error, timeout, empty plan, budget). */
  dropped: Record<string, string>;
  juries: JuryRecord[];
  /** Winner before refinement (undefined when every bidder failed). */
  provisionalWinner: string | undefined;
  refinements: RefinementRecord[];
  /** Why refinement did not run, when it did not. */
  refinementSkipped?: string;
  /** Who answers. */
  winner: string;
  /** The winning plan ("" when the fallback answers). */
  winnerPlan: string;
  /** The final clearing, as the market core returned it. */
  outcome: AuctionOutcome;
  /** What the win cost: the winner's plan cost C, its bid amount and the clearing price. */
  price: { cost: number; amount: number; clearingPrice: number; inputPerMillion: number; outputPerMillion: number };
  /**
   * Present when the fallback member answers without a plan: every bidder failed, the budget
   * could afford no bidder (reason `budget: …`), or the winner's answer failed (`winner … failed`).
   */
  fallback?: { member: string; reason: string };
  /** Which path decided who answers (see {@link RouterPath}). */
  path?: RouterPath;
  /** Why that path, as a sentence (e.g. `"evidence 0.0 < 4: cold; escalation: agreed: B = B"`). */
  reason?: string;
  /** Members whose answer was bought, in the order they answered (the final one last). */
  calls?: string[];
}

/** An answer bought during the auction (an escalation rung), as charged. */
export interface BoughtAnswer {
  member: ResolvedMember;
  reply: AIMessage;
  /** The call as charged (purpose `"escalation"`, or `"answer"` once it is the final answer). */
  call: AuctionCall;
}

/** What an auction returns: the winner, its plan, the record and the overhead calls. */
export interface AuctionRun {
  winner: ResolvedMember;
  plan: string;
  record: RouterAuctionRecord;
  calls: AuctionCall[];
  /** The budget scopes the auction's calls were charged to (the answer is charged to the same). */
  scopes: ScopeIds | undefined;
  /**
   * The final answer when the auction already bought it (an escalation that stopped on a rung):
   * the router returns it without another call; its charge is the execution, not the overhead.
   */
  answered?: BoughtAnswer;
  /** Every answer the auction bought, in order (`answered` included): their outcome entries. */
  bought?: BoughtAnswer[];
  /** The request as memory bids embed it (`requestText`), and its vector when it was embedded. */
  embedded?: { text: string; vector?: number[] };
}

/**
 * The run as it stands when the fallback answers, without a plan, in place of the winner (whose
 * answer failed): `record.winner` is who answers, `record.fallback` says why; the clearing, the
 * bids and the price stay the auction's.
 */
export function withFallbackAnswer(run: AuctionRun, fallback: ResolvedMember, reason: string): AuctionRun {
  const { answered: _answered, ...rest } = run;
  return {
    ...rest,
    winner: fallback,
    plan: "",
    record: { ...run.record, winner: fallback.name, winnerPlan: "", fallback: { member: fallback.name, reason } },
  };
}

// ---------------------------------------------------------------------------
// What the stages share
// ---------------------------------------------------------------------------

/** Per-request inputs of an auction. */
export interface AuctionRequest {
  messages: readonly BaseMessage[];
  callbacks?: Callbacks;
  signal?: AbortSignal;
  /** Budget scopes of this request; the `budgetScopes` option fills the fields it leaves out. */
  scopes?: ScopeIds;
  /** Tools bound for the answer: their schemas are prompt tokens of the answer the budget must afford. */
  tools?: readonly unknown[];
  /** A system prompt sent with the answer besides `messages` (the middleware's `request.systemPrompt`). */
  systemPrompt?: string;
  /**
   * The model a member answers with (the call's tools bound), for answers bought during the auction
   * (escalation rungs). Default: the member's model.
   */
  answerModel?: (member: ResolvedMember) => Runnable;
  /**
   * Escalation through the caller instead (the middleware's `handler`): ask `member` to answer; the
   * caller charges the call. When absent, the engine makes and charges the call (the router).
   */
  askMember?: (member: ResolvedMember) => Promise<AIMessage>;
}

/** What one auction's calls share: the request, its scopes, the calls made, the answer's reserve. */
export interface AuctionState extends ScreenState {
  /** The auction these calls belong to (ledger charges of calls settled later carry it). */
  auctionId: string;
  request: AuctionRequest;
  /** Calls made so far, as charged. */
  calls: AuctionCall[];
  /** Members the budget pre-screen excluded (they neither bid nor judge), with why. */
  excluded: Record<string, string>;
}

/** What every stage of one engine reads: the settings, the pool by name, the model name a member is charged under. */
export interface EngineContext {
  settings: RouterSettings;
  members: ReadonlyMap<string, ResolvedMember>;
  nameOf(member: ResolvedMember): string;
}

/**
 * The run with `record.calls`: the members whose answer was bought, in order (escalation rungs), then
 * the member whose answer is final (`execution`) when it is not among them.
 */
export function withCalls(run: AuctionRun, execution: AuctionCall | undefined): AuctionRun {
  const calls = (run.bought ?? []).map((bought) => bought.member.name);
  if (execution !== undefined && !calls.includes(execution.member)) calls.push(execution.member);
  return { ...run, record: { ...run.record, calls: [...new Set(calls)] } };
}
