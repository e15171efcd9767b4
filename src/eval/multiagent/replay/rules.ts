/**
 * The stopping and aggregation rules a recorded debate is replayed under. Pure: no I/O, no
 * embedding calls (embeddings are computed beforehand and passed in).
 *
 * Every rule replays one question round by round under a token budget B:
 *
 * 1. Before round r it checks that the round's recorded tokens (every agent's message of the
 *    round, completion side only) still fit: `spent + tokens(r) ≤ B`. If not, it stops
 *    (`"budget"`; `"unaffordable"` when not even round 0 fits: no answer, scored wrong).
 * 2. It pays for the round, then checks its own stop condition (if it has one).
 * 3. Its answer is its aggregation of the rounds it paid for.
 *
 * | rule | stop condition | answer |
 * |---|---|---|
 * | `last-round-majority` | none | majority of the last paid round |
 * | `reliability-weighted` | none | vote of the last paid round, each agent weighing its learned reliability |
 * | `stop-on-agreement` | every agent's answer parsed and all are equal | majority of the last paid round |
 * | `econ-commitment` | the commitment candidate equals the previous round's | ECON's weighted-vote candidate of the last paid round |
 *
 * The recorded full debate ({@link replayFullDebate}) pays every round whatever the budget and
 * answers with the majority of the last round.
 */
import { buildBelief, refineBeliefs } from "../../../coordination/beliefs.js";
import { type BeliefVoter, selectCommitmentCandidate } from "../../../coordination/consensus.js";
import { aggregateAnswers, hasConverged } from "../../../debate/aggregation.js";

/** The rules Gavel offers, in report order. */
export const DEBATE_REPLAY_RULES = [
  "last-round-majority",
  "reliability-weighted",
  "stop-on-agreement",
  "econ-commitment",
] as const;

/** A rule of {@link DEBATE_REPLAY_RULES}. */
export type DebateReplayRule = (typeof DEBATE_REPLAY_RULES)[number];

/** The recorded full debate's name in reports. */
export const FULL_DEBATE = "full-debate";

/** Why a replay ended. */
export type ReplayStopReason =
  /** Every recorded round was paid for. */
  | "completed"
  /** The rule's own stop condition held before the last round (agreement, stable commitment). */
  | "rule"
  /** The next round did not fit in the budget. */
  | "budget"
  /** Not even the first round fit: no answer. */
  | "unaffordable";

/** One recorded round, prepared: tokens counted and answers parsed. */
export interface PreparedRound {
  /** Tokens of every agent's message of the round. */
  tokens: number;
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
  roundsPaid: number;
  roundsRecorded: number;
  stopReason: ReplayStopReason;
}

/** What the rules need besides the debate. */
export interface RuleContext {
  /** Learned reliability by agent name (missing agents: `defaultReliability`). */
  reliability: Readonly<Record<string, number>>;
  /** Reliability of an agent the training never saw. */
  defaultReliability: number;
  /** Seed of the vote tie-break (`tieKey(seed, answer)`, lower wins). */
  seed: number;
}

/** ECON's refinement defaults (see docs/coordination.md). */
const ECON_REFINEMENT = { iterations: 5, tolerance: 0.01, stepSize: 0.1 } as const;
/** Every agent's confidence: recorded texts carry no log-probabilities. */
const UNIFORM_CONFIDENCE = 0.5;

/**
 * Replay one debate under `rule` within `budget` tokens (see the module comment).
 *
 * @example
 * ```ts
 * replayDebate(debate, "stop-on-agreement", 512, { reliability: {}, defaultReliability: 0.5, seed: 0 });
 * // { answer: "18", correct: true, tokens: 143, roundsPaid: 1, roundsRecorded: 3, stopReason: "rule", ... }
 * ```
 */
export function replayDebate(
  debate: PreparedDebate,
  rule: DebateReplayRule,
  budget: number,
  context: RuleContext,
): QuestionReplay {
  let spent = 0;
  let paid = 0;
  let stopReason: ReplayStopReason = "completed";
  let answer: string | undefined;
  let previousCandidate: string | undefined;
  for (const [index, round] of debate.rounds.entries()) {
    if (spent + round.tokens > budget) {
      stopReason = paid === 0 ? "unaffordable" : "budget";
      break;
    }
    spent += round.tokens;
    paid += 1;
    const isLast = index === debate.rounds.length - 1;
    if (rule === "econ-commitment") {
      const candidate = econCandidate(debate, round, context);
      answer = candidate;
      const stable = candidate !== undefined && candidate === previousCandidate;
      previousCandidate = candidate;
      if (stable && !isLast) {
        stopReason = "rule";
        break;
      }
      continue;
    }
    answer = roundVote(debate, round, rule === "reliability-weighted" ? context : undefined, context.seed);
    if (rule === "stop-on-agreement" && !isLast && hasConverged(answersByAgent(debate, round), debate.agents)) {
      stopReason = "rule";
      break;
    }
  }
  return {
    id: debate.id,
    answer,
    correct: debate.isCorrect(answer),
    tokens: spent,
    roundsPaid: paid,
    roundsRecorded: debate.rounds.length,
    stopReason,
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
  const answer = last === undefined ? undefined : roundVote(debate, last, undefined, seed);
  return {
    id: debate.id,
    answer,
    correct: debate.isCorrect(answer),
    tokens: debate.rounds.reduce((sum, round) => sum + round.tokens, 0),
    roundsPaid: debate.rounds.length,
    roundsRecorded: debate.rounds.length,
    stopReason: "completed",
  };
}

// ---------------------------------------------------------------------------------------------
// Aggregation
// ---------------------------------------------------------------------------------------------

/** Parsed answers of a round by agent name; agents whose answer did not parse are left out. */
function answersByAgent(debate: PreparedDebate, round: PreparedRound): Record<string, string> {
  const answers: Record<string, string> = {};
  debate.agents.forEach((agent, position) => {
    const answer = round.answers[position];
    if (answer !== undefined) answers[agent] = answer;
  });
  return answers;
}

/** Majority vote of a round, or (with `weighted`) each vote weighing the agent's reliability. Seeded ties. */
function roundVote(
  debate: PreparedDebate,
  round: PreparedRound,
  weighted: RuleContext | undefined,
  seed: number,
): string | undefined {
  const answers = answersByAgent(debate, round);
  if (weighted === undefined) return aggregateAnswers(answers, "majority", {}, seed).answer;
  const weights = Object.fromEntries(
    debate.agents.map((agent) => [agent, weighted.reliability[agent] ?? weighted.defaultReliability]),
  );
  return aggregateAnswers(answers, "weighted", weights, seed).answer;
}

/**
 * ECON's commitment candidate for one round: beliefs `[embedding ; 0.5]` of every agent's message,
 * refined by ECON's rule, then the weighted vote with the learned reliabilities as weights.
 */
function econCandidate(debate: PreparedDebate, round: PreparedRound, context: RuleContext): string | undefined {
  const embeddings = round.embeddings;
  if (embeddings === undefined || embeddings.length !== debate.agents.length) {
    throw new RangeError(`econ-commitment needs one embedding per agent in every round of debate "${debate.id}"`);
  }
  const beliefs = embeddings.map((embedding) => buildBelief(embedding, UNIFORM_CONFIDENCE));
  const refined = refineBeliefs(beliefs, ECON_REFINEMENT).beliefs;
  const voters: BeliefVoter[] = debate.agents.map((name, position) => ({
    name,
    answer: round.answers[position],
    belief: refined[position] ?? [],
    confidence: UNIFORM_CONFIDENCE,
    weight: context.reliability[name] ?? context.defaultReliability,
  }));
  return selectCommitmentCandidate(voters, { seed: context.seed }).candidate;
}
