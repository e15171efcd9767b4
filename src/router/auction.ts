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
  countMessageTokens,
  countTextTokens,
  type Reservation,
  type Usage,
  usageFromMessage,
} from "../budget/index.js";
import { BudgetExhausted } from "../errors.js";
import type { ChargeInput } from "../ledger/types.js";
import { type AuctionOutcome, type Bid, createAuctioneer } from "../market/index.js";
import { entriesFromAuction } from "../memory/index.js";
import { callCopy, modelName } from "../models.js";
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
  /** Present when every bidder failed and the fallback model answers. */
  fallback?: { member: string; reason: string };
}

/** What an auction returns: the winner, its plan, the record and the overhead calls. */
export interface AuctionRun {
  winner: ResolvedMember;
  plan: string;
  record: RouterAuctionRecord;
  calls: AuctionCall[];
}

/** Per-request inputs of an auction. */
export interface AuctionRequest {
  messages: readonly BaseMessage[];
  callbacks?: Callbacks;
  signal?: AbortSignal;
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
  /** The winner's answer to `prompt` as charged: usage (reported, or counted and marked estimated) and USD. */
  answerCall(winner: ResolvedMember, reply: AIMessage, prompt: readonly BaseMessage[]): AuctionCall;
}

/** Build the engine over resolved settings. */
export function createStrategyAuctionEngine(settings: RouterSettings): StrategyAuctionEngine {
  const auctioneer = createAuctioneer({ mechanism: "first_price", topK: 1, reservePrice: 0, seed: settings.seed });
  /** Planning copies by model, then by output cap (plans, first-round and refinement juries differ). */
  const planningCopies = new WeakMap<BaseChatModel, Map<number, BaseChatModel>>();
  const members = new Map(settings.pool.map((member) => [member.name, member]));

  /** One call as charged: usage (reported, or counted and marked estimated) and USD. */
  function chargedCall(
    member: ResolvedMember,
    purpose: CallPurpose,
    reply: AIMessage,
    prompt: readonly BaseMessage[],
    model = modelName(member.model),
  ): AuctionCall {
    const usage = usageFromMessage(reply, prompt as BaseMessage[], model);
    return { member: member.name, model, purpose, usage, usd: costUsd(member.price, usage) };
  }

  /** One internal call: reserve, call (nostream, with timeout), settle or release. */
  async function call(
    member: ResolvedMember,
    purpose: Exclude<CallPurpose, "answer">,
    prompt: BaseMessage[],
    maxTokens: number,
    request: AuctionRequest,
    calls: AuctionCall[],
  ): Promise<{ reply: AIMessage } | { failure: string }> {
    const name = modelName(member.model);
    let reservation: Reservation | undefined;
    if (settings.budget) {
      try {
        reservation = settings.budget.reserve({
          model: name,
          inputTokens: countMessageTokens(prompt, name),
          maxOutputTokens: maxTokens,
          label: `router.${purpose}`,
          ...(settings.budgetScopes && { scopes: settings.budgetScopes }),
        });
      } catch (error) {
        if (BudgetExhausted.isInstance(error)) return { failure: `budget: ${error.message}` };
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
      calls.push(charged);
      return { reply };
    } catch (error) {
      if (reservation) settings.budget?.release(reservation);
      if (request.signal?.aborted) throw error;
      return { failure: describeError(error) };
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

  /** Plans of `bidders` for `task`; refinements when `pairs` are given. */
  async function writePlans(
    bidders: readonly ResolvedMember[],
    transcript: string,
    request: AuctionRequest,
    calls: AuctionCall[],
    pairs?: ReadonlyArray<{ losing: string; winning: string }>,
  ) {
    const prompt = pairs
      ? [
          new SystemMessage(`${PLANNING_PROMPT}\n\n${REFINEMENT_PROMPT}`),
          new HumanMessage(refinementRequest(transcript, pairs)),
        ]
      : [new SystemMessage(PLANNING_PROMPT), new HumanMessage(planningRequest(transcript))];
    const purpose = pairs ? "refine" : "plan";
    return Promise.all(
      bidders.map(async (member) => {
        const result = await call(member, purpose, prompt, settings.planMaxTokens, request, calls);
        if ("failure" in result) return { member, failure: result.failure };
        const plan = result.reply.text.trim();
        if (plan.length === 0) return { member, failure: "unparseable plan: empty" };
        const name = modelName(member.model);
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
    transcript: string,
    stage: JuryRecord["stage"],
    request: AuctionRequest,
    calls: AuctionCall[],
  ) {
    const scores = new Map<string, Record<string, number>>(plans.map(({ bidder }) => [bidder, {}]));
    const dropped = new Map<string, Record<string, string>>(plans.map(({ bidder }) => [bidder, {}]));
    const records: JuryRecord[] = [];
    if (plans.length === 0) return { scores, dropped, records };
    await Promise.all(
      settings.jurors.map(async (juror) => {
        const member = members.get(juror) as ResolvedMember;
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
        const result = await call(member, "jury", prompt, maxTokens, request, calls);
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

  /** Plans → entropy → jury → scored bids, plus the bidders dropped on the way. */
  async function bidRound(
    bidders: readonly ResolvedMember[],
    transcript: string,
    request: AuctionRequest,
    calls: AuctionCall[],
    stage: JuryRecord["stage"],
    pairs?: ReadonlyArray<{ losing: string; winning: string }>,
  ) {
    const written = await writePlans(bidders, transcript, request, calls, pairs);
    const failures: Record<string, string> = {};
    const plans: Array<{ member: ResolvedMember; plan: string; entropy: PlanEntropy; planTokens: number }> = [];
    for (const entry of written) {
      if ("failure" in entry && entry.failure !== undefined) failures[entry.member.name] = entry.failure;
      else if ("plan" in entry) plans.push(entry);
    }
    const jury = await juryRound(
      plans.map(({ member, plan }) => ({ bidder: member.name, plan })),
      transcript,
      stage,
      request,
      calls,
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
        model: modelName(member.model),
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
    return { bids, failures, juries: jury.records };
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
      marketBids.push({ bidder, amount: Number.NaN, meta: { dropped: reason } });
    }
    return auctioneer.clear(marketBids);
  }

  async function run(request: AuctionRequest): Promise<AuctionRun> {
    const auctionId = settings.generateId();
    const createdAt = settings.now();
    const transcript = transcriptOf(request.messages);
    const calls: AuctionCall[] = [];

    // The memory lookup depends only on the task: start it now so it overlaps the plan and jury
    // calls (it is awaited only if a cheaper member refines). A failure is kept, not thrown.
    // Started only when refinement can follow: memory present, refinement on, and some member
    // cheaper than another (`byPrice` orders members strictly, ties by name: any pool of two or more).
    const lookup =
      settings.memory && settings.refinement && settings.pool.length > 1
        ? settings.memory.contrastivePairs(lastHumanText(request.messages), { k: settings.refinementPairs }).then(
            (found) => ({ found }),
            (error: unknown) => ({ error }),
          )
        : undefined;

    const first = await bidRound(settings.pool, transcript, request, calls, "bids");
    const dropped: Record<string, string> = { ...first.failures };
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
      if (!settings.memory) refinementSkipped = "no memory";
      else if (!settings.refinement) refinementSkipped = "refinement off";
      else if (cheaper.length === 0) refinementSkipped = "the provisional winner is the cheapest bidder";
      else {
        let pairs: Array<{ losing: string; winning: string }> = [];
        const looked = (await lookup) ?? { error: new Error("no memory lookup") };
        if ("found" in looked)
          pairs = looked.found.map((pair) => ({ losing: pair.losing.plan, winning: pair.winning.plan }));
        else refinementSkipped = `memory failed: ${describeError(looked.error)}`;
        if (refinementSkipped === undefined && pairs.length === 0)
          refinementSkipped = "memory has no contrastive pairs for this task";
        if (refinementSkipped === undefined) {
          const second = await bidRound(cheaper, transcript, request, calls, "refinements", pairs);
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
    const record: RouterAuctionRecord = {
      auctionId,
      task: lastHumanText(request.messages),
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
      ...(winnerName === undefined && { fallback: { member: winner.name, reason: "every bidder failed" } }),
    };
    return { winner, plan: record.winnerPlan, record, calls };
  }

  async function record(auction: AuctionRun, execution: AuctionCall | undefined): Promise<void> {
    const { record: entry, calls } = auction;
    const allCalls = execution ? [...calls, execution] : calls;
    if (settings.ledger) {
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
        ...(settings.budgetScopes?.run !== undefined && {
          scope: { kind: "run" as const, id: settings.budgetScopes.run },
        }),
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
            winner: entry.fallback ? undefined : entry.winner,
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
    answerCall: (winner, reply, prompt) => chargedCall(winner, "answer", reply, prompt),
  };
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

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
