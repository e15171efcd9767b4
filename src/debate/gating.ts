/**
 * Who speaks: the speaker auction of a debate round, shared by the live graph (`round.ts`) and the
 * recorded-debate replay (`eval/multiagent/replay`). One implementation, two drivers. Pure: no I/O.
 *
 * Each agent bids α × value, where the value is what it knows before speaking:
 *
 * | what the agent has | value | `source` |
 * |---|---|---|
 * | an intent it wrote this round (live `intent` / `full_draft` modes) | the intent's utility estimate | `"intent"` |
 * | no answer yet (round 0, or it has not spoken) | its reliability | `"reliability"` |
 * | an answer from an earlier round | reliability × (1 − agreement) | `"disagreement"` |
 *
 * `agreement` is the reliability-weighted share of the *other* agents' latest answers equal to its
 * own (1 when no other agent has answered: nothing contradicts it, so speaking again adds little).
 * An agent whose answer the others already share has little left to add; one that disagrees may
 * still change the outcome. Reliability is a learned accuracy in [0, 1] (0.5 when unknown).
 *
 * Then the market core clears the bids (the configured mechanism, reserve price and top-k) among
 * the agents whose message still fits the remaining tokens, and the winners are admitted in rank
 * order while their messages fit together. So when a budget cannot pay for everyone, the auction
 * decides who speaks; nobody speaks only when not even one message fits.
 *
 * Who bids at all: an agent that has spoken and heard nothing since ({@link heardNothingNew}) would
 * only repeat itself, so it sits a bid-from-prior-knowledge round out (the live graph's `prior_bids`
 * rounds, every round of the replay, which has no intents).
 *
 * Vote weights: {@link voteWeight} (α × reliability), the same for the live graph's `weighted`
 * aggregation and the replay's `gated` rule.
 */
import { createAuctioneer } from "../market/auctioneer.js";
import type { AuctionOutcome, MechanismName } from "../market/types.js";

/** Reliability of an agent nothing is known about. */
export const DEFAULT_RELIABILITY = 0.5;

/** What an agent knows before it speaks in a round: the inputs of its bid. */
export interface SpeakerSignals {
  agent: string;
  /** Learned accuracy in [0, 1] ({@link DEFAULT_RELIABILITY} when unknown). */
  reliability: number;
  /** α: how hard the agent bids (fitted by REINFORCE, 1 by default). */
  aggressiveness: number;
  /** Tokens its message would cost (live: its reservation; replay: the recorded text). */
  tokens: number;
  /** Utility of an intent or draft it wrote this round, in [0, 1] (live graph only). */
  utility?: number;
}

/** Where a bid's value came from (see the module comment). */
export type SpeakerValueSource = "intent" | "reliability" | "disagreement";

/** One agent's bid for the floor. */
export interface SpeakerBid {
  agent: string;
  /** α × value. */
  amount: number;
  value: number;
  source: SpeakerValueSource;
  aggressiveness: number;
  tokens: number;
}

/** How the speaker auction clears. */
export interface SpeakerAuctionRules {
  mechanism: MechanismName;
  reservePrice: number;
  /** Most speakers (the number of agents: everyone who fits may speak). */
  topK: number;
  seed: number;
  /** `softmax` only. Default 1. */
  temperature?: number;
}

/** The result of a speaker auction. */
export interface SpeakerSelection {
  /** Every agent's bid, in the order given (also those that could not afford to speak). */
  bids: SpeakerBid[];
  /** The cleared auction among the agents that could afford to speak (absent when none could). */
  outcome?: AuctionOutcome;
  /** Who speaks, in rank order: winners whose messages fit the remaining tokens together. */
  speakers: string[];
  /** Agents whose message alone did not fit the remaining tokens (they did not bid). */
  unaffordable: string[];
}

/**
 * The value of an agent's next message from what it knows before speaking (see the module comment).
 *
 * @param latestAnswers each agent's latest parsed answer before this round, by name.
 * @param reliabilityOf the reliability of any agent (weights the agreement).
 * @example
 * ```ts
 * const reliabilityOf = (agent: string) => ({ a: 0.9, b: 0.6, c: 0.6 })[agent] ?? 0.5;
 * speakerValue({ agent: "a", reliability: 0.9, aggressiveness: 1, tokens: 100 }, {}, reliabilityOf);
 * // { value: 0.9, source: "reliability" }: round 0
 * speakerValue({ agent: "c", reliability: 0.6, aggressiveness: 1, tokens: 100 }, { a: "18", b: "18", c: "26" }, reliabilityOf);
 * // { value: 0.6, source: "disagreement" }: nobody shares c's answer
 * ```
 */
export function speakerValue(
  signals: SpeakerSignals,
  latestAnswers: Readonly<Record<string, string>>,
  reliabilityOf: (agent: string) => number,
): { value: number; source: SpeakerValueSource } {
  if (signals.utility !== undefined) return { value: signals.utility, source: "intent" };
  const own = latestAnswers[signals.agent];
  if (own === undefined) return { value: signals.reliability, source: "reliability" };
  let agreeing = 0;
  let total = 0;
  for (const [agent, answer] of Object.entries(latestAnswers)) {
    if (agent === signals.agent) continue;
    const weight = reliabilityOf(agent);
    total += weight;
    if (answer === own) agreeing += weight;
  }
  const agreement = total > 0 ? agreeing / total : 1;
  return { value: signals.reliability * (1 - agreement), source: "disagreement" };
}

/** Auctioneers by rules: the replay clears many thousands of auctions with a handful of rule sets. */
const auctioneers = new Map<string, ReturnType<typeof createAuctioneer>>();

function auctioneerFor(rules: SpeakerAuctionRules, tokenCap: number | undefined) {
  const key = `${rules.mechanism}|${rules.reservePrice}|${rules.topK}|${rules.seed}|${rules.temperature ?? 1}|${tokenCap ?? ""}`;
  let auctioneer = auctioneers.get(key);
  if (auctioneer === undefined) {
    if (auctioneers.size > 1024) auctioneers.clear();
    auctioneer = createAuctioneer({
      mechanism: rules.mechanism,
      reservePrice: rules.reservePrice,
      topK: rules.topK,
      seed: rules.seed,
      temperature: rules.temperature ?? 1,
      ...(tokenCap !== undefined && { tokenCap }),
    });
    auctioneers.set(key, auctioneer);
  }
  return auctioneer;
}

/**
 * Hold a round's speaker auction: every candidate bids α × {@link speakerValue}; those whose message
 * fits `remainingTokens` take part; the market core clears; winners speak in rank order while
 * their messages fit together (`budgeted_vcg` also gets the remaining tokens as its cap).
 *
 * `reliabilityOf` weighs the agreement of EVERY agent in `latestAnswers`, including those that do
 * not bid this round (left out by {@link heardNothingNew}, or whose intent failed). Without it, the
 * candidates' own reliabilities are used and any other agent weighs {@link DEFAULT_RELIABILITY}.
 *
 * @example
 * ```ts
 * const { speakers } = selectSpeakers({
 *   candidates: [
 *     { agent: "a", reliability: 0.9, aggressiveness: 1, tokens: 300 },
 *     { agent: "b", reliability: 0.6, aggressiveness: 1, tokens: 120 },
 *   ],
 *   latestAnswers: {},
 *   remainingTokens: 256,
 *   rules: { mechanism: "first_price", reservePrice: 0, topK: 2, seed: 0 },
 * });
 * speakers; // ["b"]: a's message does not fit, b's does
 * ```
 */
export function selectSpeakers(input: {
  candidates: readonly SpeakerSignals[];
  latestAnswers: Readonly<Record<string, string>>;
  remainingTokens: number;
  rules: SpeakerAuctionRules;
  /** The reliability of any agent, bidding or not (weighs the agreement). */
  reliabilityOf?: (agent: string) => number;
}): SpeakerSelection {
  const { candidates, latestAnswers, remainingTokens, rules } = input;
  const reliability = new Map(candidates.map((candidate) => [candidate.agent, candidate.reliability]));
  const reliabilityOf = input.reliabilityOf ?? ((agent: string) => reliability.get(agent) ?? DEFAULT_RELIABILITY);
  const bids: SpeakerBid[] = candidates.map((candidate) => {
    const { value, source } = speakerValue(candidate, latestAnswers, reliabilityOf);
    return {
      agent: candidate.agent,
      amount: candidate.aggressiveness * value,
      value,
      source,
      aggressiveness: candidate.aggressiveness,
      tokens: candidate.tokens,
    };
  });
  const affordable = bids.filter((bid) => bid.tokens <= remainingTokens);
  const unaffordable = bids.filter((bid) => bid.tokens > remainingTokens).map((bid) => bid.agent);
  if (affordable.length === 0) return { bids, speakers: [], unaffordable };

  const budgeted = rules.mechanism === "budgeted_vcg";
  const outcome = auctioneerFor(rules, budgeted ? remainingTokens : undefined).clear(
    affordable.map((bid) => ({
      bidder: bid.agent,
      amount: bid.amount,
      tokens: Math.max(1, bid.tokens),
      meta: { value: bid.value, source: bid.source },
    })),
  );
  const tokensOf = new Map(affordable.map((bid) => [bid.agent, bid.tokens]));
  const speakers: string[] = [];
  let committed = 0;
  for (const winner of outcome.winners) {
    const tokens = tokensOf.get(winner) ?? 0;
    if (committed + tokens > remainingTokens) continue;
    committed += tokens;
    speakers.push(winner);
  }
  return { bids, outcome, speakers, unaffordable };
}

/**
 * True when the debate has settled: at least two agents (one, when there is only one) have a
 * latest answer and all those answers are equal. Agents that never answered do not block it.
 *
 * @example
 * ```ts
 * answersAgree({ a: "18", b: "18" }, 3); // true
 * answersAgree({ a: "18" }, 3); // false: one answer is not an agreement
 * answersAgree({ a: "18", b: "26" }, 2); // false
 * ```
 */
export function answersAgree(latestAnswers: Readonly<Record<string, string>>, agentCount: number): boolean {
  const answers = Object.values(latestAnswers);
  if (answers.length < Math.min(2, agentCount) || answers.length === 0) return false;
  return new Set(answers).size === 1;
}

/**
 * Agents that have spoken and heard nothing since: an agent whose latest paid (spoken) message is
 * more recent than every other agent's latest one — no other agent's message is from the round of
 * its latest one or later — would only repeat itself, so it does not bid. Messages of the same round
 * are written in parallel, so another agent's message of that round is news to it. An agent that
 * has never spoken always bids. Used by both drivers: the live graph's `prior_bids` rounds (from
 * the transcript) and every round of the replay (from the rounds each agent was paid for).
 *
 * @param latestRounds the round of each agent's latest spoken (paid) message, by name; agents that
 *   never spoke are absent.
 * @example
 * ```ts
 * heardNothingNew({ a: 1, b: 0, c: 0 }); // Set { "a" }: b and c said nothing after a's round-1 message
 * heardNothingNew({ a: 1, b: 1 }); // Set {}: each heard the other's round-1 message
 * heardNothingNew({ a: 0 }); // Set { "a" }: nobody else has spoken
 * ```
 */
export function heardNothingNew(latestRounds: Readonly<Record<string, number>>): Set<string> {
  const entries = Object.entries(latestRounds);
  const repeating = new Set<string>();
  for (const [agent, round] of entries) {
    if (!entries.some(([other, otherRound]) => other !== agent && otherRound >= round)) repeating.add(agent);
  }
  return repeating;
}

/**
 * The weight of an agent's vote: α × reliability, with {@link DEFAULT_RELIABILITY} for an agent
 * whose reliability is unknown and α = 1 when unset. Used by the live graph's `weighted`
 * aggregation and the replay's `gated` rule.
 *
 * @example
 * ```ts
 * voteWeight(0.9, 1.2); // 1.08
 * voteWeight(undefined, undefined); // 0.5: DEFAULT_RELIABILITY × 1
 * ```
 */
export function voteWeight(reliability: number | undefined, aggressiveness: number | undefined): number {
  return (aggressiveness ?? 1) * (reliability ?? DEFAULT_RELIABILITY);
}
