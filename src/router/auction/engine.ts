/**
 * The strategy auction (SALE), shared by `AuctionRouter` and `auctionRouterMiddleware`:
 * budget pre-screen → plans → entropy → jury → clearing → memory refinement → winner. After the
 * winner has answered, the ledger and the memory are written (`record`).
 *
 * The stages live beside this file: `calls.ts` (calls and charging), `rounds.ts` (bid and jury
 * rounds, clearing), `refinement.ts`, `persistence.ts` (ledger and memory writes), `records.ts`
 * (the record types); the budget arithmetic is `../budget-screen.ts`.
 */
import { HumanMessage, SystemMessage } from "@langchain/core/messages";
import { modelName } from "../../models.js";
import { createBudgetScreen, ownConversationCounts } from "../budget-screen.js";
import type { ResolvedMember, RouterSettings } from "../options.js";
import { PLANNING_PROMPT, planningRequest } from "../prompts.js";
import { type AuctionCalls, createAuctionCalls } from "./calls.js";
import { persistAuction } from "./persistence.js";
import type {
  AuctionCall,
  AuctionRequest,
  AuctionRun,
  AuctionState,
  EngineContext,
  RouterAuctionRecord,
} from "./records.js";
import { createRefinementStage } from "./refinement.js";
import { createBidRounds } from "./rounds.js";
import { lastHumanText, transcriptOf } from "./transcript.js";

/** The auction engine of one router or middleware. */
export interface StrategyAuctionEngine {
  readonly settings: RouterSettings;
  /** Hold one auction for the conversation `messages`. */
  run(request: AuctionRequest): Promise<AuctionRun>;
  /** Write the auction, its bids and every charge to the ledger, and its plans to the memory. */
  record(run: AuctionRun, execution: AuctionCall | undefined): Promise<void>;
  /** The winner's answer as charged (see `AuctionCalls.answerCall`). */
  answerCall: AuctionCalls["answerCall"];
}

/** Build the engine over resolved settings. */
export function createStrategyAuctionEngine(settings: RouterSettings): StrategyAuctionEngine {
  const names = new Map(settings.pool.map((member) => [member.name, modelName(member.model)]));
  const context: EngineContext = {
    settings,
    members: new Map(settings.pool.map((member) => [member.name, member])),
    nameOf: (member) => names.get(member.name) ?? modelName(member.model),
  };
  /** With a budget: prompt counts, the pre-screen and the answer's reserve. */
  const screen = createBudgetScreen(settings, context.nameOf);
  const calls = createAuctionCalls(context, screen);
  const rounds = createBidRounds(context, calls);
  const refinement = createRefinementStage(context, rounds, screen);

  async function run(request: AuctionRequest): Promise<AuctionRun> {
    const auctionId = settings.generateId();
    const createdAt = settings.now();
    const transcript = transcriptOf(request.messages);
    const task = lastHumanText(request.messages);
    const scopes =
      request.scopes === undefined ? settings.budgetScopes : { ...settings.budgetScopes, ...request.scopes };
    const state: AuctionState = {
      auctionId,
      request,
      transcript,
      scopes,
      calls: [],
      floor: undefined,
      excluded: {},
      planPrompt: [new SystemMessage(PLANNING_PROMPT), new HumanMessage(planningRequest(transcript))],
    };

    // With a budget: exclude, before anything is spent, the bidders whose plan, jury share and
    // answer do not fit; every later call must leave room for the dearest admissible answer. A local
    // model's answer is estimated with its own count of the conversation (tiktoken undercounts it).
    if (settings.budget) state.ownConversationCounts = await ownConversationCounts(settings.pool, request);
    const screened = await screen.screenBidders(state);
    state.floor = screened.floor;
    state.excluded = screened.excluded;
    const bidders = screened.admitted;

    const early = refinement.lookAhead(task, bidders.length);
    const first =
      bidders.length > 0
        ? await rounds.bidRound(bidders, state.planPrompt, "bids", state)
        : { bids: [], failures: {}, juries: [], dispatched: false };
    const dropped: Record<string, string> = { ...screened.excluded, ...first.failures };
    const provisional = rounds.clear(first.bids, dropped);
    const refined = await refinement.refine({ task, bidders, first, dropped, outcome: provisional, early }, state);
    const { outcome, effective, refinementSkipped } = refined;

    const winnerName = outcome.winners[0];
    const winner = winnerName === undefined ? settings.fallback : (context.members.get(winnerName) as ResolvedMember);
    const winningBid = effective.find((bid) => bid.bidder === winnerName);
    const winningResult = outcome.results.find((result) => result.bidder === winnerName);
    const fallbackReason =
      bidders.length === 0
        ? "budget: no bidder can afford its plan, its share of the jury and its answer"
        : "every bidder failed";
    const record: RouterAuctionRecord = {
      auctionId,
      task,
      createdAt,
      weights: settings.weights,
      jurors: [...settings.jurors],
      bids: first.bids,
      dropped,
      juries: [...first.juries, ...refined.juries],
      provisionalWinner: provisional.winners[0],
      refinements: refined.refinements,
      ...(refinementSkipped !== undefined && { refinementSkipped }),
      winner: winner.name,
      winnerPlan: winningBid?.plan ?? "",
      outcome,
      price: {
        cost: winningBid?.cost ?? 0,
        amount: winningResult?.amount ?? 0,
        clearingPrice: outcome.clearingPrice,
        inputPerMillion: winner.price.inputPerMillion,
        outputPerMillion: winner.price.outputPerMillion,
      },
      ...(winnerName === undefined && { fallback: { member: winner.name, reason: fallbackReason } }),
    };
    return { winner, plan: record.winnerPlan, record, calls: state.calls, scopes };
  }

  return {
    settings,
    run,
    record: (auction, execution) => persistAuction(settings, auction, execution),
    answerCall: calls.answerCall,
  };
}
