import { describe, expect, it } from "vitest";
import {
  createAuctionDebate,
  parseAggressiveness,
  serializeAggressiveness,
  trainAggressiveness,
} from "../../src/debate/index.js";
import { GavelConfigError } from "../../src/errors.js";
import { GOLD, scriptedAgents } from "./scripted-agents.js";

const BUDGET = 3000;

async function trainScripted(seed: number) {
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

  it("saves and loads α as JSON through pure functions", () => {
    const alpha = { solver: 1.25, guesser: 0.5 };
    expect(parseAggressiveness(serializeAggressiveness(alpha))).toEqual(alpha);
    expect(() => parseAggressiveness("{not json")).toThrow(GavelConfigError);
    expect(() =>
      parseAggressiveness(
        JSON.stringify({ kind: "gavel.debate.aggressiveness", version: 1, aggressiveness: { a: -1 } }),
      ),
    ).toThrow(/aggressiveness\.a/);
  });
});
