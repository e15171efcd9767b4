import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GavelConfigError } from "../../src/errors.js";
import {
  DEFAULT_ROUTER_WEIGHTS,
  defaultRouterWeights,
  evaluateWeights,
  fitRouterWeights,
  generateSyntheticTrainingTasks,
  parseTrainingTask,
  type SolverLoader,
  scoreBid,
  type TrainingBid,
  type TrainingTask,
  WeightFitError,
  weightsFromJson,
  weightsToJson,
} from "../../src/router/weights.js";

/** A bid with neutral features; override what the case needs. */
function bid(overrides: Partial<TrainingBid> & { bidder: string }): TrainingBid {
  return {
    price: 1,
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
          bid({ bidder: "cheap", price: 1, executionCost: 1 }),
          bid({ bidder: "dear", price: 10, executionCost: 10 }),
        ],
      },
      // Cheap is wrong and the judge sees it: the jury weight must outweigh the price gap.
      {
        taskId: "hard",
        bids: [
          bid({ bidder: "cheap", price: 1, jury: { judge: 0.1 }, correct: false, executionCost: 1 }),
          bid({ bidder: "dear", price: 10, jury: { judge: 0.9 }, executionCost: 10 }),
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
  it("lower held-out mean regret than the default weights, and no worse worst case", async () => {
    const training = generateSyntheticTrainingTasks({ seed: 3, count: 30, jurors: syntheticJurors });
    const heldOut = generateSyntheticTrainingTasks({ seed: 1003, count: 300, jurors: syntheticJurors });
    const fitted = await fitRouterWeights({ tasks: training, jurors: jurorNames, timeLimitSeconds: 60 });
    expect(fitted.status).not.toBe("fallback");

    const fittedReport = evaluateWeights(fitted.weights, heldOut);
    const defaultReport = evaluateWeights(defaultRouterWeights({ jurors: jurorNames }), heldOut);
    expect(fittedReport.meanRegret).toBeLessThan(defaultReport.meanRegret);
    expect(fittedReport.worstCaseRegret).toBeLessThanOrEqual(defaultReport.worstCaseRegret);
    // The defaults ignore price (cost term ~1e-4 next to V ~1); the fit learns to spend less.
    expect(fittedReport.totalCost).toBeLessThan(defaultReport.totalCost);
    expect(fittedReport.shareToDearest).toBeLessThan(defaultReport.shareToDearest);
  });
});

describe("solver failure: named error, recorded fallback", () => {
  const tasks: TrainingTask[] = [
    { taskId: "t", bids: [bid({ bidder: "a" }), bid({ bidder: "b", price: 2, executionCost: 2 })] },
  ];

  it("falls back to the default weights and records why", async () => {
    const fitted = await fitRouterWeights({ tasks, jurors: ["judge"], loadSolver: scriptedSolver("Infeasible") });
    expect(fitted.status).toBe("fallback");
    expect(fitted.weights).toEqual(defaultRouterWeights({ jurors: ["judge"] }));
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
      (error: unknown) => GavelConfigError.isInstance(error) && error.fields.includes("tasks.0.bids.1.jury.judge"),
    );
  });

  it("rejects unknown options and out-of-range features", async () => {
    const tasks: TrainingTask[] = [{ taskId: "t", bids: [bid({ bidder: "a" })] }];
    await expect(fitRouterWeights({ tasks, jurors: ["judge"], timeLimit: 5 } as never)).rejects.toBeInstanceOf(
      GavelConfigError,
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
        bid({ bidder: "cheap", price: 1, jury: { judge: 0.2 }, correct: false, executionCost: 1 }),
        bid({ bidder: "dear", price: 4, jury: { judge: 0.8 }, executionCost: 4 }),
      ],
    },
    {
      taskId: "two",
      bids: [
        bid({ bidder: "cheap", price: 1, jury: { judge: 0.9 }, executionCost: 1 }),
        bid({ bidder: "dear", price: 4, jury: { judge: 0.8 }, executionCost: 4 }),
      ],
    },
  ];

  it("scores as the router does: C − V", () => {
    const weights = { cost: 0.01, entropy: 2, jury: { judge: 3 } };
    const first = tasks[0]?.bids[0];
    if (first === undefined) throw new Error("fixture");
    expect(scoreBid(weights, first)).toBeCloseTo(0.01 * 100 - 2 * 0.5 - 3 * 0.2, 12);
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
    const report = evaluateWeights({ cost: 0, entropy: 1, jury: {} }, tasks);
    // Entropy is 0.5 everywhere: both tasks tie, the worse bid is charged (wrong cheap; dear at 3/4 excess).
    expect(report.winners).toEqual(["cheap", "dear"]);
    expect(report.worstCaseRegret).toBe(1);
    expect(report.meanRegret).toBeCloseTo((1 + 3 / 4) / 2, 12);
  });

  it("a juror missing from the weights weighs nothing", () => {
    expect(DEFAULT_ROUTER_WEIGHTS.jury).toEqual({});
    const report = evaluateWeights({ ...DEFAULT_ROUTER_WEIGHTS }, tasks);
    expect(report.tasks).toBe(2);
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
    expect(() => weightsFromJson("{not json")).toThrow(GavelConfigError);
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
      expect(GavelConfigError.isInstance(error) && error.fields).toEqual(["weights.cost"]);
    }
  });
});
