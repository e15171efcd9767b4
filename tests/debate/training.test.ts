import { describe, expect, it } from "vitest";
import {
  createAuctionDebate,
  parseAggressiveness,
  serializeAggressiveness,
  type TrainAggressivenessOptions,
  type TrainingEpoch,
  trainAggressiveness,
} from "../../src/debate/index.js";
import { ConfigError } from "../../src/errors.js";
import { GOLD, scriptedAgents } from "./scripted-agents.js";

const BUDGET = 3000;

async function trainScripted(seed: number, overrides: Partial<TrainAggressivenessOptions> = {}) {
  return trainAggressiveness({
    agents: ["solver", "guesser", "drifter"],
    questions: Array.from({ length: 6 }, (_, index) => ({ question: `What is 6 times 7? (#${index})`, gold: GOLD })),
    initial: { solver: 0.5, guesser: 1.2, drifter: 1.2 },
    budget: BUDGET,
    epochs: 6,
    learningRate: 0.15,
    seed,
    runDebate: (aggressiveness, question) =>
      createAuctionDebate({ agents: scriptedAgents().agents, aggressiveness, budget: BUDGET, maxRounds: 3 }).invoke({
        question,
      }),
    ...overrides,
  });
}

describe("trainAggressiveness (REINFORCE on accuracy − λ · tokens/budget)", () => {
  it("learns to bid the skilled agent up relative to the noisy ones, and the reward improves", async () => {
    const { aggressiveness, history } = await trainScripted(3);
    const ratio = (alpha: Record<string, number>) =>
      (alpha.solver ?? 0) / Math.max(1e-9, Math.max(alpha.guesser ?? 0, alpha.drifter ?? 0));
    expect(ratio(aggressiveness)).toBeGreaterThan(ratio({ solver: 0.5, guesser: 1.2, drifter: 1.2 }));
    expect(history.at(-1)?.meanReward).toBeGreaterThan(history[0]?.meanReward ?? 0);
  });

  it("is deterministic for a seed", async () => {
    expect((await trainScripted(5)).aggressiveness).toEqual((await trainScripted(5)).aggressiveness);
  });

  it("awaits an async isCorrect (a benchmark checker), hands runDebate the item asked, reports each epoch", async () => {
    const reported: TrainingEpoch[] = [];
    const asked: Array<{ gold: string; finalAnswer: string | undefined }> = [];
    // Right only on even-numbered questions: the checker's verdict, not string equality, must drive the reward.
    const isCorrect = async (answer: string | undefined, gold: string) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return answer === GOLD && Number(gold.split("#")[1]) % 2 === 0;
    };
    const result = await trainScripted(3, {
      questions: Array.from({ length: 6 }, (_, index) => ({
        question: `What is 6 times 7? (#${index})`,
        gold: `q#${index}`,
      })),
      epochs: 2,
      isCorrect,
      onEpoch: (epoch) => reported.push(epoch),
      runDebate: async (aggressiveness, question, item) => {
        expect(question).toBe(item.question);
        const state = await createAuctionDebate({
          agents: scriptedAgents().agents,
          aggressiveness,
          budget: BUDGET,
        }).invoke({ question });
        asked.push({ gold: item.gold, finalAnswer: state.finalAnswer });
        return state;
      },
    });
    expect(reported).toEqual(result.history);
    expect(reported.map((epoch) => epoch.epoch)).toEqual([0, 1]);
    expect(asked.map((entry) => entry.gold)).toEqual([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5].map((index) => `q#${index}`));
    // Accuracy is the checker's verdict on each debate's final answer.
    result.history.forEach((epoch, index) => {
      const verdicts = asked
        .slice(6 * index, 6 * index + 6)
        .map((entry) => entry.finalAnswer === GOLD && Number(entry.gold.split("#")[1]) % 2 === 0);
      expect(epoch.accuracy).toBeCloseTo(verdicts.filter(Boolean).length / 6);
    });
    expect(result.history.some((epoch) => epoch.accuracy > 0)).toBe(true);
  });

  it("saves and loads α as JSON through pure functions", () => {
    const alpha = { solver: 1.25, guesser: 0.5 };
    expect(parseAggressiveness(serializeAggressiveness(alpha))).toEqual(alpha);
    expect(() => parseAggressiveness("{not json")).toThrow(ConfigError);
    expect(() =>
      parseAggressiveness(
        JSON.stringify({ kind: "gavel.debate.aggressiveness", version: 1, aggressiveness: { a: -1 } }),
      ),
    ).toThrow(/aggressiveness\.a/);
  });
});
