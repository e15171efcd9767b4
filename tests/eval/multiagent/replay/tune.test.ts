import { describe, expect, it } from "vitest";
import {
  DEFAULT_GATED_SETTINGS,
  type DebateRecord,
  gatedTuningOptionsSchema,
  replayDebates,
  tuneGating,
} from "../../../../src/eval/multiagent/replay/index.js";
import { prepareDebate } from "../../../../src/eval/multiagent/replay/replay.js";
import { countWords, scriptedDebate } from "./fixture.js";

const agents = ["agent-1", "agent-2", "agent-3"];
const uniform = { reliability: {}, defaultReliability: 0.5, seed: 0 };

/** Ten questions of mixed shapes: agent-2 right on most, the others on some. */
const debates: DebateRecord[] = [
  scriptedDebate("m0", 10, [1]),
  scriptedDebate("m1", 20, [1, 2]),
  scriptedDebate("m2", 30, [0, 1]),
  scriptedDebate("m3", 40, [1]),
  scriptedDebate("m4", 50, [2]),
  scriptedDebate("m5", 60, [1], { rounds: 3 }),
  scriptedDebate("m6", 70, [0, 1, 2]),
  scriptedDebate("m7", 80, [1]),
  scriptedDebate("m8", 90, [0]),
  scriptedDebate("m9", 100, [1, 2], { rounds: 3 }),
];

function tuneOn(records: DebateRecord[], seed = 0) {
  return replayDebates({ debates: records, budgets: [5, 12], rules: ["gated-tuned"], countTokens: countWords, seed });
}

describe("gated-tuned is tuned on the training questions only", () => {
  it("keeps its tuned settings when a test question's texts change", async () => {
    const before = await tuneOn(debates);
    expect(before.tuned.map((tuned) => tuned.budget)).toEqual([5, 12]);
    const testId = debates.find((debate) => !before.trainIds.includes(debate.id))?.id;
    // The test question now has every agent wrong, at length.
    const changed = debates.map((debate) =>
      debate.id === testId
        ? { ...debate, agents: debate.agents.map((texts) => texts.map(() => "after a long detour the answer is 7")) }
        : debate,
    );
    const after = await tuneOn(changed);
    expect(after.trainIds).toEqual(before.trainIds);
    expect(after.tuned).toEqual(before.tuned);
    expect(after.reliability).toEqual(before.reliability);
    // ...while the replay of that question did see the change.
    const answerOf = (report: typeof before) =>
      report.replays.find((replay) => replay.budget === 12)?.questions.find((question) => question.id === testId)
        ?.answer;
    expect(answerOf(before)).not.toBe("7");
    expect(answerOf(after)).toBe("7");
  });

  it("is deterministic for a seed", async () => {
    const first = await tuneOn(debates, 7);
    const second = await tuneOn([...debates].reverse(), 7);
    expect(second.tuned).toEqual(first.tuned);
    expect(second.rows).toEqual(first.rows);
    const other = await tuneOn(debates, 8);
    expect(other.tuned.map((tuned) => tuned.aggressiveness)).not.toEqual(
      first.tuned.map((tuned) => tuned.aggressiveness),
    );
  });

  it("keeps the base settings when there is no training question", async () => {
    const report = await replayDebates({
      debates,
      budgets: [5],
      rules: ["gated-tuned"],
      trainFraction: 0,
      countTokens: countWords,
    });
    expect(report.tuned).toEqual([
      {
        budget: 5,
        topK: DEFAULT_GATED_SETTINGS.topK,
        reservePrice: DEFAULT_GATED_SETTINGS.reservePrice,
        aggressiveness: { "agent-1": 1, "agent-2": 1, "agent-3": 1 },
        trainAccuracy: null,
        trainMeanTokens: null,
      },
    ]);
  });
});

describe("tuneGating", () => {
  it("picks the grid point with the best training accuracy, then the fewest tokens", async () => {
    // Every agent right: any speaker answers right, but one speaker a round settles in 2 texts
    // (6 tokens) where top-3 pays 3 (9); a reserve of 5 silences everyone.
    const train = [10, 20, 30].map((gold, index) =>
      prepareDebate(scriptedDebate(`a${index}`, gold, [0, 1, 2]), countWords),
    );
    const tuned = await tuneGating({
      train,
      agents,
      budget: 100,
      base: DEFAULT_GATED_SETTINGS,
      context: uniform,
      tuning: gatedTuningOptionsSchema.parse({ reservePrices: [5, 0], topKs: [3, 1], epochs: 1 }),
    });
    expect(tuned).toMatchObject({ budget: 100, topK: 1, reservePrice: 0, trainAccuracy: 1, trainMeanTokens: 6 });
  });

  it("raises α of the agent whose text is right when reliabilities cannot tell them apart", async () => {
    // Reliabilities all 0.5, one text fits: whoever bids highest answers alone, so α decides.
    const train = [10, 20, 30, 40, 50, 60].map((gold, index) =>
      prepareDebate(scriptedDebate(`r${index}`, gold, [1]), countWords),
    );
    const tuned = await tuneGating({
      train,
      agents,
      budget: 5,
      base: DEFAULT_GATED_SETTINGS,
      context: uniform,
      tuning: gatedTuningOptionsSchema.parse({ epochs: 8, learningRate: 0.3, reservePrices: [0] }),
    });
    const { "agent-1": first = 0, "agent-2": second = 0, "agent-3": third = 0 } = tuned.aggressiveness;
    expect(second).toBeGreaterThan(first);
    expect(second).toBeGreaterThan(third);
    expect(tuned.trainAccuracy).toBe(1);
  });
});
