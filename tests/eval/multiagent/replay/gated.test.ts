import { describe, expect, it } from "vitest";
import { weightMap } from "../../../../src/coordination/weights.js";
import {
  DEBATE_REPLAY_RULES,
  DEFAULT_GATED_SETTINGS,
  type DebateReplayRow,
  type DebateReplayRowName,
  debateReplayTargets,
  FULL_DEBATE,
  fitReliability,
  type RuleContext,
  replayBaseline,
  replayDebate,
  replayDebates,
  rowKind,
} from "../../../../src/eval/multiagent/replay/index.js";
import { prepareDebate } from "../../../../src/eval/multiagent/replay/replay.js";
import { countWords, fixtureDebates, ScriptedAnswerEmbeddings, scriptedDebate } from "./fixture.js";

/** Training questions: agent-2 right, agents 1 and 3 wrong (reliabilities 0.8, 0.2, 0.2). */
const training = [scriptedDebate("t1", 10, [1]), scriptedDebate("t2", 20, [1]), scriptedDebate("t3", 30, [1])];
const context: RuleContext = {
  reliability: weightMap(fitReliability(training)),
  defaultReliability: 0.5,
  seed: 0,
};
/** The question replayed: agent-2 right (42), agents 1 and 3 say 43; each text 3 tokens, a round 9. */
const question = prepareDebate(scriptedDebate("q", 42, [1], { rounds: 3 }), countWords);

function row(rows: DebateReplayRow[], budget: number, rule: DebateReplayRowName): DebateReplayRow {
  const found = rows.find((candidate) => candidate.budget === budget && candidate.rule === rule);
  if (found === undefined) throw new Error(`no row ${budget} ${rule}`);
  return found;
}

describe("the gated replay picks who speaks", () => {
  it("fits agent-2 as the reliable one on the training questions", () => {
    expect(context.reliability).toEqual({ "agent-1": 0.2, "agent-2": 0.8, "agent-3": 0.2 });
  });

  it("gives the floor to the reliable agent when the budget pays for one text", () => {
    const replay = replayDebate(question, "gated", 5, context);
    expect(replay).toMatchObject({ answer: "42", correct: true, tokens: 3, texts: 1, stopReason: "budget" });
    expect(replay.speakers).toEqual([["agent-2"]]);
    // The majority of the whole round 0 would say 43.
    expect(replayBaseline(question, "round0-majority", 9, context).answer).toBe("43");
  });

  it("keeps the reliable agent's answer when the others speak later (α × reliability-weighted vote)", () => {
    const replay = replayDebate(question, "gated", 1000, context);
    // Round 0: agent-2 (0.8). Round 1: agent-2 has nothing left to add (no one contradicts it yet),
    // so an unreliable agent speaks, disagrees, and round 2 brings in the other.
    expect(replay.speakers[0]).toEqual(["agent-2"]);
    expect(replay.speakers).toHaveLength(3);
    expect(replay).toMatchObject({ answer: "42", correct: true, texts: 3, tokens: 9, stopReason: "completed" });
  });

  it("stops on agreement of the latest answers, and when no bid clears the reserve price", () => {
    const agreeing = prepareDebate(scriptedDebate("a", 42, [0, 1, 2], { rounds: 3 }), countWords);
    expect(replayDebate(agreeing, "gated", 1000, context)).toMatchObject({
      answer: "42",
      texts: 2,
      tokens: 6,
      stopReason: "rule",
    });
    // Every bid is α × 0.8 at most: a reserve of 0.9 lets no one speak.
    const strict = { ...context, gating: { ...DEFAULT_GATED_SETTINGS, reservePrice: 0.9 } };
    expect(replayDebate(question, "gated", 1000, strict)).toMatchObject({
      answer: undefined,
      tokens: 0,
      stopReason: "reserve",
    });
    // topK 3: the whole round speaks, and the weighted vote (0.8 vs 0.2 + 0.2) still says 42.
    const everyone = { ...context, gating: { ...DEFAULT_GATED_SETTINGS, topK: 3 } };
    expect(replayDebate(question, "gated", 9, everyone)).toMatchObject({ answer: "42", texts: 3, tokens: 9 });
  });

  it("never pays more than the budget, and α moves the floor", () => {
    for (const budget of [0, 2, 3, 5, 6, 8, 9, 17, 27]) {
      for (const rule of DEBATE_REPLAY_RULES) {
        if (rule === "econ-commitment") continue;
        expect(replayDebate(question, rule, budget, context).tokens).toBeLessThanOrEqual(budget);
      }
    }
    // agent-3 bidding 5 × 0.2 = 1 outbids agent-2's 0.8.
    const pushy = { ...context, gating: { ...DEFAULT_GATED_SETTINGS, aggressiveness: { "agent-3": 5 } } };
    expect(replayDebate(question, "gated", 5, pushy).speakers).toEqual([["agent-3"]]);
  });
});

describe("graceful under any budget", () => {
  /** Six questions shaped like `question`: whichever three train, agent-2 is the reliable one. */
  const debates = [10, 20, 30, 40, 50, 60].map((gold, index) => scriptedDebate(`d${index}`, gold, [1]));

  it("answers every question when one text fits, where the whole-round replay gave no answer", async () => {
    const report = await replayDebates({
      debates,
      budgets: [5],
      countTokens: countWords,
      embeddings: new ScriptedAnswerEmbeddings(),
    });
    // The whole-round replay: round 0 costs 9 > 5, so every rule was left without an answer.
    expect(report.replays[0]?.questions[0]?.roundsRecorded).toBe(2);
    expect(row(report.rows, 5, "round0-majority")).toMatchObject({ unansweredShare: 1, meanTokens: 0, accuracy: 0 });
    for (const rule of DEBATE_REPLAY_RULES) {
      expect(row(report.rows, 5, rule)).toMatchObject({ unansweredShare: 0, meanTokens: 3, meanTexts: 1 });
    }
    // Each rule's single speaker is the most reliable agent (the bid is its reliability).
    expect(row(report.rows, 5, "gated").accuracy).toBe(1);
    expect(row(report.rows, 5, "last-round-majority").accuracy).toBe(1);
  });

  it("leaves a question unanswered, paying nothing, only when no text fits", async () => {
    const report = await replayDebates({
      debates,
      budgets: [2],
      countTokens: countWords,
      embeddings: new ScriptedAnswerEmbeddings(),
    });
    for (const entry of report.rows) {
      if (entry.rule === FULL_DEBATE) continue;
      expect(entry).toMatchObject({ unansweredShare: 1, meanTokens: 0, accuracy: 0, costEfficiency: null });
    }
    for (const { rule, questions } of report.replays) {
      if (rule === FULL_DEBATE) continue;
      for (const replay of questions) expect(replay).toMatchObject({ tokens: 0, stopReason: "unaffordable" });
    }
  });
});

describe("the baselines, by hand", () => {
  it("one-agent, round0-majority and the full debate on the three-question fixture", async () => {
    // No training question: every agent weighs 0.5, so one-agent is agent-1 (the first of equals).
    const report = await replayDebates({
      debates: fixtureDebates,
      budgets: [2, 3, 9],
      rules: ["gated"],
      trainFraction: 0,
      countTokens: countWords,
    });
    expect(report.rows.map((entry) => [entry.rule, entry.kind])).toEqual(
      Array(3)
        .fill([
          ["gated", "gavel"],
          ["one-agent", "baseline"],
          ["round0-majority", "baseline"],
          [FULL_DEBATE, "baseline"],
        ])
        .flat(),
    );
    // agent-1 says 42, 7, B in round 0: all right, 3 tokens each.
    expect(row(report.rows, 2, "one-agent")).toMatchObject({ accuracy: 0, meanTokens: 0, unansweredShare: 1 });
    expect(row(report.rows, 3, "one-agent")).toMatchObject({ accuracy: 1, meanTokens: 3, meanTexts: 1 });
    expect(row(report.rows, 3, "one-agent").costEfficiency).toBeCloseTo(1 / 0.003, 9);
    // Round 0 (9 tokens) majority: 41, 7, C: one right.
    expect(row(report.rows, 3, "round0-majority")).toMatchObject({ accuracy: 0, meanTokens: 0, unansweredShare: 1 });
    expect(row(report.rows, 3, "round0-majority").costEfficiency).toBeNull();
    expect(row(report.rows, 9, "round0-majority")).toMatchObject({ accuracy: 1 / 3, meanTokens: 9, meanTexts: 3 });
    expect(row(report.rows, 9, "round0-majority").costEfficiency).toBeCloseTo(1 / 3 / 0.009, 9);
    // The full debate: paid whatever the budget (24 tokens a question), 2 of 3 right.
    expect(row(report.rows, 9, FULL_DEBATE)).toMatchObject({ accuracy: 2 / 3, meanTokens: 24, overBudgetShare: 1 });
    expect(row(report.rows, 2, FULL_DEBATE).meanTokens).toBe(24);
  });

  it("one-agent asks the agent with the highest training reliability", () => {
    const [q1] = fixtureDebates.map((debate) => prepareDebate(debate, countWords));
    if (q1 === undefined) throw new Error("fixture");
    // agent-2 (0.8) says 41 in round 0.
    expect(replayBaseline(q1, "one-agent", 3, context)).toMatchObject({
      answer: "41",
      correct: false,
      tokens: 3,
      speakers: [["agent-2"]],
    });
    expect(replayBaseline(q1, "one-agent", 3, { ...context, reliability: {} })).toMatchObject({ answer: "42" });
  });
});

describe("the targets", () => {
  function rows(figures: Array<[number, DebateReplayRowName, number, number]>): DebateReplayRow[] {
    return figures.map(([budget, rule, accuracy, meanTokens]) => ({
      budget,
      rule,
      kind: rowKind(rule),
      questions: 10,
      accuracy,
      meanTokens,
      costEfficiency: meanTokens > 0 ? accuracy / (meanTokens / 1000) : null,
      stoppedEarlyShare: 0,
      stoppedByRuleShare: 0,
      stoppedByBudgetShare: 0,
      unansweredShare: 0,
      overBudgetShare: 0,
      meanTexts: 1,
    }));
  }

  it("are met when the best Gavel rule matches the baselines in [256, 2048] and one is frugal at the top", () => {
    const [floor, frugal] = debateReplayTargets(
      rows([
        [128, "gated", 0.1, 100], // outside [256, 2048]: not checked
        [128, "one-agent", 0.7, 100],
        [256, "gated", 0.7, 200],
        [256, "stop-on-agreement", 0.2, 250],
        [256, "one-agent", 0.7, 100],
        [256, "round0-majority", 0.6, 250],
        [2048, "gated", 0.79, 700],
        [2048, "stop-on-agreement", 0.9, 1500],
        [2048, "one-agent", 0.7, 100],
        [2048, "round0-majority", 0.75, 300],
        [2048, FULL_DEBATE, 0.8, 1500],
      ]),
    );
    expect(floor?.met).toBe(true);
    expect(floor?.detail).toBe(
      "256: gated 70.0% ≥ one-agent 70.0%; 2048: stop-on-agreement 90.0% ≥ round0-majority 75.0%",
    );
    // gated: 0.79 ≥ 0.80 − 0.01 with 700 ≤ 750 tokens.
    expect(frugal?.met).toBe(true);
    expect(frugal?.detail).toContain("gated 79.0% at 700.0 tokens");
  });

  it("are not met when a baseline wins a budget, or nothing is both close and frugal", () => {
    const [floor, frugal] = debateReplayTargets(
      rows([
        [256, "gated", 0.6, 200],
        [256, "one-agent", 0.7, 100],
        [256, "round0-majority", 0.5, 250],
        [512, "gated", 0.8, 200],
        [512, "round0-majority", 0.75, 250],
        [512, "econ-commitment", 0.95, 250], // a baseline: it cannot carry the target
        [512, "gated-tuned", 0.78, 751],
        [512, FULL_DEBATE, 0.8, 1500],
      ]),
    );
    expect(floor?.met).toBe(false);
    expect(floor?.detail).toContain("256: gated 60.0% < one-agent 70.0%");
    expect(floor?.detail).toContain("512: gated 80.0% ≥ round0-majority 75.0%");
    // 512 is the largest budget: gated matches the full debate (0.8) with 200 of its 1,500 tokens.
    expect(frugal?.met).toBe(true);
    const [, missed] = debateReplayTargets(
      rows([
        [512, "gated", 0.78, 200], // not within 1 point
        [512, "gated-tuned", 0.8, 751], // more than half the tokens
        [512, FULL_DEBATE, 0.8, 1500],
      ]),
    );
    expect(missed?.met).toBe(false);
    expect(missed?.detail).toContain("best: gated-tuned 80.0% at 751.0 tokens");
    expect(debateReplayTargets(rows([[4096, "gated", 1, 10]]))[0]).toMatchObject({
      met: false,
      detail: "not checked: no budget of the sweep is in [256, 2048]",
    });
  });
});
