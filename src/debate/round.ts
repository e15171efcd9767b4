/**
 * One debate round, start to end. Read top to bottom: the pre-flight (can the budget pay for a
 * full round? which gating path?), the three paths, and the bookkeeping.
 *
 * - `intents` (`intent` / `full_draft` modes, the budget pays for a full round):
 *   - `intent`: every agent writes a short intent (capped at `intentMaxTokens`) → utility → bid
 *     α × utility → the speaker auction → only winners write their full message, broadcast in
 *     rank order. Losers never generate a full message.
 *   - `full_draft` (DALA's original): every agent writes its full message as a draft → utility →
 *     bid → auction → winners' drafts are broadcast; losers' drafts stay private but were paid for.
 * - `everyone` (`full` mode, the budget pays for every message): everyone writes and broadcasts
 *   its message; no auction (the baseline).
 * - `prior_bids` (any mode, the budget cannot pay for a full round): no intent or draft; every
 *   agent bids from what it knew before the round (reliability, its previous answer and the
 *   others' agreement), and the winners whose messages fit write them. An agent that has heard
 *   nothing new since it spoke does not bid (`heardNothingNew`). The debate stops with `"budget"`
 *   when no bidder's message fits, `"no_bidders"` when nobody may bid, `"reserve"` when no bid
 *   meets the reserve price.
 *
 * Who speaks is decided by `selectSpeakers` (gating.ts), the same speaker auction the
 * recorded-debate replay runs: only agents whose message fits bid, and winners are admitted in
 * rank order while their messages fit together.
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import { createTokenBudget } from "../budget/budget.js";
import { recordQuietly } from "../ledger/report.js";
import type { ChargeInput, LedgerScope } from "../ledger/types.js";
import type { AuctionOutcome } from "../market/types.js";
import { hasConverged } from "./aggregation.js";
import { type CallContext, type CallFailure, type CallSuccess, callAgent, reservationSize } from "./calls.js";
import {
  answersAgree,
  DEFAULT_RELIABILITY,
  heardNothingNew,
  type SpeakerAuctionRules,
  type SpeakerBid,
  type SpeakerSelection,
  type SpeakerSignals,
  selectSpeakers,
} from "./gating.js";
import type { DebateAgent, DebateSettings } from "./options.js";
import { type DebateCallPurpose, debatePrompt, renderTranscript } from "./prompts.js";
import type {
  AgentUsage,
  AuctionDebateStateType,
  DebateBid,
  DebateDrop,
  DebateGating,
  DebateStopReason,
  RoundRecord,
  TranscriptEntry,
} from "./state.js";
import { estimateUtility, type UtilityEstimate } from "./utility.js";

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

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);

/** A speaker-auction bid as the round records it, with the intent or draft it was made with, if any. */
function debateBid(bid: SpeakerBid, intent?: { estimate: UtilityEstimate; text: string }): DebateBid {
  return {
    agent: bid.agent,
    amount: bid.amount,
    value: bid.value,
    source: bid.source,
    aggressiveness: bid.aggressiveness,
    tokens: bid.tokens,
    ...(intent && { utility: intent.estimate.value, utilitySource: intent.estimate.source, text: intent.text }),
  };
}

/** The round of each agent's latest message in the transcript (the input of `heardNothingNew`). */
function latestRounds(transcript: readonly TranscriptEntry[]): Record<string, number> {
  const latest: Record<string, number> = {};
  for (const entry of transcript) latest[entry.agent] = Math.max(latest[entry.agent] ?? entry.round, entry.round);
  return latest;
}

/** Runs one round (or stops the debate when the budget cannot pay for any message). */
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

  // Pre-flight: a full round needs every agent's intent + the cheapest message (intent), every
  // draft (full_draft) or every message (full). When it does not fit, the agents bid without
  // intents for the messages that do (prior bids); nobody fits, the debate stops.
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
  const intentCosts =
    mode === "intent"
      ? await Promise.all(
          agents.map((agent) => reservationSize(agent, promptOf(agent, "intent"), settings.intentMaxTokens)),
        )
      : [];
  const fullRound = mode === "intent" ? sum(intentCosts) + Math.min(...messageCosts) : sum(messageCosts);
  const gating: DebateGating = fullRound <= remaining ? (mode === "full" ? "everyone" : "intents") : "prior_bids";

  const rules: SpeakerAuctionRules = {
    mechanism: settings.mechanism,
    reservePrice: settings.reservePrice,
    topK: mode === "full" ? agents.length : settings.topK,
    seed: settings.seed + round,
    temperature: settings.temperature,
  };
  const signalsOf = (agent: DebateAgent, tokens: number, utility?: number): SpeakerSignals => ({
    agent: agent.name,
    reliability: agent.reliability ?? DEFAULT_RELIABILITY,
    aggressiveness: settings.aggressiveness[agent.name] ?? 1,
    tokens,
    ...(utility !== undefined && { utility }),
  });
  // Agreement weighs every agent's reliability, also of those that do not bid this round.
  const reliabilityOf = (name: string) =>
    agents.find((agent) => agent.name === name)?.reliability ?? DEFAULT_RELIABILITY;
  let selection: SpeakerSelection | undefined;
  if (gating === "prior_bids") {
    const repeating = heardNothingNew(latestRounds(state.transcript));
    const candidates = agents.flatMap((agent, index) =>
      repeating.has(agent.name) ? [] : [signalsOf(agent, messageCosts[index] as number)],
    );
    // Nobody may bid (everyone left has heard nothing new): nothing to say, whatever the budget.
    if (candidates.length === 0) return { stopReason: "no_bidders", exampleId, remainingTokens: remaining };
    selection = selectSpeakers({
      candidates,
      latestAnswers: state.answers,
      remainingTokens: remaining,
      rules,
      reliabilityOf,
    });
    if (selection.outcome === undefined) return { stopReason: "budget", exampleId, remainingTokens: remaining };
  }

  // Reservation ids from the debate's own generator: unique across rounds (a fresh budget per round would restart at reservation-1).
  const budget = createTokenBudget({ limits: { global: { maxTokens: remaining } }, generateId: settings.generateId });
  const charges: ChargeInput[] = [];
  const scope: LedgerScope = { kind: "example", id: exampleId };
  const auctionId = gating === "everyone" ? undefined : settings.generateId();
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

  const answers: Record<string, string> = {};
  const drafts: Record<string, string> = {};
  const spoken: TranscriptEntry[] = [];
  let bids: DebateBid[] = [];

  const noteAnswer = (agent: DebateAgent, text: string) => {
    const answer = settings.parseAnswer(text);
    if (answer !== undefined) answers[agent.name] = answer;
  };
  /** The given agents write their full message, in parallel; broadcast in the given order. */
  const speak = async (speakers: readonly DebateAgent[]) => {
    const results = await Promise.all(
      speakers.map((agent) =>
        callAgent(context, agent, "message", promptOf(agent, "message"), settings.messageMaxTokens),
      ),
    );
    speakers.forEach((agent, index) => {
      const result = results[index] as CallSuccess | CallFailure;
      account(agent, result, "message");
      if (!result.ok) return;
      spoken.push({ round, agent: agent.name, content: result.text });
      delete drafts[agent.name];
      noteAnswer(agent, result.text);
    });
  };
  const agentsNamed = (names: readonly string[]) =>
    names.map((name) => agents.find((agent) => agent.name === name) as DebateAgent);

  if (gating === "everyone") {
    await speak(agents);
  } else if (gating === "prior_bids" && selection) {
    bids = selection.bids.map((bid) => debateBid(bid));
    await speak(agentsNamed(selection.speakers));
  } else {
    // 1. Everyone bids: with an intent, or (full_draft) with its full draft.
    const stage = mode === "intent" ? "intent" : "draft";
    const maxTokens = mode === "intent" ? settings.intentMaxTokens : settings.messageMaxTokens;
    const results = await Promise.all(
      agents.map((agent) => callAgent(context, agent, stage, promptOf(agent, stage), maxTokens)),
    );
    const transcriptText = renderTranscript(state.transcript);
    const intents = new Map<string, { estimate: UtilityEstimate; text: string }>();
    const candidates: SpeakerSignals[] = [];
    agents.forEach((agent, index) => {
      const result = results[index] as CallSuccess | CallFailure;
      account(agent, result, mode === "intent" ? "intent" : "message");
      if (!result.ok) return;
      drafts[agent.name] = result.text;
      noteAnswer(agent, result.text);
      const estimate = estimateUtility(
        settings.utility,
        result.text,
        result.reply.response_metadata as Record<string, unknown> | undefined,
        transcriptText,
      );
      intents.set(agent.name, { estimate, text: result.text });
      // A draft is paid already: broadcasting it costs nothing.
      const tokens = mode === "intent" ? (messageCosts[index] as number) : 0;
      candidates.push(signalsOf(agent, tokens, estimate.value));
    });

    // 2. The speaker auction, over what is left once the intents are paid. Drafts cost nothing
    // more, so every draft fits and budgeted_vcg's token cap does not bind on them.
    selection = selectSpeakers({
      candidates,
      latestAnswers: state.answers,
      remainingTokens: mode === "intent" ? (budget.remaining().tokens ?? 0) : Number.MAX_SAFE_INTEGER,
      rules,
      reliabilityOf,
    });
    bids = selection.bids.map((bid) => debateBid(bid, intents.get(bid.agent)));

    // 3. Winners speak, in rank order: they write their message (intent), or their draft is broadcast.
    if (mode === "intent") await speak(agentsNamed(selection.speakers));
    else {
      for (const name of selection.speakers) {
        spoken.push({ round, agent: name, content: intents.get(name)?.text ?? "" });
        delete drafts[name];
      }
    }
  }

  // Bookkeeping: usage, tokens, ledger, stop rule.
  const outcome: AuctionOutcome | undefined = selection?.outcome;
  const speakers = spoken.map((entry) => entry.agent);
  const prices: Record<string, number> = {};
  for (const result of outcome?.results ?? []) {
    if (result.won && speakers.includes(result.bidder)) prices[result.bidder] = result.price;
  }
  const roundTokens = charges
    .filter((charge) => charge.kind === "settle")
    .reduce((total, charge) => total + charge.inputTokens + charge.outputTokens, 0);
  const spentTokens = state.spentTokens + roundTokens;
  const record: RoundRecord = {
    round,
    gating,
    ...(auctionId !== undefined && { auctionId }),
    bids,
    ...(outcome !== undefined && { outcome }),
    speakers,
    prices,
    answers,
    drops,
    tokens: roundTokens,
  };
  await writeLedger(settings, state.question, record, charges, scope);

  // A full round converges when everyone who took part agrees. A prior-bid round heard only its
  // speakers: it converges when the latest answers of at least two agents (all of them agreeing)
  // say so, so one speaker alone is no agreement while others could still afford to speak.
  const converged =
    gating === "prior_bids"
      ? answersAgree({ ...state.answers, ...answers }, agents.length)
      : hasConverged(answers, [...participants]);
  let stopReason: DebateStopReason | undefined;
  // A prior-bid auction that heard nobody: every bidder fitted, so no bid met the reserve price.
  if (gating === "prior_bids" && selection?.speakers.length === 0) stopReason = "reserve";
  else if (participants.size === 0) stopReason = "no_agents";
  else if (converged) stopReason = "converged";
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
        values: Object.fromEntries(record.bids.map((bid) => [bid.agent, bid.value])),
        metadata: {
          round: record.round,
          mode: settings.mode,
          gating: record.gating,
          utility: settings.utility,
          speakers: record.speakers,
        },
      }),
    );
  }
  if (charges.length > 0) {
    await recordQuietly(ledger, "recordCharges", charges.length, () => ledger.recordCharges(charges));
  }
}
