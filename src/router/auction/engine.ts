/**
 * The strategy auction (SALE), shared by `AuctionRouter` and `auctionRouterMiddleware`:
 * budget pre-screen → plans → entropy → jury → clearing → memory refinement → winner. After the
 * winner has answered, the ledger and the memory are written (`record`).
 *
 * The stages live beside this file: `calls.ts` (calls and charging), `rounds.ts` (bid and jury
 * rounds, clearing), `refinement.ts`, `persistence.ts` (ledger and memory writes), `records.ts`
 * (the record types); the budget arithmetic is `../budget-screen.ts`.
 */
import { type AIMessage, HumanMessage, SystemMessage } from "@langchain/core/messages";
import { describeError } from "../../errors.js";
import { modelName } from "../../models.js";
import { createBudgetScreen, ownConversationCounts } from "../budget-screen.js";
import { requestText } from "../memory-bids/index.js";
import type { ResolvedMember, RouterSettings } from "../options.js";
import { PLANNING_PROMPT, planningRequest } from "../prompts.js";
import { type AuctionCalls, createAuctionCalls } from "./calls.js";
import { climbLadder, ladderFor, toolCallSignature } from "./escalation.js";
import { createMemoryBidStage, type MemoryDecision, memoryRecord } from "./memory-engine.js";
import { persistAuction } from "./persistence.js";
import type {
  AuctionCall,
  AuctionRequest,
  AuctionRun,
  AuctionState,
  BoughtAnswer,
  EngineContext,
  RouterAuctionRecord,
  RouterPath,
} from "./records.js";
import { withCalls } from "./records.js";
import { createRefinementStage } from "./refinement.js";
import { createBidRounds } from "./rounds.js";
import { lastHumanText, transcriptOf } from "./transcript.js";

/** The auction engine of one router or middleware. */
export interface StrategyAuctionEngine {
  readonly settings: RouterSettings;
  /** Hold one auction for the conversation `messages`. */
  run(request: AuctionRequest): Promise<AuctionRun>;
  /**
   * Write the auction, its bids and every charge to the ledger, and to the memory its plans (plans
   * path) or its outcome entries (memory paths); `answerText` is the final answer's text.
   */
  record(run: AuctionRun, execution: AuctionCall | undefined, answerText?: string): Promise<void>;
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
  /** Memory bids (`mode: "memory" | "auto"`); undefined in `"plans"` mode. */
  const memoryBids = settings.mode === "plans" ? undefined : createMemoryBidStage(context, screen);

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
    // A local model's answer is estimated with its own count of the conversation (tiktoken undercounts it).
    if (settings.budget) state.ownConversationCounts = await ownConversationCounts(settings.pool, request);

    if (memoryBids === undefined) {
      const plans = await runPlans(state, createdAt, task);
      const embedded = settings.embeddings === undefined ? undefined : { text: requestText(request.messages) };
      return withPath(plans, "plans", "mode: plans", embedded);
    }
    const decision = await memoryBids.decide(state);
    const embedded = { text: decision.text, vector: decision.vector };
    const fields = { task, createdAt };
    if (decision.path !== undefined) {
      const name = decision.clearing?.winner;
      const winner = name === undefined ? settings.fallback : (context.members.get(name) as ResolvedMember);
      const record = memoryRecord(
        state,
        decision,
        { ...fields, winner, path: decision.path, reason: decision.reason },
        settings,
      );
      return { winner, plan: "", record, calls: state.calls, scopes, embedded };
    }
    if (decision.cascade === undefined && settings.memoryBids.unsure === "plans") {
      const plans = await runPlans(state, createdAt, task);
      return withPath(plans, "plans", `${decision.reason}; unsure: plan auction`, embedded);
    }
    return escalate(state, decision, fields, embedded);
  }

  /** `"auto"`, unsure: climb the escalation ladder (see `escalation.ts`). */
  async function escalate(
    state: AuctionState,
    decision: MemoryDecision,
    fields: { task: string; createdAt: number },
    embedded: AuctionRun["embedded"],
  ): Promise<AuctionRun> {
    const { clearing } = decision;
    if (clearing === undefined) {
      const winner = settings.fallback;
      const record = memoryRecord(
        state,
        decision,
        { ...fields, winner, path: "escalation", reason: decision.reason },
        settings,
      );
      return { winner, plan: "", record, calls: state.calls, scopes: state.scopes, embedded };
    }
    const ladder = ladderFor(clearing.evidence, context.members, decision.cascade);
    const values = new Map(clearing.evidence.map((item) => [item.member, item.value]));
    const top = context.members.get(ladder.top) as ResolvedMember;
    // Every rung's call must leave room for the top member's answer.
    if (settings.budget) state.floor = screen.answerNeed(top, state);
    const bought: BoughtAnswer[] = [];
    const { askMember } = state.request;
    const climbing = climbLadder<BoughtAnswer>({
      ladder,
      memberValue: (member) => values.get(member) ?? 0,
      stopAt: settings.memoryBids.stopAt,
      ask: async (name) => {
        const member = context.members.get(name) as ResolvedMember;
        if (askMember !== undefined) {
          try {
            const reply = await askMember(member);
            const answer = {
              member,
              reply,
              call: { ...calls.answerCall(member, reply, state.request.messages), purpose: "escalation" as const },
            };
            bought.push(answer);
            return { answer, text: reply.text, ...toolCallsOf(reply) };
          } catch (error) {
            if (state.request.signal?.aborted) throw error;
            return { failure: describeError(error) };
          }
        }
        const result = await calls.answer(member, state);
        if ("failure" in result) return result;
        const answer = { member, ...result };
        bought.push(answer);
        return { answer, text: result.reply.text, ...toolCallsOf(result.reply) };
      },
    });
    let climb: Awaited<typeof climbing>;
    try {
      climb = await climbing;
    } catch (error) {
      // The caller aborted mid-climb: the answers already bought were paid for, so they are recorded.
      for (const answer of bought) state.calls.push(answer.call);
      const reason = `${decision.reason}; escalation stopped: ${describeError(error)}`;
      const record = memoryRecord(
        state,
        decision,
        { ...fields, winner: settings.fallback, path: "escalation", reason },
        settings,
      );
      const stopped: AuctionRun = {
        winner: settings.fallback,
        plan: "",
        record,
        calls: state.calls,
        scopes: state.scopes,
      };
      await persistAuction(settings, withCalls({ ...stopped, bought }, undefined), undefined).catch(() => undefined);
      throw error;
    }
    state.floor = undefined;
    const winner = context.members.get(climb.final) as ResolvedMember;
    const inHand =
      climb.inHand === undefined
        ? undefined
        : { ...climb.inHand, call: { ...climb.inHand.call, purpose: "answer" as const } };
    // The answers that are not the final one are the auction's overhead.
    for (const answer of bought) if (answer !== climb.inHand) state.calls.push(answer.call);
    const reason = `${decision.reason}; escalation: ${climb.reason}`;
    const record = memoryRecord(state, decision, { ...fields, winner, path: "escalation", reason }, settings);
    return {
      winner,
      plan: "",
      record,
      calls: state.calls,
      scopes: state.scopes,
      embedded,
      bought: bought.map((answer) => (answer === climb.inHand && inHand ? inHand : answer)),
      ...(inHand && { answered: inHand }),
    };
  }

  /** The SALE plan auction (path `"plans"`). */
  async function runPlans(state: AuctionState, createdAt: number, task: string): Promise<AuctionRun> {
    const { auctionId, scopes } = state;
    // With a budget: exclude, before anything is spent, the bidders whose plan, jury share and
    // answer do not fit; every later call must leave room for the dearest admissible answer.
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

  /** A plan auction's run, with its path and reason (and the request text outcome entries are keyed by). */
  function withPath(plans: AuctionRun, path: RouterPath, reason: string, embedded: AuctionRun["embedded"]): AuctionRun {
    return { ...plans, record: { ...plans.record, path, reason }, ...(embedded && { embedded }) };
  }

  return {
    settings,
    run,
    record: (auction, execution, answerText) => persistAuction(settings, auction, execution, answerText),
    answerCall: calls.answerCall,
  };
}

/** `{ toolCalls }`: the signature of a reply's tool calls, when it made any (see `toolCallSignature`). */
function toolCallsOf(reply: AIMessage): { toolCalls?: string } {
  const signature = toolCallSignature(reply.tool_calls);
  return signature === undefined ? {} : { toolCalls: signature };
}
