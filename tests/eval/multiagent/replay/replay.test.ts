import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countTextTokens } from "../../../../src/budget/tokens.js";
import { ConfigError } from "../../../../src/errors.js";
import {
  DEBATE_REPLAY_RULES,
  type DebateReplayRow,
  FULL_DEBATE,
  fitReliability,
  loadDebateRecords,
  type RuleContext,
  replayDebate,
  replayDebates,
  splitDebates,
} from "../../../../src/eval/multiagent/replay/index.js";
import { prepareDebate } from "../../../../src/eval/multiagent/replay/replay.js";
import { createHashingEmbeddings } from "../../../../src/eval/routing/embedding.js";
import { countWords, fixtureDebates, ScriptedAnswerEmbeddings } from "./fixture.js";

const samplePath = join(import.meta.dirname, "..", "..", "..", "..", "data", "debates", "sample.jsonl");
const [q1, q2, q3] = fixtureDebates.map((debate) => prepareDebate(debate, countWords));
const uniform: RuleContext = { reliability: {}, defaultReliability: 0.5, seed: 0 };
/** agent-1 reliable, the others not: what fitReliability gives when agent-1 alone was right on 3 training questions. */
const trusted: RuleContext = {
  reliability: { "agent-1": 0.8, "agent-2": 0.2, "agent-3": 0.2 },
  defaultReliability: 0.5,
  seed: 0,
};

function row(rows: DebateReplayRow[], budget: number, rule: DebateReplayRow["rule"]): DebateReplayRow {
  const found = rows.find((candidate) => candidate.budget === budget && candidate.rule === rule);
  if (found === undefined) throw new Error(`no row ${budget} ${rule}`);
  return found;
}

describe("preparing a recorded debate", () => {
  it("counts each round's tokens over every agent and parses answers with the task's checker", () => {
    expect(q1?.rounds.map((round) => round.tokens)).toEqual([9, 9, 9]);
    expect(q2?.rounds.map((round) => round.tokens)).toEqual([9, 18]);
    expect(q1?.rounds[0]?.answers).toEqual(["42", "41", "41"]);
    expect(q3?.rounds[0]?.answers).toEqual(["B", "C", "C"]);
    expect(q1?.agents).toEqual(["agent-1", "agent-2", "agent-3"]);
  });

  it("counts with js-tiktoken by default", () => {
    const [record] = fixtureDebates;
    if (record === undefined) throw new Error("fixture");
    // o200k_base reads "answer is 42" as 4 tokens (the model field picks the encoding).
    expect(countTextTokens("answer is 42")).toBe(4);
    expect(prepareDebate(record).rounds[0]?.tokens).toBe(3 * 4);
    const round = prepareDebate({ ...record, model: "gpt-4" }).rounds[0];
    expect(round?.tokens).toBe(3 * countTextTokens("answer is 42", "gpt-4"));
  });
});

describe("the rules, by hand", () => {
  it("last-round-majority pays whole rounds while they fit, then the texts that still fit", () => {
    if (q1 === undefined) throw new Error("fixture");
    // Not one 3-token text fits: no answer.
    expect(replayDebate(q1, "last-round-majority", 2, uniform)).toMatchObject({
      answer: undefined,
      correct: false,
      tokens: 0,
      roundsPaid: 0,
      texts: 0,
      stopReason: "unaffordable",
    });
    expect(replayDebate(q1, "last-round-majority", 9, uniform)).toMatchObject({
      answer: "41",
      correct: false,
      tokens: 9,
      texts: 3,
      stopReason: "budget",
    });
    // Rounds 0 and 1 whole (18), then two of round 2's three texts fit in the 8 left.
    expect(replayDebate(q1, "last-round-majority", 26, uniform)).toMatchObject({
      answer: "42",
      correct: true,
      tokens: 24,
      roundsPaid: 3,
      texts: 8,
      stopReason: "budget",
    });
    expect(replayDebate(q1, "last-round-majority", 27, uniform)).toMatchObject({
      answer: "42",
      tokens: 27,
      texts: 9,
      stopReason: "completed",
    });
  });

  it("reliability-weighted lets one reliable agent outvote two unreliable ones (0.8 > 0.2 + 0.2)", () => {
    if (q1 === undefined || q3 === undefined) throw new Error("fixture");
    expect(replayDebate(q3, "last-round-majority", 18, trusted)).toMatchObject({ answer: "C", correct: false });
    expect(replayDebate(q3, "reliability-weighted", 18, trusted)).toMatchObject({
      answer: "B",
      correct: true,
      tokens: 18,
    });
    expect(replayDebate(q1, "reliability-weighted", 9, trusted)).toMatchObject({
      answer: "42",
      correct: true,
      tokens: 9,
    });
    // Equal reliabilities: a plain majority.
    expect(replayDebate(q3, "reliability-weighted", 18, uniform)).toMatchObject({ answer: "C" });
  });

  it("stop-on-agreement stops after the first unanimous round", () => {
    if (q1 === undefined || q2 === undefined) throw new Error("fixture");
    expect(replayDebate(q2, "stop-on-agreement", 27, uniform)).toMatchObject({
      answer: "7",
      correct: true,
      tokens: 9,
      roundsPaid: 1,
      roundsRecorded: 2,
      stopReason: "rule",
    });
    // q1 agrees only in its last round: it pays for everything.
    expect(replayDebate(q1, "stop-on-agreement", 27, uniform)).toMatchObject({ tokens: 27, stopReason: "completed" });
  });

  it("econ-commitment stops once the weighted-vote candidate repeats", async () => {
    const embeddings = new ScriptedAnswerEmbeddings();
    const [first] = fixtureDebates;
    if (first === undefined) throw new Error("fixture");
    const prepared = prepareDebate(first, countWords);
    const vectors = await embeddings.embedDocuments(first.agents.flat());
    // agents[i][r] flattened agent-major: vector of agent i, round r is at i * 3 + r.
    const withEmbeddings = {
      ...prepared,
      rounds: prepared.rounds.map((round, r) => ({
        ...round,
        embeddings: [0, 1, 2].map((i) => vectors[i * 3 + r] ?? []),
      })),
    };
    // Uniform weights: round 0 → 41 (two beliefs agree), round 1 → 42, round 2 → 42 (last round).
    expect(replayDebate(withEmbeddings, "econ-commitment", 27, uniform)).toMatchObject({
      answer: "42",
      tokens: 27,
      stopReason: "completed",
    });
    expect(replayDebate(withEmbeddings, "econ-commitment", 9, uniform)).toMatchObject({ answer: "41", tokens: 9 });
    // agent-1 trusted: round 0 → 42 already, round 1 → 42 again: stable, stop before round 2.
    expect(replayDebate(withEmbeddings, "econ-commitment", 27, trusted)).toMatchObject({
      answer: "42",
      correct: true,
      tokens: 18,
      roundsPaid: 2,
      stopReason: "rule",
    });
  });

  it("fits reliability as the smoothed accuracy of each agent's final answer", () => {
    const weights = fitReliability(fixtureDebates);
    // Final answers: q1 all right; q2 all right; q3 only agent-1 right.
    expect(weights.executors["agent-1"]).toEqual({ weight: 4 / 5, correct: 3, total: 3 });
    expect(weights.executors["agent-2"]).toEqual({ weight: 3 / 5, correct: 2, total: 3 });
  });
});

describe("replayDebates", () => {
  it("summarises each budget × rule over the replayed questions (hand-computed)", async () => {
    const report = await replayDebates({
      debates: fixtureDebates,
      budgets: [9, 18, 27],
      trainFraction: 0,
      countTokens: countWords,
      embeddings: new ScriptedAnswerEmbeddings(),
    });
    expect(report.questions).toEqual({ total: 3, train: 0, test: 3 });
    // Every rule, then one-agent, round0-majority and the full debate, under each budget.
    expect(report.rows).toHaveLength(3 * (DEBATE_REPLAY_RULES.length + 3));

    expect(row(report.rows, 9, "last-round-majority")).toMatchObject({
      accuracy: 1 / 3,
      meanTokens: 9,
      stoppedEarlyShare: 1,
      stoppedByBudgetShare: 1,
      stoppedByRuleShare: 0,
    });
    expect(row(report.rows, 9, "stop-on-agreement")).toMatchObject({
      accuracy: 1 / 3,
      meanTokens: 9,
      stoppedByRuleShare: 1 / 3,
      stoppedByBudgetShare: 2 / 3,
    });
    // q2's round 1 (18 tokens) does not fit whole in the 9 left: one of its 6-token texts does (15).
    expect(row(report.rows, 18, "last-round-majority")).toMatchObject({
      accuracy: 2 / 3,
      meanTokens: (18 + 15 + 18) / 3,
    });
    expect(row(report.rows, 27, "last-round-majority")).toMatchObject({
      accuracy: 2 / 3,
      meanTokens: 24,
      stoppedEarlyShare: 0,
    });
    expect(row(report.rows, 27, "last-round-majority").costEfficiency).toBeCloseTo(2 / 3 / 0.024, 10);
    expect(row(report.rows, 27, "stop-on-agreement")).toMatchObject({
      accuracy: 2 / 3,
      meanTokens: 18,
      stoppedEarlyShare: 1 / 3,
    });
    // No training questions: every agent weighs 0.5, so the weighted vote is the majority.
    expect(row(report.rows, 27, "reliability-weighted")).toMatchObject({ accuracy: 2 / 3, meanTokens: 24 });
    expect(row(report.rows, 27, "econ-commitment")).toMatchObject({ accuracy: 2 / 3, meanTokens: 24 });

    expect(row(report.rows, 9, FULL_DEBATE)).toMatchObject({ accuracy: 2 / 3, meanTokens: 24, overBudgetShare: 1 });
    expect(row(report.rows, 18, FULL_DEBATE).overBudgetShare).toBe(2 / 3);
    expect(row(report.rows, 27, FULL_DEBATE).overBudgetShare).toBe(0);
  });

  it("splits by a seeded key, independent of the order of the lines", () => {
    const forward = splitDebates(fixtureDebates, 0.5, 3);
    const backward = splitDebates([...fixtureDebates].reverse(), 0.5, 3);
    expect(forward.train.map((debate) => debate.id)).toEqual(backward.train.map((debate) => debate.id));
    expect(forward.train).toHaveLength(1);
    expect(forward.test).toHaveLength(2);
  });

  it("needs an embedder for econ-commitment, and only then", async () => {
    await expect(replayDebates({ debates: fixtureDebates })).rejects.toThrow(ConfigError);
    await expect(replayDebates({ debates: fixtureDebates })).rejects.toThrow(/embeddings/);
    const report = await replayDebates({ debates: fixtureDebates, rules: ["stop-on-agreement"], trainFraction: 0 });
    expect(report.rows.map((entry) => entry.rule)).toEqual(
      Array(5).fill(["stop-on-agreement", "one-agent", "round0-majority", FULL_DEBATE]).flat(),
    );
  });
});

describe("on the sample file (js-tiktoken tokens)", () => {
  it("never lets a rule spend more than the budget", async () => {
    const debates = await loadDebateRecords(samplePath);
    const embeddings = createHashingEmbeddings();
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: 2500 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 100 }),
        async (budgets, seed) => {
          const report = await replayDebates({ debates, budgets, seed, embeddings });
          for (const { budget, rule, questions } of report.replays) {
            if (rule === FULL_DEBATE) continue;
            for (const question of questions) expect(question.tokens).toBeLessThanOrEqual(budget);
          }
        },
      ),
      { numRuns: 15 },
    );
  });

  it("stop-on-agreement uses fewer tokens than the full debate under every budget", async () => {
    const debates = await loadDebateRecords(samplePath);
    expect(debates.length).toBeGreaterThanOrEqual(30);
    const report = await replayDebates({ debates, rules: ["stop-on-agreement"], trainFraction: 0 });
    for (const budget of report.budgets) {
      expect(row(report.rows, budget, "stop-on-agreement").meanTokens).toBeLessThan(
        row(report.rows, budget, FULL_DEBATE).meanTokens,
      );
    }
    // With the largest budget, the savings come from agreement alone, at the full debate's accuracy here.
    const largest = row(report.rows, 2048, "stop-on-agreement");
    expect(largest.stoppedByBudgetShare).toBe(0);
    expect(largest.stoppedByRuleShare).toBeGreaterThan(0);
    expect(largest.accuracy).toBe(row(report.rows, 2048, FULL_DEBATE).accuracy);
  });
});
