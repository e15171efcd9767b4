/**
 * The rules a recorded debate is replayed under, and the baselines beside them. Pure: no I/O, no
 * embedding calls (embeddings are computed beforehand and passed in).
 *
 * One driver replays every rule ({@link replayDebate}), question by question under a token budget B,
 * round by round:
 *
 * 1. **Who speaks.** The round's speaker auction is `selectSpeakers` of `src/debate/gating.ts`, the
 *    code the live `createAuctionDebate` runs: each agent bids α × value from what it knows before
 *    speaking (its reliability learned on the training questions; once it has answered,
 *    reliability × (1 − agreement with the others' latest answers)); its message's cost is the tokens
 *    of ITS recorded text of that round; an agent that has heard nothing new since it was last paid for
 *    does not bid (`heardNothingNew`, as live); only agents whose text fits `B − spent` bid; the market
 *    core clears (round r seeded with `seed + r`, as live); winners speak in rank order while their
 *    texts fit together. Agreement weighs every agent's reliability, bidding or not.
 * 2. **Pay.** Only the speakers' texts are paid for and seen: each agent's latest answer is the parsed
 *    answer of the latest text it was paid for.
 * 3. **Stop?** The rule's stop condition (never after the last recorded round). Nobody speaking ends
 *    the replay too: `"budget"` when no text fits (`"unaffordable"` when nothing was paid at all: no
 *    answer, scored wrong), `"reserve"` when no bid cleared the reserve price, `"no_bidders"` when
 *    nobody may bid (the live graph's stop reasons have the same names).
 * 4. **Answer.** The rule's aggregation of the latest answers.
 *
 * | rule | auction | stop condition | answer |
 * |---|---|---|---|
 * | `last-round-majority` | everyone who fits (topK = all, α = 1, reserve 0) | none | majority of the latest answers |
 * | `reliability-weighted` | everyone who fits | none | vote of the latest answers, each weighing its reliability |
 * | `stop-on-agreement` | everyone who fits | ≥ 2 agents paid, every one's latest answer parsed and all equal | majority of the latest answers |
 * | `econ-commitment` | everyone who fits | the commitment candidate equals the previous round's | ECON's weighted-vote candidate over the latest paid texts |
 * | `gated` | `context.gating` (default {@link DEFAULT_GATED_SETTINGS}) | the latest answers agree (`answersAgree`), or no bid clears | vote of the latest answers, each weighing α × reliability (`voteWeight`), or majority (`aggregation`) |
 * | `gated-tuned` | `gated` with the settings tuned on the training questions (`tune.ts`) | as `gated` | as `gated` |
 *
 * While whole rounds fit, the first four rules pay for every text of every round, exactly as a
 * whole-round replay; when the next round does not fit whole, the auction decides who of the agents
 * that still fit speaks, so a question is unanswered only when not even one text fits.
 *
 * Baselines ({@link replayBaseline}): `one-agent` (the round-0 text of the agent most accurate in round 0),
 * `round0-majority` (every round-0 text, majority; nothing when round 0 does not fit whole) and
 * `full-debate` ({@link replayFullDebate}: every round paid whatever the budget).
 */
import { buildBelief, refineBeliefs } from "../../../coordination/beliefs.js";
import { type BeliefVoter, selectCommitmentCandidate } from "../../../coordination/consensus.js";
import { aggregateAnswers, hasConverged } from "../../../debate/aggregation.js";
import {
  answersAgree,
  heardNothingNew,
  type SpeakerAuctionRules,
  type SpeakerSignals,
  selectSpeakers,
  voteWeight,
} from "../../../debate/gating.js";
import type { MechanismName } from "../../../market/types.js";

/** The rules Gavel offers, in report order. */
export const DEBATE_REPLAY_RULES = [
  "last-round-majority",
  "reliability-weighted",
  "stop-on-agreement",
  "econ-commitment",
  "gated",
  "gated-tuned",
] as const;

/** A rule of {@link DEBATE_REPLAY_RULES}. */
export type DebateReplayRule = (typeof DEBATE_REPLAY_RULES)[number];

/** The recorded full debate's name in reports. */
export const FULL_DEBATE = "full-debate";

/**
 * The baselines reported under every budget besides the full debate, in report order.
 *
 * @example
 * ```ts
 * for (const baseline of DEBATE_BASELINES) replayBaseline(debate, baseline, 256, context);
 * ```
 */
export const DEBATE_BASELINES = ["one-agent", "round0-majority"] as const;

/** A baseline of {@link DEBATE_BASELINES}. */
export type DebateBaseline = (typeof DEBATE_BASELINES)[number];

/** Every name a row of the report can carry. */
export type DebateReplayRowName = DebateReplayRule | DebateBaseline | typeof FULL_DEBATE;

/**
 * Whether a row is one of Gavel's own rules or a baseline it is judged against (`econ-commitment`,
 * the published ECON rule, counts as a baseline).
 *
 * @example
 * ```ts
 * rowKind("gated"); // "gavel"
 * rowKind("econ-commitment"); // "baseline"
 * ```
 */
export function rowKind(name: DebateReplayRowName): "gavel" | "baseline" {
  return name === "econ-commitment" || name === FULL_DEBATE || (DEBATE_BASELINES as readonly string[]).includes(name)
    ? "baseline"
    : "gavel";
}

/** Why a replay ended. */
export type ReplayStopReason =
  /** Every recorded round was held, and the budget cut no text. */
  | "completed"
  /** The rule's own stop condition held before the last round (agreement, stable commitment). */
  | "rule"
  /** `gated`: every bidder's text fitted but no bid cleared the reserve price (live: `"reserve"`). */
  | "reserve"
  /** Nobody could bid: every agent paid for has heard nothing new since (live: `"no_bidders"`). */
  | "no_bidders"
  /** No text of the next round fitted in what was left, or the budget cut a round short. */
  | "budget"
  /** Not even one text fitted: no answer. */
  | "unaffordable";

/** One recorded round, prepared: tokens counted and answers parsed. */
export interface PreparedRound {
  /** Tokens of every agent's message of the round. */
  tokens: number;
  /** Tokens of each agent's message, by position. */
  agentTokens: readonly number[];
  /** Parsed answer of each agent, by position (`undefined`: none could be read). */
  answers: ReadonlyArray<string | undefined>;
  /** Embedding of each agent's message (only needed by `econ-commitment`). */
  embeddings?: ReadonlyArray<readonly number[]>;
}

/** One recorded debate, prepared for replay. */
export interface PreparedDebate {
  id: string;
  /** Agent names, by position (`agent-1`, `agent-2`, ...). */
  agents: readonly string[];
  rounds: readonly PreparedRound[];
  /** True when a given answer is right (the task's checker against the gold answer). */
  isCorrect(answer: string | undefined): boolean;
}

/** What the replay of one question under one rule and budget gave. */
export interface QuestionReplay {
  id: string;
  answer: string | undefined;
  correct: boolean;
  /** Recorded completion tokens paid for. */
  tokens: number;
  /** Rounds in which at least one text was paid for. */
  roundsPaid: number;
  roundsRecorded: number;
  /** Recorded texts paid for (at most agents × rounds). */
  texts: number;
  /** Who spoke, per paid round, in the auction's rank order. */
  speakers: string[][];
  stopReason: ReplayStopReason;
}

/** The speaker auction of `gated` and `gated-tuned`. */
export interface GatedSettings {
  mechanism: MechanismName;
  reservePrice: number;
  /** Most speakers per round. */
  topK: number;
  /** α by agent name (missing agents: 1). */
  aggressiveness: Readonly<Record<string, number>>;
  /**
   * The answer: `weighted` (default), each latest answer weighing α × reliability (`voteWeight`),
   * or `majority` (the live graph's default `aggregation`).
   */
  aggregation?: "weighted" | "majority";
}

/**
 * `gated`'s defaults: `createAuctionDebate`'s (second-price, no reserve, one speaker a round, α = 1).
 *
 * @example
 * ```ts
 * replayDebate(debate, "gated", 512, { ...context, gating: { ...DEFAULT_GATED_SETTINGS, topK: 2 } });
 * ```
 */
export const DEFAULT_GATED_SETTINGS: GatedSettings = Object.freeze({
  mechanism: "second_price",
  reservePrice: 0,
  topK: 1,
  aggressiveness: Object.freeze({}),
  aggregation: "weighted",
});

/** What the rules need besides the debate. */
export interface RuleContext {
  /** Learned reliability by agent name (missing agents: `defaultReliability`). */
  reliability: Readonly<Record<string, number>>;
  /** Reliability of an agent the training never saw. */
  defaultReliability: number;
  /**
   * Learned accuracy of each agent's ROUND-0 answer, by name: how `one-agent` picks its agent (it
   * pays round 0 only). Missing: `reliability` is used.
   */
  roundZeroReliability?: Readonly<Record<string, number>>;
  /** Seed of the vote tie-break (`tieKey(seed, answer)`, lower wins); round r's speaker auction uses seed + r (as live). */
  seed: number;
  /** The auction of `gated` / `gated-tuned` (default {@link DEFAULT_GATED_SETTINGS}). */
  gating?: GatedSettings;
}

/** ECON's refinement defaults (see docs/coordination.md). */
const ECON_REFINEMENT = { iterations: 5, tolerance: 0.01, stepSize: 0.1 } as const;
/** Every agent's confidence: recorded texts carry no log-probabilities. */
const UNIFORM_CONFIDENCE = 0.5;

/** What the driver knows of an agent once it was paid for: its latest text's answer and embedding. */
interface Latest {
  answer: string | undefined;
  embedding: readonly number[] | undefined;
}

/**
 * Replay one debate under `rule` within `budget` tokens (see the module comment).
 *
 * @example
 * ```ts
 * replayDebate(debate, "stop-on-agreement", 512, { reliability: {}, defaultReliability: 0.5, seed: 0 });
 * // { answer: "18", correct: true, tokens: 143, roundsPaid: 1, texts: 3, stopReason: "rule", ... }
 * ```
 */
export function replayDebate(
  debate: PreparedDebate,
  rule: DebateReplayRule,
  budget: number,
  context: RuleContext,
): QuestionReplay {
  const gated = rule === "gated" || rule === "gated-tuned";
  const settings = gated ? (context.gating ?? DEFAULT_GATED_SETTINGS) : undefined;
  const auctionOf = (round: number): SpeakerAuctionRules => ({
    mechanism: settings?.mechanism ?? "first_price",
    reservePrice: settings?.reservePrice ?? 0,
    topK: settings?.topK ?? Math.max(1, debate.agents.length),
    seed: context.seed + round,
  });
  const reliabilityOf = (agent: string) => context.reliability[agent] ?? context.defaultReliability;
  const alphaOf = (agent: string) => settings?.aggressiveness[agent] ?? 1;

  const latest = new Map<string, Latest>();
  /** The round of each agent's latest paid text (the input of `heardNothingNew`). */
  const latestRound: Record<string, number> = {};
  const speakers: string[][] = [];
  let spent = 0;
  let texts = 0;
  let cut = false;
  let stopReason: ReplayStopReason | undefined;
  let answer: string | undefined;
  let previousCandidate: string | undefined;
  for (const [index, round] of debate.rounds.entries()) {
    const repeating = heardNothingNew(latestRound);
    const candidates: SpeakerSignals[] = debate.agents.flatMap((agent, position) =>
      repeating.has(agent)
        ? []
        : [
            {
              agent,
              reliability: reliabilityOf(agent),
              aggressiveness: alphaOf(agent),
              tokens: round.agentTokens[position] ?? 0,
            },
          ],
    );
    if (candidates.length === 0) {
      stopReason = "no_bidders";
      break;
    }
    const selection = selectSpeakers({
      candidates,
      latestAnswers: parsedAnswers(latest),
      remainingTokens: budget - spent,
      rules: auctionOf(index),
      reliabilityOf,
    });
    if (selection.speakers.length === 0) {
      const nothingFits = selection.unaffordable.length === candidates.length;
      stopReason = !nothingFits ? "reserve" : texts === 0 ? "unaffordable" : "budget";
      break;
    }
    const dropped = (selection.outcome?.winners.length ?? 0) > selection.speakers.length;
    if (selection.unaffordable.length > 0 || dropped) cut = true;
    for (const speaker of selection.speakers) {
      const position = debate.agents.indexOf(speaker);
      spent += round.agentTokens[position] ?? 0;
      texts += 1;
      latest.set(speaker, { answer: round.answers[position], embedding: round.embeddings?.[position] });
      latestRound[speaker] = index;
    }
    speakers.push(selection.speakers);

    const isLast = index === debate.rounds.length - 1;
    if (rule === "econ-commitment") {
      const candidate = econCandidate(debate, latest, context);
      answer = candidate;
      const stable = candidate !== undefined && candidate === previousCandidate;
      previousCandidate = candidate;
      if (stable && !isLast) {
        stopReason = "rule";
        break;
      }
      continue;
    }
    answer = vote(
      latest,
      gated
        ? settings?.aggregation === "majority"
          ? undefined
          : (agent) => voteWeight(reliabilityOf(agent), settings?.aggressiveness[agent])
        : weightsFor(rule, reliabilityOf),
      context.seed,
    );
    if (isLast) continue;
    if (rule === "stop-on-agreement" && agreesWhole(latest, debate.agents.length)) {
      stopReason = "rule";
      break;
    }
    if (gated && answersAgree(parsedAnswers(latest), debate.agents.length)) {
      stopReason = "rule";
      break;
    }
  }
  return {
    id: debate.id,
    answer,
    correct: debate.isCorrect(answer),
    tokens: spent,
    roundsPaid: speakers.length,
    roundsRecorded: debate.rounds.length,
    texts,
    speakers,
    stopReason: stopReason ?? (cut ? "budget" : "completed"),
  };
}

/**
 * A baseline under `budget`: `one-agent` pays the round-0 text of the agent whose ROUND-0 answer was
 * most accurate on the training questions (`context.roundZeroReliability`, else `reliability`; ties:
 * the first by position), nothing when it does not fit; `round0-majority` pays every round-0 text and
 * answers with their majority, nothing when round 0 does not fit whole.
 *
 * @example
 * ```ts
 * replayBaseline(debate, "one-agent", 256, context); // { answer: "18", tokens: 112, texts: 1, ... }
 * ```
 */
export function replayBaseline(
  debate: PreparedDebate,
  baseline: DebateBaseline,
  budget: number,
  context: RuleContext,
): QuestionReplay {
  const round = debate.rounds[0];
  const chosen =
    baseline === "one-agent" ? [mostReliable(debate.agents, context)] : debate.agents.map((_, position) => position);
  const cost = chosen.reduce((sum, position) => sum + (round?.agentTokens[position] ?? 0), 0);
  const nothing = {
    id: debate.id,
    answer: undefined,
    correct: false,
    tokens: 0,
    roundsPaid: 0,
    roundsRecorded: debate.rounds.length,
    texts: 0,
    speakers: [],
    stopReason: "unaffordable" as const,
  };
  if (round === undefined || cost > budget) return nothing;
  const answers: Record<string, string> = {};
  for (const position of chosen) {
    const agent = debate.agents[position];
    const parsed = round.answers[position];
    if (agent !== undefined && parsed !== undefined) answers[agent] = parsed;
  }
  const answer = aggregateAnswers(answers, "majority", {}, context.seed).answer;
  return {
    ...nothing,
    answer,
    correct: debate.isCorrect(answer),
    tokens: cost,
    roundsPaid: 1,
    texts: chosen.length,
    speakers: [chosen.map((position) => debate.agents[position] ?? "")],
    stopReason: debate.rounds.length > 1 ? "rule" : "completed",
  };
}

/**
 * The recorded full debate: every round paid for, majority of the last round.
 *
 * @example
 * ```ts
 * replayFullDebate(debate, 0).tokens; // every recorded token of the question
 * ```
 */
export function replayFullDebate(debate: PreparedDebate, seed: number): QuestionReplay {
  const last = debate.rounds[debate.rounds.length - 1];
  const answers: Record<string, string> = {};
  debate.agents.forEach((agent, position) => {
    const parsed = last?.answers[position];
    if (parsed !== undefined) answers[agent] = parsed;
  });
  const answer = last === undefined ? undefined : aggregateAnswers(answers, "majority", {}, seed).answer;
  return {
    id: debate.id,
    answer,
    correct: debate.isCorrect(answer),
    tokens: debate.rounds.reduce((sum, round) => sum + round.tokens, 0),
    roundsPaid: debate.rounds.length,
    roundsRecorded: debate.rounds.length,
    texts: debate.rounds.length * debate.agents.length,
    speakers: debate.rounds.map(() => [...debate.agents]),
    stopReason: "completed",
  };
}

// ---------------------------------------------------------------------------------------------
// Aggregation
// ---------------------------------------------------------------------------------------------

/** The parsed latest answers by agent; agents whose latest text did not parse are left out. */
function parsedAnswers(latest: ReadonlyMap<string, Latest>): Record<string, string> {
  const answers: Record<string, string> = {};
  for (const [agent, { answer }] of latest) if (answer !== undefined) answers[agent] = answer;
  return answers;
}

/** Vote weights of a non-gated rule: reliability for `reliability-weighted`, none (majority) otherwise. */
function weightsFor(rule: DebateReplayRule, reliabilityOf: (agent: string) => number) {
  return rule === "reliability-weighted" ? reliabilityOf : undefined;
}

/** Vote of the latest answers: a majority, or each weighing `weightOf(agent)`. Seeded ties. */
function vote(
  latest: ReadonlyMap<string, Latest>,
  weightOf: ((agent: string) => number) | undefined,
  seed: number,
): string | undefined {
  const answers = parsedAnswers(latest);
  if (weightOf === undefined) return aggregateAnswers(answers, "majority", {}, seed).answer;
  const weights = Object.fromEntries(Object.keys(answers).map((agent) => [agent, weightOf(agent)]));
  return aggregateAnswers(answers, "weighted", weights, seed).answer;
}

/**
 * `stop-on-agreement`: every agent paid so far gave a parseable latest answer and all are equal
 * (`hasConverged`), with at least two of them (one when the debate has a single agent).
 */
function agreesWhole(latest: ReadonlyMap<string, Latest>, agentCount: number): boolean {
  const participants = [...latest.keys()];
  return participants.length >= Math.min(2, agentCount) && hasConverged(parsedAnswers(latest), participants);
}

/**
 * The position of the agent with the highest learned round-0 accuracy (`roundZeroReliability`, else
 * `reliability`: one-agent pays round 0 only). Ties: the first.
 */
function mostReliable(agents: readonly string[], context: RuleContext): number {
  const learned = context.roundZeroReliability ?? context.reliability;
  const accuracyOf = (agent: string | undefined) => learned[agent ?? ""] ?? context.defaultReliability;
  let best = 0;
  agents.forEach((agent, position) => {
    if (accuracyOf(agent) > accuracyOf(agents[best])) best = position;
  });
  return best;
}

/**
 * ECON's commitment candidate over the latest paid texts: beliefs `[embedding ; 0.5]` of each paid
 * agent's latest text, refined by ECON's rule, then the weighted vote with the learned reliabilities.
 */
function econCandidate(
  debate: PreparedDebate,
  latest: ReadonlyMap<string, Latest>,
  context: RuleContext,
): string | undefined {
  const paid = debate.agents.flatMap((agent) => {
    const known = latest.get(agent);
    return known === undefined ? [] : [[agent, known] as const];
  });
  const beliefs = paid.map(([, { embedding }]) => {
    if (embedding === undefined) {
      throw new RangeError(`econ-commitment needs one embedding per agent in every round of debate "${debate.id}"`);
    }
    return buildBelief(embedding, UNIFORM_CONFIDENCE);
  });
  const refined = refineBeliefs(beliefs, ECON_REFINEMENT).beliefs;
  const voters: BeliefVoter[] = paid.map(([name, { answer }], index) => ({
    name,
    answer,
    belief: refined[index] ?? [],
    confidence: UNIFORM_CONFIDENCE,
    weight: context.reliability[name] ?? context.defaultReliability,
  }));
  return selectCommitmentCandidate(voters, { seed: context.seed }).candidate;
}
