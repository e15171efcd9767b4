/**
 * Memory-guided refinement (SALE): when the strategy memory has contrastive (losing, winning) plan
 * pairs for the task, the bidders cheaper than the provisional winner see them and re-bid; a
 * refined bid that scores higher than the member's first bid replaces it, and the bids clear again.
 *
 * Read top to bottom: the result, the stage factory (the early lookup, the round), the lookup.
 */
import { HumanMessage, SystemMessage } from "@langchain/core/messages";
import { describeError } from "../../errors.js";
import type { AuctionOutcome } from "../../market/index.js";
import type { ContrastivePair, StrategyMemory } from "../../memory/types.js";
import type { BudgetScreen } from "../budget-screen.js";
import { byPrice, type ResolvedMember, type RouterSettings } from "../options.js";
import { PLANNING_PROMPT, REFINEMENT_PROMPT, refinementRequest } from "../prompts.js";
import type { AuctionState, EngineContext, JuryRecord, RefinementRecord, RouterBid } from "./records.js";
import type { BidRoundResult, BidRounds } from "./rounds.js";

/** Contrastive pairs for a task, or the error of the lookup (kept, not thrown). */
export type PairLookup = { found: ContrastivePair[] } | { error: unknown };

/** What the first round left for refinement. */
export interface RefinementInput {
  task: string;
  /** The bidders the budget admitted (the judges of the refinement round). */
  bidders: readonly ResolvedMember[];
  first: BidRoundResult;
  dropped: Readonly<Record<string, string>>;
  /** The clearing of the first round's bids. */
  outcome: AuctionOutcome;
  /** The lookup started by {@link RefinementStage.lookAhead}, if any. */
  early: Promise<PairLookup> | undefined;
}

/** The bids after refinement: the final clearing, the effective bids and what refinement did. */
export interface RefinementResult {
  outcome: AuctionOutcome;
  /** First-round bids, each replaced by its member's refined bid where that was adopted. */
  effective: RouterBid[];
  refinements: RefinementRecord[];
  /** Why refinement did not run, when it did not. */
  refinementSkipped: string | undefined;
  /** The jury calls of the refinement round. */
  juries: JuryRecord[];
}

/** The refinement stage of one engine. */
export interface RefinementStage {
  /**
   * The memory lookup depends only on the task: started before the first round, it overlaps the
   * plan and jury calls (it is awaited only if a cheaper member refines). Started only when
   * refinement can follow (memory present, refinement on, two bidders or more) and the memory can
   * defer marking the pairs used (`markUsed`): they count as used only once a re-bidding member
   * was shown them. A memory without `markUsed` is asked later, only when a round is sure to run.
   */
  lookAhead(task: string, bidders: number): Promise<PairLookup> | undefined;
  /** Refine the first round's bids, or say why not. */
  refine(input: RefinementInput, state: AuctionState): Promise<RefinementResult>;
}

/** Build the refinement stage of one engine. */
export function createRefinementStage(
  { settings, members }: EngineContext,
  rounds: BidRounds,
  screen: BudgetScreen,
): RefinementStage {
  function lookAhead(task: string, bidders: number): Promise<PairLookup> | undefined {
    const memory = settings.memory;
    const deferredMarking = typeof memory?.markUsed === "function";
    return memory && settings.refinement && deferredMarking && bidders > 1
      ? lookUpPairs(settings, task, false)
      : undefined;
  }

  async function refine(
    { task, bidders, first, dropped, outcome, early }: RefinementInput,
    state: AuctionState,
  ): Promise<RefinementResult> {
    const memory = settings.memory;
    const deferredMarking = typeof memory?.markUsed === "function";
    const provisionalWinner = outcome.winners[0];
    const refinements: RefinementRecord[] = [];
    const juries: JuryRecord[] = [];
    let refinementSkipped: string | undefined;
    let effective = [...first.bids];
    if (provisionalWinner === undefined) return { outcome, effective, refinements, refinementSkipped, juries };

    const winnerMember = members.get(provisionalWinner) as ResolvedMember;
    const cheaper = first.bids
      .map((bid) => members.get(bid.bidder) as ResolvedMember)
      .filter((member) => byPrice(member, winnerMember) < 0);
    if (!memory) refinementSkipped = "no memory";
    else if (!settings.refinement) refinementSkipped = "refinement off";
    else if (cheaper.length === 0) refinementSkipped = "the provisional winner is the cheapest bidder";
    if (!memory || refinementSkipped !== undefined) {
      return { outcome, effective, refinements, refinementSkipped, juries };
    }

    let pairs: ContrastivePair[] = [];
    const looked = await (early ?? lookUpPairs(settings, task, true));
    if ("found" in looked) pairs = looked.found;
    else refinementSkipped = `memory failed: ${describeError(looked.error)}`;
    if (refinementSkipped === undefined && pairs.length === 0)
      refinementSkipped = "memory has no contrastive pairs for this task";
    const prompt = [
      new SystemMessage(`${PLANNING_PROMPT}\n\n${REFINEMENT_PROMPT}`),
      new HumanMessage(
        refinementRequest(
          state.transcript,
          pairs.map((pair) => ({ losing: pair.losing.plan, winning: pair.winning.plan })),
        ),
      ),
    ];
    // With a budget, the refinement round as a whole must fit beside the answer's reserve, or it is not started.
    refinementSkipped ??= await screen.refinementRefusal(cheaper, bidders, prompt, state);
    if (refinementSkipped !== undefined) return { outcome, effective, refinements, refinementSkipped, juries };

    const second = await rounds.bidRound(cheaper, prompt, "refinements", state);
    // The pairs were shown to a re-bidding member: only now do they count as used.
    if (second.dispatched && deferredMarking) {
      const ids = pairs.flatMap((pair) => [pair.losing.id, pair.winning.id]);
      await memory.markUsed?.(ids).catch(() => undefined); // eviction order only: never fails the request
    }
    juries.push(...second.juries);
    for (const member of cheaper) {
      const refined = second.bids.find((bid) => bid.bidder === member.name);
      const original = first.bids.find((bid) => bid.bidder === member.name) as RouterBid;
      if (!refined) {
        refinements.push({
          bidder: member.name,
          pairs: pairs.length,
          adopted: false,
          reason: second.failures[member.name] ?? "no plan",
        });
        continue;
      }
      const adopted = refined.score > original.score;
      refinements.push({ bidder: member.name, pairs: pairs.length, bid: refined, adopted });
      if (adopted) effective = effective.map((bid) => (bid.bidder === member.name ? refined : bid));
    }
    return { outcome: rounds.clear(effective, dropped), effective, refinements, refinementSkipped, juries };
  }

  return { lookAhead, refine };
}

/** Contrastive pairs for `task`, or the error (kept, not thrown). */
function lookUpPairs(settings: RouterSettings, task: string, markUsed: boolean): Promise<PairLookup> {
  const memory = settings.memory as StrategyMemory;
  return memory.contrastivePairs(task, { k: settings.refinementPairs, ...(!markUsed && { markUsed: false }) }).then(
    (found) => ({ found }),
    (error: unknown) => ({ error }),
  );
}
