/**
 * One debate round, start to end. Read top to bottom: the pre-flight check (can the budget pay
 * for a useful round?), the three modes, and the bookkeeping.
 *
 * - `intent`: every agent writes a short intent (capped at `intentMaxTokens`) → utility → bid
 *   α × utility → the auction clears → only winners write their full message, broadcast in rank
 *   order. Losers never generate a full message.
 * - `full_draft` (DALA's original): every agent writes its full message as a draft → utility →
 *   bid → auction → winners' drafts are broadcast; losers' drafts stay private but were paid for.
 * - `full`: every agent writes and broadcasts its message; no auction (the baseline).
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import { createTokenBudget } from "../budget/budget.js";
import { recordQuietly } from "../ledger/report.js";
import type { ChargeInput, LedgerScope } from "../ledger/types.js";
import { createAuctioneer } from "../market/auctioneer.js";
import type { AuctionOutcome, Bid } from "../market/types.js";
import { hasConverged } from "./aggregation.js";
import { type CallContext, type CallFailure, type CallSuccess, callAgent, reservationSize } from "./calls.js";
import type { DebateAgent, DebateSettings } from "./options.js";
import { type DebateCallPurpose, debatePrompt, renderTranscript } from "./prompts.js";
import type {
  AgentUsage,
  AuctionDebateStateType,
  DebateBid,
  DebateDrop,
  DebateStopReason,
  RoundRecord,
  TranscriptEntry,
} from "./state.js";
import { estimateUtility } from "./utility.js";

/** What a round node writes to the state. */
export type RoundUpdate = Partial<AuctionDebateStateType>;

/** Seams of a round, built once per graph. */
export interface RoundDependencies {
  readonly settings: DebateSettings;
  readonly modelFor: CallContext["modelFor"];
}

function emptyUsage(): AgentUsage {
  return { promptTokens: 0, completionTokens: 0, calls: 0, intentCalls: 0, messageCalls: 0, estimatedCalls: 0 };
}

/** Runs one round (or stops the debate when the budget cannot pay for one). */
export async function runRound(
  dependencies: RoundDependencies,
  state: AuctionDebateStateType,
  config: RunnableConfig | undefined,
): Promise<RoundUpdate> {
  const { settings } = dependencies;
  const { agents, mode } = settings;
  const round = state.rounds.length;
  const limit = state.budget ?? settings.budget;
  const exampleId = state.exampleId ?? settings.generateId();
  const remaining = Math.max(0, limit - state.spentTokens);

  // Pre-flight: a round starts only when the budget can pay for its minimum useful cost.
  const promptOf = (agent: DebateAgent, purpose: DebateCallPurpose) =>
    debatePrompt({
      agent: agent.name,
      role: agent.role,
      question: state.question,
      transcript: state.transcript,
      purpose,
      utility: settings.utility,
    });
  const messageCosts = await Promise.all(
    agents.map((agent) => reservationSize(agent, promptOf(agent, "message"), settings.messageMaxTokens)),
  );
  const intentCosts = await Promise.all(
    agents.map((agent) => reservationSize(agent, promptOf(agent, "intent"), settings.intentMaxTokens)),
  );
  const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
  const needed = mode === "intent" ? sum(intentCosts) + Math.min(...messageCosts) : sum(messageCosts);
  if (needed > remaining) {
    return { stopReason: "budget", exampleId, remainingTokens: remaining };
  }

  // Reservation ids from the debate's own generator: unique across rounds (a fresh budget per round would restart at reservation-1).
  const budget = createTokenBudget({ limits: { global: { maxTokens: remaining } }, generateId: settings.generateId });
  const charges: ChargeInput[] = [];
  const scope: LedgerScope = { kind: "example", id: exampleId };
  const auctionId = mode === "full" ? undefined : settings.generateId();
  const context: CallContext = {
    budget,
    ...(settings.sharedBudget && {
      shared: { budget: settings.sharedBudget, scopes: settings.sharedBudgetScopes },
    }),
    charges,
    scope,
    auctionId,
    config,
    timeoutMs: settings.timeoutMs,
    billAbandonedCalls: settings.billAbandonedCalls,
    modelFor: dependencies.modelFor,
  };
  const usage: Record<string, AgentUsage> = {};
  const drops: DebateDrop[] = [];
  const participants = new Set<string>();

  const account = (agent: DebateAgent, result: CallSuccess | CallFailure, stage: "intent" | "message") => {
    if (!result.ok) {
      drops.push(result.drop);
      return;
    }
    participants.add(agent.name);
    const previous = usage[agent.name] ?? state.usage[agent.name] ?? emptyUsage();
    usage[agent.name] = {
      promptTokens: previous.promptTokens + result.usage.inputTokens,
      completionTokens: previous.completionTokens + result.usage.outputTokens,
      calls: previous.calls + 1,
      intentCalls: previous.intentCalls + (stage === "intent" ? 1 : 0),
      messageCalls: previous.messageCalls + (stage === "message" ? 1 : 0),
      estimatedCalls: previous.estimatedCalls + (result.usage.estimated ? 1 : 0),
    };
  };

  const transcriptText = renderTranscript(state.transcript);
  const answers: Record<string, string> = {};
  const drafts: Record<string, string> = {};
  const spoken: TranscriptEntry[] = [];
  const bids: DebateBid[] = [];
  let outcome: AuctionOutcome | undefined;
  const prices: Record<string, number> = {};

  const noteAnswer = (agent: DebateAgent, text: string) => {
    const answer = settings.parseAnswer(text);
    if (answer !== undefined) answers[agent.name] = answer;
  };

  if (mode === "full") {
    const results = await Promise.all(
      agents.map((agent) =>
        callAgent(context, agent, "message", promptOf(agent, "message"), settings.messageMaxTokens),
      ),
    );
    agents.forEach((agent, index) => {
      const result = results[index] as CallSuccess | CallFailure;
      account(agent, result, "message");
      if (!result.ok) return;
      spoken.push({ round, agent: agent.name, content: result.text });
      noteAnswer(agent, result.text);
    });
  } else {
    // 1. Everyone bids: with an intent, or (full_draft) with its full draft.
    const stage = mode === "intent" ? "intent" : "draft";
    const maxTokens = mode === "intent" ? settings.intentMaxTokens : settings.messageMaxTokens;
    const results = await Promise.all(
      agents.map((agent) => callAgent(context, agent, stage, promptOf(agent, stage), maxTokens)),
    );
    const bidTexts = new Map<string, string>();
    agents.forEach((agent, index) => {
      const result = results[index] as CallSuccess | CallFailure;
      account(agent, result, mode === "intent" ? "intent" : "message");
      if (!result.ok) return;
      bidTexts.set(agent.name, result.text);
      drafts[agent.name] = result.text;
      noteAnswer(agent, result.text);
      const estimate = estimateUtility(
        settings.utility,
        result.text,
        result.reply.response_metadata as Record<string, unknown> | undefined,
        transcriptText,
      );
      const aggressiveness = settings.aggressiveness[agent.name] ?? 1;
      const bid: DebateBid = {
        agent: agent.name,
        amount: aggressiveness * estimate.value,
        utility: estimate.value,
        utilitySource: estimate.source,
        aggressiveness,
        text: result.text,
      };
      if (settings.mechanism === "budgeted_vcg") {
        bid.tokens = mode === "intent" ? (messageCosts[index] as number) : Math.max(1, result.usage.outputTokens);
      }
      bids.push(bid);
    });

    // 2. The auction. budgeted_vcg may spend at most what is left of the budget.
    if (bids.length > 0) {
      const auctioneer = createAuctioneer({
        mechanism: settings.mechanism,
        reservePrice: settings.reservePrice,
        topK: settings.topK,
        seed: settings.seed + round,
        temperature: settings.temperature,
        ...(settings.mechanism === "budgeted_vcg" && { tokenCap: budget.remaining().tokens ?? 0 }),
      });
      outcome = auctioneer.clear(
        bids.map(
          (bid): Bid => ({
            bidder: bid.agent,
            amount: bid.amount,
            ...(bid.tokens !== undefined && { tokens: bid.tokens }),
            meta: { utility: bid.utility, utilitySource: bid.utilitySource },
          }),
        ),
      );
      for (const result of outcome.results) if (result.won) prices[result.bidder] = result.price;
    }

    // 3. Winners speak, in rank order (reservations are taken in that order).
    const winners = (outcome?.winners ?? []).map((name) => agents.find((agent) => agent.name === name) as DebateAgent);
    if (mode === "intent") {
      const messages = await Promise.all(
        winners.map((agent) =>
          callAgent(context, agent, "message", promptOf(agent, "message"), settings.messageMaxTokens),
        ),
      );
      winners.forEach((agent, index) => {
        const result = messages[index] as CallSuccess | CallFailure;
        account(agent, result, "message");
        if (!result.ok) return;
        spoken.push({ round, agent: agent.name, content: result.text });
        delete drafts[agent.name];
        noteAnswer(agent, result.text);
      });
    } else {
      for (const agent of winners) {
        spoken.push({ round, agent: agent.name, content: bidTexts.get(agent.name) ?? "" });
        delete drafts[agent.name];
      }
    }
  }

  // Bookkeeping: usage, tokens, ledger, stop rule.
  const roundTokens = charges
    .filter((charge) => charge.kind === "settle")
    .reduce((total, charge) => total + charge.inputTokens + charge.outputTokens, 0);
  const spentTokens = state.spentTokens + roundTokens;
  const record: RoundRecord = {
    round,
    ...(auctionId !== undefined && { auctionId }),
    bids,
    ...(outcome !== undefined && { outcome }),
    speakers: spoken.map((entry) => entry.agent),
    prices,
    answers,
    drops,
    tokens: roundTokens,
  };
  await writeLedger(settings, state.question, record, charges, scope);

  let stopReason: DebateStopReason | undefined;
  if (participants.size === 0) stopReason = "no_agents";
  else if (hasConverged(answers, [...participants])) stopReason = "converged";
  else if (round + 1 >= settings.maxRounds) stopReason = "max_rounds";

  return {
    exampleId,
    transcript: spoken,
    drafts,
    answers,
    rounds: [record],
    usage,
    spentTokens,
    remainingTokens: Math.max(0, limit - spentTokens),
    ...(stopReason !== undefined && { stopReason }),
  };
}

async function writeLedger(
  settings: DebateSettings,
  question: string,
  record: RoundRecord,
  charges: ChargeInput[],
  scope: LedgerScope,
): Promise<void> {
  const { ledger } = settings;
  if (!ledger) return;
  // The round's calls are answered and paid for: a ledger failure is reported, never thrown.
  const { outcome, auctionId } = record;
  if (outcome && auctionId) {
    await recordQuietly(ledger, "recordAuction", 1, () =>
      ledger.recordAuction({
        id: auctionId,
        kind: "debate",
        outcome,
        scope,
        task: question,
        values: Object.fromEntries(record.bids.map((bid) => [bid.agent, bid.utility])),
        metadata: { round: record.round, mode: settings.mode, utility: settings.utility, speakers: record.speakers },
      }),
    );
  }
  if (charges.length > 0) {
    await recordQuietly(ledger, "recordCharges", charges.length, () => ledger.recordCharges(charges));
  }
}
