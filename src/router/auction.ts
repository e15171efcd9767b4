/**
 * The strategy auction (SALE), shared by `AuctionRouter` and `auctionRouterMiddleware`:
 * plans → entropy → jury → clearing → memory refinement → winner. Then, after the winner has
 * answered, the ledger and the memory are written.
 *
 * Read top to bottom: the record types, the engine factory, its stages, the helpers.
 */
import type { Callbacks } from "@langchain/core/callbacks/manager";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import {
  type AIMessage,
  type BaseMessage,
  HumanMessage,
  SystemMessage,
  type UsageMetadata,
} from "@langchain/core/messages";
import {
  costUsd,
  countTextTokens,
  type Reservation,
  type ScopeIds,
  type Usage,
  usageFromMessage,
} from "../budget/index.js";
import { BudgetExhausted } from "../errors.js";
import type { ChargeInput, LedgerScope } from "../ledger/types.js";
import { type AuctionOutcome, type Bid, createAuctioneer } from "../market/index.js";
import { entriesFromAuction } from "../memory/index.js";
import type { ContrastivePair, StrategyMemory } from "../memory/types.js";
import { callCopy, countsOwnPrompt, modelName, promptTokensOf } from "../models.js";
import { createBudgetScreen, type ScreenState } from "./budget-screen.js";
import { type EntropySource, type PlanEntropy, planEntropy } from "./entropy.js";
import { describeError, RouterCallTimeout } from "./errors.js";
import { byPrice, type ResolvedMember, type RouterSettings, type RouterWeights } from "./options.js";
import {
  JURY_RUBRIC,
  juryRequest,
  PLANNING_PROMPT,
  parseJuryScores,
  planLabel,
  planningRequest,
  REFINEMENT_PROMPT,
  refinementRequest,
  seededOrder,
} from "./prompts.js";
import { bidAmounts, scoreBid } from "./scoring.js";

// ---------------------------------------------------------------------------
// The record
// ---------------------------------------------------------------------------

/** What an internal call is for. */
export type CallPurpose = "plan" | "jury" | "refine" | "answer";

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
}

/** What an auction returns: the winner, its plan, the record and the overhead calls. */
export interface AuctionRun {
  winner: ResolvedMember;
  plan: string;
  record: RouterAuctionRecord;
  calls: AuctionCall[];
  /** The budget scopes the auction's calls were charged to (the answer is charged to the same). */
  scopes: ScopeIds | undefined;
}

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
}

// ---------------------------------------------------------------------------
// The engine
// ---------------------------------------------------------------------------

/** The auction engine of one router or middleware. */
export interface StrategyAuctionEngine {
  readonly settings: RouterSettings;
  /** Hold one auction for the conversation `messages`. */
  run(request: AuctionRequest): Promise<AuctionRun>;
  /** Write the auction, its bids and every charge to the ledger, and its plans to the memory. */
  record(run: AuctionRun, execution: AuctionCall | undefined): Promise<void>;
  /**
   * The winner's answer to `prompt` as charged: usage (reported, or counted and marked estimated,
   * then with `toolTokens` — the bound tools' schemas — added to the input) and USD.
   */
  answerCall(
    winner: ResolvedMember,
    reply: AIMessage,
    prompt: readonly BaseMessage[],
    toolTokens?: number,
  ): AuctionCall;
}

/** Build the engine over resolved settings. */
export function createStrategyAuctionEngine(settings: RouterSettings): StrategyAuctionEngine {
  const auctioneer = createAuctioneer({ mechanism: "first_price", topK: 1, reservePrice: 0, seed: settings.seed });
  /** Planning copies by model, then by output cap (plans, first-round and refinement juries differ). */
  const planningCopies = new WeakMap<BaseChatModel, Map<number, BaseChatModel>>();
  const members = new Map(settings.pool.map((member) => [member.name, member]));
  const names = new Map(settings.pool.map((member) => [member.name, modelName(member.model)]));
  const nameOf = (member: ResolvedMember) => names.get(member.name) ?? modelName(member.model);
  /** With a budget: prompt counts, the pre-screen and the answer's reserve (src/router/budget-screen.ts). */
  const screen = createBudgetScreen(settings, nameOf);

  /** One call as charged: usage (reported, or counted and marked estimated) and USD. */
  function chargedCall(
    member: ResolvedMember,
    purpose: CallPurpose,
    reply: AIMessage,
    prompt: readonly BaseMessage[],
    model = nameOf(member),
  ): AuctionCall {
    const usage = usageFromMessage(reply, prompt as BaseMessage[], model);
    return { member: member.name, model, purpose, usage, usd: costUsd(member.price, usage) };
  }

  /**
   * For the members whose model counts its own prompt (local models): that count of the conversation
   * their answer would be sent with, system prompt included. Empty for a hosted pool (no call).
   */
  async function ownConversationCounts(request: AuctionRequest): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    const members = settings.pool.filter((member) => countsOwnPrompt(member.model));
    if (members.length === 0) return counts;
    const conversation = request.systemPrompt
      ? [new SystemMessage(request.systemPrompt), ...request.messages]
      : [...request.messages];
    for (const member of members) counts.set(member.name, await promptTokensOf(member.model, conversation));
    return counts;
  }

  // -- calls --------------------------------------------------------------------

  /**
   * One internal call: check the answer's reserve, reserve, call (nostream, with timeout), settle
   * or release. `dispatched` is false when the budget refused it before the model was called.
   */
  async function call(
    member: ResolvedMember,
    purpose: Exclude<CallPurpose, "answer">,
    prompt: BaseMessage[],
    maxTokens: number,
    state: AuctionState,
  ): Promise<{ reply: AIMessage } | { failure: string; dispatched: boolean }> {
    const name = nameOf(member);
    const { request } = state;
    let reservation: Reservation | undefined;
    if (settings.budget) {
      // A local model counts its own prompt exactly; js-tiktoken undercounts it several times over.
      const inputTokens = countsOwnPrompt(member.model)
        ? await promptTokensOf(member.model, prompt)
        : screen.promptTokens(prompt, name, state);
      const refusal = screen.callRefusal(member, inputTokens, maxTokens, state);
      if (refusal !== undefined) return { failure: refusal, dispatched: false };
      try {
        reservation = settings.budget.reserve({
          model: name,
          inputTokens,
          maxOutputTokens: maxTokens,
          label: `router.${purpose}`,
          ...(state.scopes && { scopes: state.scopes }),
        });
      } catch (error) {
        if (BudgetExhausted.isInstance(error)) return { failure: `budget: ${error.message}`, dispatched: false };
        throw error;
      }
    }
    try {
      const model = planningCopy(member.model, maxTokens);
      const reply = (await withTimeout(
        (signal) =>
          model.invoke(prompt, {
            ...(signal !== undefined && { signal }),
            ...(request.callbacks !== undefined && { callbacks: request.callbacks }),
            tags: ["nostream", `gavel:${purpose}`],
            runName: `gavel.${purpose}.${member.name}`,
            metadata: { gavel_purpose: purpose, gavel_member: member.name },
            maxTokens,
          } as Parameters<BaseChatModel["invoke"]>[1]),
        request.signal,
        settings.timeoutMs,
        () => new RouterCallTimeout(member.name, purpose, settings.timeoutMs ?? 0),
      )) as AIMessage;
      const charged = chargedCall(member, purpose, reply, prompt, name);
      if (reservation) settings.budget?.settle(reservation, charged.usage);
      state.calls.push(charged);
      return { reply };
    } catch (error) {
      if (reservation) settings.budget?.release(reservation);
      if (request.signal?.aborted) throw error;
      return { failure: describeError(error), dispatched: true };
    }
  }

  /**
   * The model used for plans and jury calls, cached: `callCopy` of `src/models.ts` (a copy with
   * the output cap and, for clients that have a `logprobs` field such as ChatOpenAI,
   * `logprobs: true, topLogprobs`; the model itself when no copy can be built).
   */
  function planningCopy(model: BaseChatModel, maxTokens: number): BaseChatModel {
    let byCap = planningCopies.get(model);
    if (byCap === undefined) {
      byCap = new Map();
      planningCopies.set(model, byCap);
    }
    const cached = byCap.get(maxTokens);
    if (cached !== undefined) return cached;
    const copy = callCopy(model, { maxTokens, logprobs: true, topLogprobs: settings.topLogprobs });
    byCap.set(maxTokens, copy);
    return copy;
  }

  /** Plans of `bidders` for the prompt (a planning or a refinement prompt). */
  async function writePlans(
    bidders: readonly ResolvedMember[],
    prompt: BaseMessage[],
    purpose: "plan" | "refine",
    state: AuctionState,
  ) {
    return Promise.all(
      bidders.map(async (member) => {
        const result = await call(member, purpose, prompt, settings.planMaxTokens, state);
        if ("failure" in result) return { member, failure: result.failure, dispatched: result.dispatched };
        const plan = result.reply.text.trim();
        if (plan.length === 0) return { member, failure: "unparseable plan: empty", dispatched: true };
        const name = nameOf(member);
        const entropy = planEntropy(result.reply.response_metadata, plan, { vocabularySize: settings.vocabularySize });
        const reported = result.reply.usage_metadata?.output_tokens;
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
        const shown = order.map((entry, position) => ({ ...entry, label: planLabel(position) }));
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
        const result = await call(member, "jury", prompt, maxTokens, state);
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

  /**
   * Plans → entropy → jury → scored bids, plus the bidders dropped on the way, and whether any
   * plan call reached its model (`dispatched`: the prompt was really shown).
   */
  async function bidRound(
    bidders: readonly ResolvedMember[],
    prompt: BaseMessage[],
    stage: JuryRecord["stage"],
    state: AuctionState,
  ) {
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

  /** Clear bids (and dropped bidders, as invalid bids) through the market core. */
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

  /** Contrastive pairs for `task`, or the error (kept, not thrown). */
  function lookUpPairs(task: string, markUsed: boolean): Promise<{ found: ContrastivePair[] } | { error: unknown }> {
    const memory = settings.memory as StrategyMemory;
    return memory.contrastivePairs(task, { k: settings.refinementPairs, ...(!markUsed && { markUsed: false }) }).then(
      (found) => ({ found }),
      (error: unknown) => ({ error }),
    );
  }

  async function run(request: AuctionRequest): Promise<AuctionRun> {
    const auctionId = settings.generateId();
    const createdAt = settings.now();
    const transcript = transcriptOf(request.messages);
    const task = lastHumanText(request.messages);
    const scopes =
      request.scopes === undefined ? settings.budgetScopes : { ...settings.budgetScopes, ...request.scopes };
    const state: AuctionState = {
      request,
      transcript,
      scopes,
      calls: [],
      floor: undefined,
      excluded: {},
      planPrompt: [new SystemMessage(PLANNING_PROMPT), new HumanMessage(planningRequest(transcript))],
      partCounts: new Map(),
      promptCounts: new WeakMap(),
    };

    // With a budget: exclude, before anything is spent, the bidders whose plan, jury share and
    // answer do not fit; every later call must leave room for the dearest admissible answer. A local
    // model's answer is estimated with its own count of the conversation (tiktoken undercounts it).
    if (settings.budget) state.ownConversationCounts = await ownConversationCounts(request);
    const screened = screen.screenBidders(state);
    state.floor = screened.floor;
    state.excluded = screened.excluded;
    const bidders = screened.admitted;

    // The memory lookup depends only on the task: start it now so it overlaps the plan and jury
    // calls (it is awaited only if a cheaper member refines). A failure is kept, not thrown.
    // Started early only when refinement can follow (memory present, refinement on, two bidders
    // or more) and the memory can defer marking the pairs used (`markUsed`): they count as used
    // only once a re-bidding member was shown them. A memory without `markUsed` is asked later,
    // only when a refinement round is sure to run.
    const memory = settings.memory;
    const deferredMarking = typeof memory?.markUsed === "function";
    const early =
      memory && settings.refinement && deferredMarking && bidders.length > 1 ? lookUpPairs(task, false) : undefined;

    const first =
      bidders.length > 0
        ? await bidRound(bidders, state.planPrompt, "bids", state)
        : { bids: [], failures: {}, juries: [], dispatched: false };
    const dropped: Record<string, string> = { ...screened.excluded, ...first.failures };
    const juries = [...first.juries];
    let outcome = clear(first.bids, dropped);
    const provisionalWinner = outcome.winners[0];

    const refinements: RefinementRecord[] = [];
    let refinementSkipped: string | undefined;
    let effective = [...first.bids];
    if (provisionalWinner !== undefined) {
      const winnerMember = members.get(provisionalWinner) as ResolvedMember;
      const cheaper = first.bids
        .map((bid) => members.get(bid.bidder) as ResolvedMember)
        .filter((member) => byPrice(member, winnerMember) < 0);
      if (!memory) refinementSkipped = "no memory";
      else if (!settings.refinement) refinementSkipped = "refinement off";
      else if (cheaper.length === 0) refinementSkipped = "the provisional winner is the cheapest bidder";
      else {
        let pairs: ContrastivePair[] = [];
        const looked = await (early ?? lookUpPairs(task, true));
        if ("found" in looked) pairs = looked.found;
        else refinementSkipped = `memory failed: ${describeError(looked.error)}`;
        if (refinementSkipped === undefined && pairs.length === 0)
          refinementSkipped = "memory has no contrastive pairs for this task";
        const prompt = [
          new SystemMessage(`${PLANNING_PROMPT}\n\n${REFINEMENT_PROMPT}`),
          new HumanMessage(
            refinementRequest(
              transcript,
              pairs.map((pair) => ({ losing: pair.losing.plan, winning: pair.winning.plan })),
            ),
          ),
        ];
        // With a budget, the refinement round as a whole must fit beside the answer's reserve, or it is not started.
        refinementSkipped ??= screen.refinementRefusal(cheaper, bidders, prompt, state);
        if (refinementSkipped === undefined) {
          const second = await bidRound(cheaper, prompt, "refinements", state);
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
          outcome = clear(effective, dropped);
        }
      }
    }

    const winnerName = outcome.winners[0];
    const winner = winnerName === undefined ? settings.fallback : (members.get(winnerName) as ResolvedMember);
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
      juries,
      provisionalWinner,
      refinements,
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

  async function record(auction: AuctionRun, execution: AuctionCall | undefined): Promise<void> {
    const { record: entry, calls } = auction;
    const allCalls = execution ? [...calls, execution] : calls;
    if (settings.ledger) {
      // Charges go under the narrowest scope their calls ran in; the auction under its run (the
      // ledger's overhead-by-run key), else that same narrowest scope.
      const chargeScope = narrowestScope(auction.scopes);
      const auctionScope: LedgerScope | undefined =
        auction.scopes?.run !== undefined ? { kind: "run", id: auction.scopes.run } : chargeScope;
      const values: Record<string, number> = {};
      for (const result of entry.outcome.results) {
        const value = result.meta?.value;
        if (typeof value === "number") values[result.bidder] = value;
      }
      await settings.ledger.recordAuction({
        id: entry.auctionId,
        kind: "route",
        outcome: entry.outcome,
        createdAt: entry.createdAt,
        task: entry.task,
        values,
        metadata: {
          provisionalWinner: entry.provisionalWinner ?? null,
          winner: entry.winner,
          dropped: entry.dropped,
          refinements: entry.refinements.map(({ bidder, adopted, reason, bid }) => ({
            bidder,
            adopted,
            reason,
            score: bid?.score,
          })),
          entropySources: Object.fromEntries(entry.bids.map((bid) => [bid.bidder, bid.entropySource])),
          fallback: entry.fallback ?? null,
          weights: { ...entry.weights },
        },
        ...(auctionScope && { scope: auctionScope }),
      });
      const charges: ChargeInput[] = allCalls.map((item) => ({
        kind: "settle",
        model: item.model,
        agent: item.member,
        inputTokens: item.usage.inputTokens,
        outputTokens: item.usage.outputTokens,
        usd: item.usd,
        estimated: item.usage.estimated === true,
        auctionId: entry.auctionId,
        label: item.purpose,
        ...(chargeScope && { scope: chargeScope }),
      }));
      if (charges.length > 0) await settings.ledger.recordCharges(charges);
    }
    if (settings.memory) {
      const effective = entry.bids.map((bid) => {
        const refinement = entry.refinements.find((item) => item.bidder === bid.bidder && item.adopted);
        return refinement?.bid ?? bid;
      });
      if (effective.length > 0) {
        await settings.memory.add(
          entriesFromAuction({
            auctionId: entry.auctionId,
            task: entry.task,
            kind: settings.taskKind,
            // The auction's winner, also when its answer failed and the fallback answered: the
            // jury's judgement of the plans stands. Nobody wins when every bidder failed.
            winner: entry.outcome.winners[0],
            createdAt: entry.createdAt,
            bids: effective.map((bid) => ({
              agent: bid.bidder,
              plan: bid.plan,
              cost: bid.cost,
              metadata: { value: bid.value, score: bid.score, entropy: bid.entropy, entropySource: bid.entropySource },
            })),
          }),
        );
      }
    }
  }

  return {
    settings,
    run,
    record,
    answerCall: (winner, reply, prompt, toolTokens = 0) => {
      const charged = chargedCall(winner, "answer", reply, prompt);
      if (toolTokens === 0 || charged.usage.estimated !== true) return charged;
      const usage = { ...charged.usage, inputTokens: charged.usage.inputTokens + toolTokens };
      return { ...charged, usage, usd: costUsd(winner.price, usage) };
    },
  };
}

/**
 * The run as it stands when the fallback answers, without a plan, in place of the winner (whose
 * answer failed): `record.winner` is who answers, `record.fallback` says why; the clearing, the
 * bids and the price stay the auction's.
 */
export function withFallbackAnswer(run: AuctionRun, fallback: ResolvedMember, reason: string): AuctionRun {
  return {
    ...run,
    winner: fallback,
    plan: "",
    record: { ...run.record, winner: fallback.name, winnerPlan: "", fallback: { member: fallback.name, reason } },
  };
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** What one auction's calls share: the request, its scopes, the calls made, the answer's reserve. */
interface AuctionState extends ScreenState {
  request: AuctionRequest;
  /** Calls made so far, as charged. */
  calls: AuctionCall[];
  /** Members the budget pre-screen excluded (they neither bid nor judge), with why. */
  excluded: Record<string, string>;
}

/** The narrowest scope of `scopes` as a ledger scope (example, then run, then thread), if any. */
function narrowestScope(scopes: ScopeIds | undefined): LedgerScope | undefined {
  if (scopes?.example !== undefined) return { kind: "example", id: scopes.example };
  if (scopes?.run !== undefined) return { kind: "run", id: scopes.run };
  if (scopes?.thread !== undefined) return { kind: "thread", id: scopes.thread };
  return undefined;
}

/** Most characters of the conversation shown to bidders and jurors. */
const TRANSCRIPT_LIMIT = 6_000;

/** The conversation as plain text (role: content), the most recent part when it is long. */
function transcriptOf(messages: readonly BaseMessage[]): string {
  const lines = messages.map((message) => {
    const role = message.type === "human" ? "user" : message.type === "ai" ? "assistant" : message.type;
    const calls =
      "tool_calls" in message && Array.isArray(message.tool_calls) && message.tool_calls.length > 0
        ? ` [tool calls: ${message.tool_calls.map((toolCall: { name: string }) => toolCall.name).join(", ")}]`
        : "";
    return `${role}: ${message.text}${calls}`;
  });
  const text = lines.length === 1 && messages[0]?.type === "human" ? messages[0].text : lines.join("\n");
  return text.length > TRANSCRIPT_LIMIT ? text.slice(text.length - TRANSCRIPT_LIMIT) : text;
}

/** The text of the last human message (the task key of the memory and the ledger). */
function lastHumanText(messages: readonly BaseMessage[]): string {
  for (let index = messages.length - 1; index >= 0; index -= 1) {
    const message = messages[index] as BaseMessage;
    if (message.type === "human") return message.text;
  }
  return messages.at(-1)?.text ?? "";
}

/** Tokens and USD of `calls`, summed (the auction's overhead, or one answer). */
export function totalsOf(calls: readonly AuctionCall[]): { usage: UsageMetadata; usd: number } {
  let input = 0;
  let output = 0;
  let usd = 0;
  for (const call of calls) {
    input += call.usage.inputTokens;
    output += call.usage.outputTokens;
    usd += call.usd;
  }
  return { usage: { input_tokens: input, output_tokens: output, total_tokens: input + output }, usd };
}

/**
 * Run `task` with an AbortSignal that fires on the caller's signal or after `timeoutMs`, and
 * settle as soon as either fires even if the model ignores its signal. With neither, `task`
 * gets no signal and runs as it is.
 */
async function withTimeout<T>(
  task: (signal: AbortSignal | undefined) => Promise<T>,
  parent: AbortSignal | undefined,
  timeoutMs: number | undefined,
  timeoutError: () => Error,
): Promise<T> {
  // Nothing can abort the call: no controller, no timer, no race.
  if (timeoutMs === undefined && parent === undefined) return task(undefined);
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onParentAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onParentAbort = () => {
      controller.abort(parent?.reason);
      reject(parent?.reason ?? new Error("aborted"));
    };
    if (parent?.aborted) onParentAbort();
    else parent?.addEventListener("abort", onParentAbort, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        const error = timeoutError();
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    }
  });
  aborted.catch(() => undefined);
  try {
    return await Promise.race([task(controller.signal), aborted]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (onParentAbort) parent?.removeEventListener("abort", onParentAbort);
  }
}
