import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import {
  AuctionRouter,
  DEFAULT_WEIGHTS,
  defaultRouterWeights,
  evaluateWeights,
  fitRouterWeights,
  generateSyntheticTrainingTasks,
  parseTrainingTask,
  type RouterMetadata,
  type RouterWeights,
  type SolverLoader,
  scoreBid,
  type TrainingBid,
  type TrainingTask,
  WeightFitError,
  weightsFromJson,
  weightsToJson,
} from "../../src/router/index.js";
import { scriptedMember } from "./scripted-pool.js";

/** USD per output token at `perMillion` dollars per million output tokens. */
const usdPerToken = (perMillion: number) => perMillion / 1_000_000;

/** A bid with neutral features ($1 per million output tokens); override what the case needs. */
function bid(overrides: Partial<TrainingBid> & { bidder: string }): TrainingBid {
  return {
    price: usdPerToken(1),
    planTokens: 100,
    entropy: 0.5,
    jury: { judge: 0.5 },
    correct: true,
    executionCost: 1,
    ...overrides,
  };
}

/** A solver stand-in that answers every model with a fixed status and no columns. */
function scriptedSolver(status: string): SolverLoader {
  return async () => ({
    solve: () => ({ Status: status, ObjectiveValue: 0, Columns: {}, Rows: [] }) as never,
  });
}

const syntheticJurors = { small: 0.35, large: 0.15 };
const jurorNames = Object.keys(syntheticJurors);

describe("fitRouterWeights: exact on small instances", () => {
  it("finds weights with zero regret when the data allow them (needs both cost and jury weight)", async () => {
    const tasks: TrainingTask[] = [
      // Both correct, same jury: only a positive cost weight sends it to the cheap bid.
      {
        taskId: "easy",
        bids: [
          bid({ bidder: "cheap", price: usdPerToken(1), executionCost: 1 }),
          bid({ bidder: "dear", price: usdPerToken(10), executionCost: 10 }),
        ],
      },
      // Cheap is wrong and the judge sees it: the jury weight must outweigh the price gap.
      {
        taskId: "hard",
        bids: [
          bid({ bidder: "cheap", price: usdPerToken(1), jury: { judge: 0.1 }, correct: false, executionCost: 1 }),
          bid({ bidder: "dear", price: usdPerToken(10), jury: { judge: 0.9 }, executionCost: 10 }),
        ],
      },
    ];
    const fitted = await fitRouterWeights({ tasks, jurors: ["judge"] });
    expect(fitted.status).toBe("optimal");
    expect(fitted.objective).toBeCloseTo(0, 6);
    expect(fitted.weights.cost).toBeGreaterThan(0);
    expect(fitted.weights.jury.judge).toBeGreaterThan(0);
    const report = evaluateWeights(fitted.weights, tasks);
    expect(report.winners).toEqual(["cheap", "dear"]);
    expect(report.worstCaseRegret).toBe(0);
    expect(fitted.training.worstCaseRegret).toBe(0);
  });

  it("reaches the known min-max value when two tasks contradict each other", async () => {
    // Same features, opposite outcomes, equal costs: every w picks the same bidder on both tasks,
    // so one task is always wrong (regret = penalty 1). Worst case 1, mean 1/2.
    const features = { x: { entropy: 0.8, jury: { judge: 0.3 } }, y: { entropy: 0.2, jury: { judge: 0.6 } } };
    const tasks: TrainingTask[] = [
      { taskId: "a", bids: [bid({ bidder: "x", ...features.x }), bid({ bidder: "y", ...features.y, correct: false })] },
      { taskId: "b", bids: [bid({ bidder: "x", ...features.x, correct: false }), bid({ bidder: "y", ...features.y })] },
    ];
    const pureMinMax = await fitRouterWeights({ tasks, jurors: ["judge"], meanRegretWeight: 0 });
    expect(pureMinMax.objective).toBeCloseTo(1, 6);
    const withMean = await fitRouterWeights({ tasks, jurors: ["judge"], meanRegretWeight: 1 });
    expect(withMean.objective).toBeCloseTo(1.5, 6);
    expect(withMean.training).toEqual({ worstCaseRegret: 1, meanRegret: 0.5 });
  });

  it("returns weights on the simplex once the cost scale is undone", async () => {
    const tasks = generateSyntheticTrainingTasks({ seed: 11, count: 12, jurors: syntheticJurors });
    const fitted = await fitRouterWeights({ tasks, jurors: jurorNames });
    const { cost, entropy, jury } = fitted.weights;
    const total = cost * fitted.costScale + entropy + Object.values(jury).reduce((sum, value) => sum + value, 0);
    expect(total).toBeCloseTo(1, 6);
    for (const value of [cost, entropy, ...Object.values(jury)]) expect(value).toBeGreaterThanOrEqual(0);
    expect(fitted.trainedOn).toBe(12);
    expect(fitted.formulation).toBe("minmax-regret-milp");
  });
});

describe("fitted weights beat the defaults on held-out data (synthetic, seeded)", () => {
  it("lower held-out mean regret than the router's DEFAULT_WEIGHTS, and no worse worst case", async () => {
    // Prices are USD per output token ($0.10–$10 per million), so DEFAULT_WEIGHTS weigh cost
    // here exactly as they do in a router over a pool at those prices.
    const training = generateSyntheticTrainingTasks({ seed: 3, count: 30, jurors: syntheticJurors });
    const heldOut = generateSyntheticTrainingTasks({ seed: 1003, count: 300, jurors: syntheticJurors });
    expect(Math.max(...heldOut.flatMap((task) => task.bids.map((bid) => bid.price)))).toBe(usdPerToken(10));
    const fitted = await fitRouterWeights({ tasks: training, jurors: jurorNames, timeLimitSeconds: 60 });
    expect(fitted.status).not.toBe("fallback");

    const fittedReport = evaluateWeights(fitted.weights, heldOut);
    // What a user gets without fitting: DEFAULT_WEIGHTS, each juror at 1 / jury size.
    const defaultReport = evaluateWeights(DEFAULT_WEIGHTS, heldOut);
    expect(evaluateWeights(defaultRouterWeights({ jurors: jurorNames }), heldOut)).toEqual(defaultReport);
    expect(fittedReport.meanRegret).toBeLessThan(defaultReport.meanRegret);
    expect(fittedReport.worstCaseRegret).toBeLessThanOrEqual(defaultReport.worstCaseRegret);
    // At these prices the default cost weight (100) is too small to stop escalation: a 90-token
    // plan at $10 per million costs C ≈ 0.09, under half a Likert point. The fit spends less.
    expect(fittedReport.totalCost).toBeLessThan(defaultReport.totalCost);
    expect(fittedReport.shareToDearest).toBeLessThan(defaultReport.shareToDearest);
  });
});

describe("fitted weights mean what the router computes", () => {
  /** A router auction's bids as a training task (every bid marked correct: only the choice is compared). */
  function taskOf(auction: RouterMetadata["auction"]): TrainingTask {
    return {
      taskId: "from-router",
      jurors: auction.jurors,
      bids: auction.bids.map((routerBid) => ({
        bidder: routerBid.bidder,
        price: routerBid.pricePerOutputToken,
        planTokens: routerBid.planTokens,
        entropy: routerBid.entropy,
        jury: Object.fromEntries(Object.entries(routerBid.jury).map(([juror, score]) => [juror, score / 5])),
        correct: true,
        executionCost: routerBid.pricePerOutputToken,
      })),
    };
  }

  it("evaluateWeights picks the AuctionRouter's winner, whatever the weights", async () => {
    // Three members: the dearest writes the plan the jurors like; "mute" is a juror whose replies
    // never parse, so every bid misses its score and the router imputes it.
    const likes = (plan: string) => (plan.includes("verify") ? 5 : plan.includes("check") ? 3 : 1);
    const pool = [
      { name: "nano", price: { inputPerMillion: 0.05, outputPerMillion: 0.4 }, plan: "Answer." },
      { name: "mini", price: { inputPerMillion: 0.4, outputPerMillion: 1.6 }, plan: "Compute, then check." },
      { name: "big", price: { inputPerMillion: 2, outputPerMillion: 8 }, plan: "Decompose, compute, verify, answer." },
      { name: "mute", price: { inputPerMillion: 2, outputPerMillion: 8 }, plan: "Decompose and verify each step." },
    ].map(({ name, price, plan }) => ({
      name,
      price,
      model: scriptedMember(name, name === "mute" ? { plan, juryReply: "no scores" } : { plan, score: likes }),
    }));
    const candidates: RouterWeights[] = [
      DEFAULT_WEIGHTS,
      { cost: 1_000_000, entropy: 0, jury: { nano: 0, mini: 0, big: 0, mute: 0 } },
      { cost: 20_000, entropy: 0.1, jury: { nano: 0.3, mini: 0.3, big: 0.3, mute: 0.3 } },
      { cost: 0, entropy: 0.05, jury: { nano: 0.1, mini: 0.2, big: 0.6, mute: 0.1 } },
    ];
    const winners = new Set<string>();
    for (const weights of candidates) {
      const router = new AuctionRouter({ pool, weights, jury: ["nano", "mini", "big", "mute"] });
      const { auction } = (await router.invoke("What is 17 * 23?")).response_metadata.gavel as RouterMetadata;
      expect(auction.bids.every((routerBid) => routerBid.jury.mute === undefined)).toBe(true);
      const task = taskOf(auction);
      expect(evaluateWeights(weights, [task]).winners).toEqual([auction.winner]);
      for (const [index, routerBid] of auction.bids.entries()) {
        const trainingBid = task.bids[index] as TrainingBid;
        const rescored = scoreBid(weights, {
          pricePerOutputToken: trainingBid.price,
          planTokens: trainingBid.planTokens,
          entropy: trainingBid.entropy,
          scores: Object.fromEntries(Object.entries(trainingBid.jury).map(([juror, score]) => [juror, score * 5])),
          jurors: task.jurors ?? [],
        });
        expect(rescored.score).toBeCloseTo(routerBid.score, 12);
      }
      winners.add(auction.winner);
    }
    // The weights matter: cost-only picks the cheapest, jury-heavy the dearest.
    expect(winners.size).toBeGreaterThan(1);
  });

  it("lists every juror of the data explicitly, 0 for one that was not fitted", async () => {
    const tasks = generateSyntheticTrainingTasks({ seed: 11, count: 10, jurors: syntheticJurors });
    const subset = await fitRouterWeights({ tasks, jurors: ["large"] });
    expect(Object.keys(subset.weights.jury).sort()).toEqual(["large", "small"]);
    expect(subset.weights.jury.small).toBe(0);
    expect(subset.jurors).toEqual(["large"]);
    const all = await fitRouterWeights({ tasks });
    expect(all.jurors).toEqual(jurorNames);
    expect(Object.keys(all.weights.jury).sort()).toEqual([...jurorNames].sort());
  });
});

describe("solver failure: named error, recorded fallback", () => {
  const tasks: TrainingTask[] = [
    { taskId: "t", bids: [bid({ bidder: "a" }), bid({ bidder: "b", price: usdPerToken(2), executionCost: 2 })] },
  ];

  it("falls back to the router's DEFAULT_WEIGHTS and records why", async () => {
    const fitted = await fitRouterWeights({ tasks, jurors: ["judge"], loadSolver: scriptedSolver("Infeasible") });
    expect(fitted.status).toBe("fallback");
    expect(fitted.weights).toEqual({ cost: 100, entropy: 0.1, jury: {} });
    expect(fitted.weights).toEqual(DEFAULT_WEIGHTS);
    expect(fitted.objective).toBeNull();
    expect(fitted.solverStatus).toBe("Infeasible");
    expect(fitted.fallbackReason).toMatch(/WeightFitError|failed/);
    expect(fitted.fallbackReason).toContain("Infeasible");
  });

  it("treats a time limit without any solution as a failure", async () => {
    const fitted = await fitRouterWeights({
      tasks,
      jurors: ["judge"],
      loadSolver: scriptedSolver("Time limit reached"),
    });
    expect(fitted.status).toBe("fallback");
    expect(fitted.fallbackReason).toContain("before any feasible solution");
  });

  it("records a solver that cannot be loaded", async () => {
    const loadSolver: SolverLoader = async () => {
      throw new Error("wasm missing");
    };
    const fitted = await fitRouterWeights({ tasks, jurors: ["judge"], loadSolver });
    expect(fitted.status).toBe("fallback");
    expect(fitted.solverStatus).toBe("load error");
  });

  it("throws WeightFitError with its fields when asked to", async () => {
    const failing = fitRouterWeights({
      tasks,
      jurors: ["judge"],
      loadSolver: scriptedSolver("Infeasible"),
      onFailure: "throw",
    });
    await expect(failing).rejects.toSatisfy(
      (error: unknown) => WeightFitError.isInstance(error) && error.solverStatus === "Infeasible" && error.tasks === 1,
    );
  });
});

describe("validation", () => {
  it("names a bid that lacks a juror's score", async () => {
    const tasks: TrainingTask[] = [{ taskId: "t", bids: [bid({ bidder: "a" }), bid({ bidder: "b", jury: {} })] }];
    const failing = fitRouterWeights({ tasks, jurors: ["judge"] });
    await expect(failing).rejects.toSatisfy(
      (error: unknown) => ConfigError.isInstance(error) && error.fields.includes("tasks.0.bids.1.jury.judge"),
    );
  });

  it("rejects unknown options and out-of-range features", async () => {
    const tasks: TrainingTask[] = [{ taskId: "t", bids: [bid({ bidder: "a" })] }];
    await expect(fitRouterWeights({ tasks, jurors: ["judge"], timeLimit: 5 } as never)).rejects.toBeInstanceOf(
      ConfigError,
    );
    expect(() => parseTrainingTask({ taskId: "t", bids: [bid({ bidder: "a", entropy: 1.5 })] })).toThrow(
      /bids\.0\.entropy/,
    );
  });

  it("parses a JSONL line of the training export", () => {
    const line =
      '{"taskId":"gsm8k-17","bids":[{"bidder":"small","price":5e-7,"planTokens":74,"entropy":0.61,' +
      '"jury":{"small":0.8,"large":0.6},"correct":true,"executionCost":0.00021}]}';
    expect(parseTrainingTask(JSON.parse(line)).bids[0]?.jury.large).toBe(0.6);
  });
});

describe("evaluateWeights", () => {
  const tasks: TrainingTask[] = [
    {
      taskId: "one",
      bids: [
        bid({ bidder: "cheap", price: usdPerToken(1), jury: { judge: 0.2 }, correct: false, executionCost: 1 }),
        bid({ bidder: "dear", price: usdPerToken(4), jury: { judge: 0.8 }, executionCost: 4 }),
      ],
    },
    {
      taskId: "two",
      bids: [
        bid({ bidder: "cheap", price: usdPerToken(1), jury: { judge: 0.9 }, executionCost: 1 }),
        bid({ bidder: "dear", price: usdPerToken(4), jury: { judge: 0.8 }, executionCost: 4 }),
      ],
    },
  ];

  it("picks the argmax of the router's V − C, cost in USD per output token", () => {
    // cheap: V − C = 3 · 0.2 − 1000 · 1e-6 · 100 = 0.5; dear: 3 · 0.8 − 1000 · 4e-6 · 100 = 2.0.
    expect(evaluateWeights({ cost: 1000, entropy: 0, jury: { judge: 3 } }, tasks).winners).toEqual(["dear", "cheap"]);
    // A cost weight of 1e7 makes the 3e-4 USD price gap (3000) outweigh any jury difference.
    expect(evaluateWeights({ cost: 1e7, entropy: 0, jury: { judge: 3 } }, tasks).winners).toEqual(["cheap", "cheap"]);
  });

  it("measures accuracy, cost, share to the dearest and regret", () => {
    const report = evaluateWeights({ cost: 0, entropy: 0, jury: { judge: 1 } }, tasks);
    expect(report.winners).toEqual(["dear", "cheap"]);
    expect(report.accuracy).toBe(1);
    expect(report.totalCost).toBe(5);
    expect(report.oracleCost).toBe(5);
    expect(report.shareToDearest).toBe(0.5);
    expect(report.meanRegret).toBe(0);
  });

  it("charges exact ties to the worse bid", () => {
    const report = evaluateWeights({ cost: 0, entropy: 1, jury: { judge: 0 } }, tasks);
    // The judge is weighed 0 and entropy is 0.5 everywhere: both tasks tie, the worse bid is charged (wrong cheap; dear at 3/4 excess).
    expect(report.winners).toEqual(["cheap", "dear"]);
    expect(report.worstCaseRegret).toBe(1);
    expect(report.meanRegret).toBeCloseTo((1 + 3 / 4) / 2, 12);
  });

  it("a juror missing from the weights gets 1 / jury size, as in the router", () => {
    const twoJurors: TrainingTask[] = [
      {
        taskId: "pair",
        bids: [
          bid({ bidder: "cheap", jury: { judge: 0.2, critic: 0.2 }, correct: false }),
          bid({ bidder: "dear", price: usdPerToken(4), jury: { judge: 0.8, critic: 0.8 }, executionCost: 4 }),
        ],
      },
    ];
    // With a juror missing counted as 0, cost 1000 would make cheap win (0 − 0.1 > 0 − 0.4);
    // with 1/2 each the jury term (0.2 vs 0.8) decides for dear.
    expect(evaluateWeights({ cost: 1000, entropy: 0, jury: {} }, twoJurors).winners).toEqual(["dear"]);
    expect(evaluateWeights({ cost: 1000, entropy: 0, jury: { judge: 0.5, critic: 0.5 } }, twoJurors)).toEqual(
      evaluateWeights({ cost: 1000, entropy: 0, jury: {} }, twoJurors),
    );
    expect(defaultRouterWeights({ jurors: ["judge", "critic"] })).toEqual({
      cost: DEFAULT_WEIGHTS.cost,
      entropy: DEFAULT_WEIGHTS.entropy,
      jury: { judge: 0.5, critic: 0.5 },
    });
  });

  it("imputes a juror's missing score as the router does, over the task's declared jury", () => {
    const task: TrainingTask = {
      taskId: "imputed",
      jurors: ["judge", "critic"],
      bids: [
        bid({ bidder: "cheap", jury: { judge: 0.4 } }),
        bid({ bidder: "dear", price: usdPerToken(4), jury: { judge: 0.6, critic: 0.2 }, executionCost: 4 }),
      ],
    };
    // cheap: critic missing, imputed 0.4 → jury term 0.4; dear: 0.4. Cost decides: cheap.
    expect(evaluateWeights({ cost: 1, entropy: 0, jury: {} }, [task]).winners).toEqual(["cheap"]);
    expect(() => parseTrainingTask({ ...task, jurors: ["judge"] })).toThrow(/bids\.1\.jury\.critic/);
  });
});

describe("JSON round trip", () => {
  it("saves, reloads and validates the weights file", async () => {
    const tasks = generateSyntheticTrainingTasks({ seed: 5, count: 8, jurors: syntheticJurors });
    const fitted = await fitRouterWeights({ tasks, jurors: jurorNames });
    const folder = mkdtempSync(join(tmpdir(), "gavel-weights-"));
    try {
      const path = join(folder, "router-weights.json");
      writeFileSync(path, weightsToJson(fitted));
      expect(weightsFromJson(readFileSync(path, "utf8"))).toEqual(fitted);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("rejects text that is not JSON, and a tampered file by field", () => {
    expect(() => weightsFromJson("{not json")).toThrow(ConfigError);
    const good = weightsToJson({
      weights: defaultRouterWeights({ jurors: ["judge"] }),
      objective: null,
      status: "fallback",
      formulation: "minmax-regret-milp",
      trainedOn: 0,
      jurors: ["judge"],
      costScale: 0,
      solverStatus: "Infeasible",
      training: { worstCaseRegret: 0, meanRegret: 0 },
      fallbackReason: "test",
    });
    const tampered = good.replace('"cost": 1', '"cost": -1');
    expect(tampered).not.toBe(good);
    try {
      weightsFromJson(tampered);
      expect.unreachable();
    } catch (error) {
      expect(ConfigError.isInstance(error) && error.fields).toEqual(["weights.cost"]);
    }
  });
});
