/**
 * A bid round and the clearing: every bidder writes a plan, its entropy is read off the reply,
 * every juror scores every plan (in a seeded order), each plan is scored `V − C`, and the scores
 * clear through the market core. The first round and the refinement round are both bid rounds.
 *
 * Read top to bottom: the result type, the rounds factory (the round, its plans, its jury, the
 * clearing).
 */
import { type AIMessage, type BaseMessage, HumanMessage, SystemMessage } from "@langchain/core/messages";
import { countTextTokens } from "../../budget/index.js";
import { type PlanEntropy, planEntropy } from "../../entropy.js";
import { type AuctionOutcome, type Bid, createAuctioneer } from "../../market/index.js";
import type { ResolvedMember } from "../options.js";
import { invalidPlanReason, JURY_RUBRIC, juryRequest, parseJuryScores, planLabel, seededOrder } from "../prompts.js";
import { bidAmounts, scoreBid } from "../scoring.js";
import type { AuctionCalls } from "./calls.js";
import type { AuctionState, EngineContext, JuryRecord, RouterBid } from "./records.js";

/** What a bid round gave: the scored bids, the bidders that failed (with why), the jury calls. */
export interface BidRoundResult {
  bids: RouterBid[];
  failures: Record<string, string>;
  juries: JuryRecord[];
  /** True when any plan call reached its model (the prompt was really shown). */
  dispatched: boolean;
}

/** The bid rounds and the clearing of one engine. */
export interface BidRounds {
  /** Plans → entropy → jury → scored bids, plus the bidders dropped on the way. */
  bidRound(
    bidders: readonly ResolvedMember[],
    prompt: BaseMessage[],
    stage: JuryRecord["stage"],
    state: AuctionState,
  ): Promise<BidRoundResult>;
  /** Clear bids (and dropped bidders, as invalid bids) through the market core. */
  clear(bids: readonly RouterBid[], dropped: Readonly<Record<string, string>>): AuctionOutcome;
}

/** Build the bid rounds of one engine over its calls. */
export function createBidRounds({ settings, members, nameOf }: EngineContext, calls: AuctionCalls): BidRounds {
  const auctioneer = createAuctioneer({ mechanism: "first_price", topK: 1, reservePrice: 0, seed: settings.seed });

  async function bidRound(
    bidders: readonly ResolvedMember[],
    prompt: BaseMessage[],
    stage: JuryRecord["stage"],
    state: AuctionState,
  ): Promise<BidRoundResult> {
    const written = await writePlans(bidders, prompt, stage === "bids" ? "plan" : "refine", state);
    const failures: Record<string, string> = {};
    const plans: Array<{ member: ResolvedMember; plan: string; entropy: PlanEntropy; planTokens: number }> = [];
    let dispatched = false;
    for (const entry of written) {
      if ("failure" in entry && entry.failure !== undefined) {
        failures[entry.member.name] = entry.failure;
        dispatched ||= entry.dispatched;
      } else if ("plan" in entry) {
        plans.push(entry);
        dispatched = true;
      }
    }
    const jury = await juryRound(
      plans.map(({ member, plan }) => ({ bidder: member.name, plan })),
      stage,
      state,
    );
    const bids: RouterBid[] = plans.map(({ member, plan, entropy, planTokens }) => {
      const scores = jury.scores.get(member.name) ?? {};
      const parts = scoreBid(settings.weights, {
        pricePerOutputToken: member.pricePerOutputToken,
        planTokens,
        entropy: entropy.value,
        scores,
        jurors: settings.jurors,
      });
      return {
        bidder: member.name,
        model: nameOf(member),
        plan,
        planTokens,
        entropy: entropy.value,
        entropySource: entropy.source,
        entropyMethod: entropy.method,
        jury: scores,
        juryDropped: jury.dropped.get(member.name) ?? {},
        cost: parts.cost,
        value: parts.value,
        score: parts.score,
        pricePerOutputToken: member.pricePerOutputToken,
      };
    });
    return { bids, failures, juries: jury.records, dispatched };
  }

  /** Plans of `bidders` for the prompt (a planning or a refinement prompt). */
  async function writePlans(
    bidders: readonly ResolvedMember[],
    prompt: BaseMessage[],
    purpose: "plan" | "refine",
    state: AuctionState,
  ) {
    // The labels the jurors will show these plans under (a score line with another label is harmless).
    const juryLabels = bidders.map((_, position) => planLabel(position));
    return Promise.all(
      bidders.map(async (member) => {
        const result = await calls.call(member, purpose, prompt, settings.planMaxTokens, state);
        if ("failure" in result) return { member, failure: result.failure, dispatched: result.dispatched };
        const plan = result.reply.text.trim();
        const name = nameOf(member);
        const reported = result.reply.usage_metadata?.output_tokens;
        // Plans are data: a plan that is not text, empty, over the cap, garbage or addressed to the jury is no bid.
        const invalid =
          (plan.length === 0 ? nonTextReason(result.reply) : undefined) ??
          invalidPlanReason(plan, {
            maxTokens: settings.planMaxTokens,
            reportedTokens: typeof reported === "number" ? reported : undefined,
            countTokens: (text) => countTextTokens(text, name),
            task: state.transcript,
            juryLabels,
          });
        if (invalid !== undefined) return { member, failure: invalid, dispatched: true };
        const entropy = planEntropy(result.reply.response_metadata, plan, { vocabularySize: settings.vocabularySize });
        const planTokens = typeof reported === "number" && reported > 0 ? reported : countTextTokens(plan, name);
        return { member, plan, entropy, planTokens };
      }),
    );
  }

  /** Every juror scores every plan in `plans` (one call per juror, plans in a seeded order). */
  async function juryRound(
    plans: ReadonlyArray<{ bidder: string; plan: string }>,
    stage: JuryRecord["stage"],
    state: AuctionState,
  ) {
    const { transcript } = state;
    const scores = new Map<string, Record<string, number>>(plans.map(({ bidder }) => [bidder, {}]));
    const dropped = new Map<string, Record<string, string>>(plans.map(({ bidder }) => [bidder, {}]));
    const records: JuryRecord[] = [];
    if (plans.length === 0) return { scores, dropped, records };
    await Promise.all(
      settings.jurors.map(async (juror) => {
        const member = members.get(juror) as ResolvedMember;
        const excluded = state.excluded[juror];
        if (excluded !== undefined) {
          // A member the budget excluded does not judge either; its scores are missing (imputed).
          for (const { bidder } of plans) (dropped.get(bidder) as Record<string, string>)[juror] = excluded;
          return;
        }
        const order = seededOrder(plans.length, settings.seed, `jury:${stage}:${juror}:${transcript}`).map(
          (index) => plans[index] as { bidder: string; plan: string },
        );
        const shown = order.map(({ bidder, plan }, position) => ({ bidder, plan, label: planLabel(position) }));
        const record: JuryRecord = { juror, stage, order: shown.map(({ bidder }) => bidder) };
        records.push(record);
        const prompt = [
          new SystemMessage(JURY_RUBRIC),
          new HumanMessage(
            juryRequest(
              transcript,
              shown.map(({ label, plan }) => ({ label, plan })),
            ),
          ),
        ];
        const maxTokens = settings.juryMaxTokens + 8 * shown.length;
        const result = await calls.call(member, "jury", prompt, maxTokens, state);
        if ("failure" in result) {
          record.failure = result.failure;
          for (const { bidder } of shown) (dropped.get(bidder) as Record<string, string>)[juror] = result.failure;
          return;
        }
        const parsed = parseJuryScores(
          result.reply.text,
          shown.map(({ label }) => label),
        );
        for (const { bidder, label } of shown) {
          const score = parsed.scores.get(label);
          if (score !== undefined) (scores.get(bidder) as Record<string, number>)[juror] = score;
          else
            (dropped.get(bidder) as Record<string, string>)[juror] = `unparseable score: ${parsed.problems.get(label)}`;
        }
      }),
    );
    records.sort((left, right) => settings.jurors.indexOf(left.juror) - settings.jurors.indexOf(right.juror));
    return { scores, dropped, records };
  }

  function clear(bids: readonly RouterBid[], dropped: Readonly<Record<string, string>>): AuctionOutcome {
    const amounts = bidAmounts(bids.map((bid) => bid.score));
    const marketBids: Bid[] = bids.map((bid, index) => ({
      bidder: bid.bidder,
      amount: amounts[index] as number,
      tokens: bid.planTokens,
      meta: {
        cost: bid.cost,
        value: bid.value,
        score: bid.score,
        entropy: bid.entropy,
        entropySource: bid.entropySource,
      },
    }));
    for (const [bidder, reason] of Object.entries(dropped)) {
      if (bids.some((bid) => bid.bidder === bidder)) continue;
      // A negative amount: invalid, never wins, and (unlike NaN) storable in a ledger's bid row.
      marketBids.push({ bidder, amount: -1, meta: { dropped: reason } });
    }
    return auctioneer.clear(marketBids);
  }

  return { bidRound, clear };
}

/**
 * Why a reply with no text is not a plan: it called tools or held only non-text blocks (an image,
 * a file), or `undefined` when it was simply empty.
 */
function nonTextReason(reply: AIMessage): string | undefined {
  const kinds = new Set<string>();
  if ((reply.tool_calls?.length ?? 0) > 0) kinds.add("tool calls");
  if (Array.isArray(reply.content)) {
    for (const block of reply.content) {
      const type = typeof block === "object" && block !== null && "type" in block ? String(block.type) : typeof block;
      if (type !== "text") kinds.add(type);
    }
  }
  return kinds.size === 0 ? undefined : `invalid plan: not text (${[...kinds].sort().join(", ")})`;
}
