import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import {
  countTextTokens,
  createMemoryBudgetStore,
  createTokenBudget,
  type SharedTokenBudget,
  type TokenBudget,
} from "../../src/budget/index.js";
import {
  COORDINATOR_NAME,
  CoordinationError,
  createBeliefCoordination,
  type ExecutorWeights,
  executorWeightsFromJson,
  executorWeightsToJson,
  fitExecutorWeights,
} from "../../src/coordination/index.js";
import { ConfigError } from "../../src/errors.js";
import { extractFinalNumber } from "../../src/eval/data/checkers.js";
import { ScriptedHashingEmbeddings } from "../memory/scripted-embeddings.js";
import { isLaterRound, promptText, scriptedCoordinator, scriptedExecutor } from "./scripted-team.js";

const QUESTION = "A crate holds six rows of seven bottles. How many bottles?";

function team(options: { weights?: Record<string, number> | ExecutorWeights } = {}) {
  const coordinator = scriptedCoordinator();
  const executors = [
    { name: "strong", model: scriptedExecutor("strong", "42", 0.9) },
    { name: "weak1", model: scriptedExecutor("weak1", "17", 0.6) },
    { name: "weak2", model: scriptedExecutor("weak2", "17", 0.6) },
  ];
  const graph = createBeliefCoordination({
    coordinator,
    executors,
    embeddings: new ScriptedHashingEmbeddings(),
    parseAnswer: extractFinalNumber,
    maxRounds: 4,
    seed: 7,
    ...options,
  });
  return { graph, coordinator, executors };
}

/** Two executors that both say 9, one of which ("down") always fails, for one round on `budget`. */
function teamWithFailingExecutor(budget: SharedTokenBudget) {
  return createBeliefCoordination({
    coordinator: scriptedCoordinator(),
    executors: [
      { name: "up", model: scriptedExecutor("up", "9", 0.8) },
      { name: "down", model: scriptedExecutor("down", "9", 0.8, { fail: true }) },
    ],
    embeddings: new ScriptedHashingEmbeddings(),
    parseAnswer: extractFinalNumber,
    maxRounds: 1,
    budget,
  });
}

describe("createBeliefCoordination with scripted executors", () => {
  it("reaches the answer of the weighted majority, and stops once the commitment is stable", async () => {
    const { graph } = team({ weights: { strong: 0.9, weak1: 0.2, weak2: 0.2 } });
    const result = await graph.invoke({ question: QUESTION });
    expect(result.answer).toBe("42");
    expect(result.stopReason).toBe("stable");
    expect(result.rounds).toHaveLength(2);
    expect(result.rounds[0]?.selection.candidate).toBe("42");
    expect(result.rounds[0]?.refinement.iterations).toBeGreaterThan(0);
    expect(result.rounds[0]?.answers.map((answer) => answer.confidenceSource)).toEqual(["stated", "stated", "stated"]);

    // The same team without learned weights follows the (wrong) head count: the weights matter.
    const unweighted = await team().graph.invoke({ question: QUESTION });
    expect(unweighted.answer).toBe("17");
  });

  it("accepts weights fitted from outcomes on a training split", async () => {
    const weights = fitExecutorWeights([
      ...Array.from({ length: 9 }, () => ({ executor: "strong", correct: true })),
      ...Array.from({ length: 9 }, (_, index) => ({ executor: "weak1", correct: index < 2 })),
      ...Array.from({ length: 9 }, (_, index) => ({ executor: "weak2", correct: index < 2 })),
    ]);
    const reloaded = executorWeightsFromJson(executorWeightsToJson(weights));
    const { graph } = team({ weights: reloaded });
    expect((await graph.invoke({ question: QUESTION })).answer).toBe("42");
  });

  it("never shows an executor another executor's answer, nor the coordinator any full answer", async () => {
    const { graph, coordinator, executors } = team({ weights: { strong: 0.9, weak1: 0.2, weak2: 0.2 } });
    await graph.invoke({ question: QUESTION });
    const names = executors.map((executor) => executor.name);
    for (const { name, model } of executors) {
      expect(model.calls.length).toBe(2);
      for (const call of model.calls) {
        const text = promptText(call);
        for (const other of names) expect(text).not.toContain(`[notes of ${other}]`);
        expect(text).toContain("Break the problem into steps");
      }
      const [first, second] = model.calls;
      if (first === undefined || second === undefined) throw new Error(`${name} was not called twice`);
      expect(isLaterRound(first)).toBe(false);
      expect(isLaterRound(second)).toBe(true);
      expect(promptText(second)).toContain("Answer: 42"); // the previous commitment
    }
    for (const call of coordinator.calls) {
      for (const other of names) expect(promptText(call)).not.toContain(`[notes of ${other}]`);
    }
  });

  it("caps the strategy at 50 tokens and strips a stated answer from it", async () => {
    const rambling = `${"Consider every row and every column with care. ".repeat(20)}`;
    const coordinator = scriptedCoordinator({ strategy: `Multiply rows by columns. The answer is 42. ${rambling}` });
    const executor = scriptedExecutor("solo", "42", 0.8);
    const graph = createBeliefCoordination({
      coordinator,
      executors: [{ name: "solo", model: executor }],
      embeddings: new ScriptedHashingEmbeddings(),
      parseAnswer: extractFinalNumber,
      maxRounds: 1,
    });
    const result = await graph.invoke({ question: QUESTION });
    expect(coordinator.calls.every((call) => call.maxTokens === 50)).toBe(true);
    expect(countTextTokens(result.strategy)).toBeLessThanOrEqual(50);
    expect(result.strategyLeaked).toBe(true);
    expect(result.strategy).toContain("Multiply rows by columns.");
    expect(result.strategy).not.toContain("42");
    expect(executor.calls.map(promptText).join("\n")).not.toContain("answer is 42");
    expect(countTextTokens(result.commitment ?? "")).toBeLessThanOrEqual(50);
    expect(result.stopReason).toBe("max-rounds");
  });

  it("runs to maxRounds when the commitment keeps changing", async () => {
    const flip = (round: number) => (round % 2 === 1 ? "10" : "11");
    const graph = createBeliefCoordination({
      coordinator: scriptedCoordinator(),
      executors: [
        { name: "a", model: scriptedExecutor("a", flip, 0.7) },
        { name: "b", model: scriptedExecutor("b", flip, 0.7) },
      ],
      embeddings: new ScriptedHashingEmbeddings(),
      parseAnswer: extractFinalNumber,
      maxRounds: 3,
    });
    const result = await graph.invoke({ question: QUESTION });
    expect(result.rounds.map((round) => round.commitmentAnswer)).toEqual(["10", "11", "10"]);
    expect(result.stopReason).toBe("max-rounds");
    expect(result.answer).toBe("10");
  });

  it("falls back to the belief candidate when the commitment does not parse", async () => {
    const graph = createBeliefCoordination({
      coordinator: scriptedCoordinator({ commit: () => "We are undecided." }),
      executors: [{ name: "a", model: scriptedExecutor("a", "5", 0.7) }],
      embeddings: new ScriptedHashingEmbeddings(),
      parseAnswer: extractFinalNumber,
      maxRounds: 2,
    });
    const result = await graph.invoke({ question: "How many?" });
    expect(result.rounds[0]?.commitmentSource).toBe("candidate");
    expect(result.answer).toBe("5");
    expect(result.stopReason).toBe("stable");
  });

  it("keeps going when one executor fails, and fails loudly when all do", async () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 100_000 } } });
    const graph = teamWithFailingExecutor(budget);
    const result = await graph.invoke({ question: "How many?" });
    expect(result.answer).toBe("9");
    expect(result.rounds[0]?.answers[1]?.error).toContain("down is down");
    expect(budget.outstanding).toBe(0);
    expect(result.usage.down).toBeUndefined();

    const broken = createBeliefCoordination({
      coordinator: scriptedCoordinator(),
      executors: [{ name: "down", model: scriptedExecutor("down", "9", 0.8, { fail: true }) }],
      embeddings: new ScriptedHashingEmbeddings(),
      parseAnswer: extractFinalNumber,
    });
    await expect(broken.invoke({ question: "How many?" })).rejects.toSatisfy(
      (error) => CoordinationError.isInstance(error) && error.reason === "all-executors-failed",
    );
  });
});

describe("token accounting and budgets", () => {
  it("records real usage per agent and never exceeds the budget", async () => {
    for (const limit of [40, 300, 700, 1_000, 1_500, 5_000]) {
      const violations: string[] = [];
      const budget: TokenBudget = createTokenBudget({
        limits: { run: { maxTokens: limit } },
        onEvent: (event) => {
          // Checked before every change: what is held plus what a reserve adds stays within the limit.
          const account = budget.snapshot().find((snapshot) => snapshot.scope === "run");
          const held = (account?.spentTokens ?? 0) + (account?.reservedTokens ?? 0);
          const adding = event.type === "reserve" ? event.reservation.tokens : 0;
          if (held + adding > limit) violations.push(`${event.type}: ${held} + ${adding} > ${limit}`);
        },
      });
      const bounded = createBeliefCoordination({
        coordinator: scriptedCoordinator(),
        executors: [
          { name: "strong", model: scriptedExecutor("strong", "42", 0.9) },
          { name: "weak1", model: scriptedExecutor("weak1", "17", 0.6) },
        ],
        embeddings: new ScriptedHashingEmbeddings(),
        parseAnswer: extractFinalNumber,
        executorMaxTokens: 64,
        maxRounds: 4,
        budget,
        budgetScopes: { run: `run-${limit}` },
      });
      const result = await bounded.invoke({ question: QUESTION });
      const account = budget.snapshot().find((snapshot) => snapshot.scope === "run");
      expect(violations).toEqual([]);
      expect(account?.reservedTokens ?? 0).toBe(0);
      expect(account?.spentTokens ?? 0).toBeLessThanOrEqual(limit);
      const counted = Object.values(result.usage).reduce(
        (sum, usage) => sum + usage.inputTokens + usage.outputTokens,
        0,
      );
      expect(counted).toBe(account?.spentTokens ?? 0);
      if (limit === 40) {
        expect(result.stopReason).toBe("budget");
        expect(result.answer).toBeUndefined();
        expect(result.usage).toEqual({});
      }
      if (limit === 5_000) expect(result.stopReason).toBe("stable");
      if (result.stopReason === "budget") expect(result.stopDetail).toContain("Budget exhausted");
      if (limit === 700) {
        // Room for the strategy and one round, not for a second round: the round-1 commitment stands.
        expect(result).toMatchObject({ stopReason: "budget", answer: "42" });
        expect(result.rounds).toHaveLength(1);
      }
    }
  });

  it("reports usage per agent from the providers' usage_metadata", async () => {
    const { graph, coordinator, executors } = team({ weights: { strong: 0.9, weak1: 0.2, weak2: 0.2 } });
    const result = await graph.invoke({ question: QUESTION });
    expect(Object.keys(result.usage).sort()).toEqual([COORDINATOR_NAME, "strong", "weak1", "weak2"]);
    expect(result.usage[COORDINATOR_NAME]).toMatchObject({ calls: coordinator.calls.length, estimated: false });
    expect(result.usage.strong).toMatchObject({ calls: executors[0]?.model.calls.length, model: "gpt-4o-mini" });
    expect(result.usage.strong?.outputTokens).toBeGreaterThan(0);
  });

  it("takes budget scopes from the input state", async () => {
    const budget = createTokenBudget({ limits: { example: { maxTokens: 60 } } });
    const graph = createBeliefCoordination({
      coordinator: scriptedCoordinator(),
      executors: [{ name: "a", model: scriptedExecutor("a", "1", 0.5) }],
      embeddings: new ScriptedHashingEmbeddings(),
      parseAnswer: extractFinalNumber,
      budget,
    });
    const scoped = await graph.invoke({ question: QUESTION, budgetScopes: { example: "q-1" } });
    expect(scoped.stopReason).toBe("budget");
  });

  it("keeps a store-backed budget shared with other processes: every call settled there, nothing held", async () => {
    const store = createMemoryBudgetStore();
    const budget = createTokenBudget({ limits: { global: { maxTokens: 100_000 } }, store });
    const graph = teamWithFailingExecutor(budget);
    const result = await graph.invoke({ question: "How many?" });
    expect(result.answer).toBe("9");
    const spent = Object.values(result.usage).reduce((sum, agent) => sum + agent.inputTokens + agent.outputTokens, 0);
    expect(spent).toBeGreaterThan(0);
    expect((await store.snapshot())[0]).toMatchObject({ spentTokens: spent, reservedTokens: 0 });
    expect(budget.outstanding).toBe(0);
  });
});

describe("as a subgraph", () => {
  it("runs as a node of a parent graph sharing question and answer", async () => {
    const { graph } = team({ weights: { strong: 0.9, weak1: 0.2, weak2: 0.2 } });
    const Parent = Annotation.Root({
      question: Annotation<string>,
      answer: Annotation<string | undefined>,
      report: Annotation<string>,
    });
    const parent = new StateGraph(Parent)
      .addNode("coordinate", graph)
      .addNode("write_report", (state) => ({ report: `final: ${state.answer}` }))
      .addEdge(START, "coordinate")
      .addEdge("coordinate", "write_report")
      .addEdge("write_report", END)
      .compile();
    const result = await parent.invoke({ question: QUESTION });
    expect(result.answer).toBe("42");
    expect(result.report).toBe("final: 42");
  });
});

describe("options", () => {
  it("rejects bad options naming the field", () => {
    const base = {
      coordinator: scriptedCoordinator(),
      embeddings: new ScriptedHashingEmbeddings(),
      parseAnswer: extractFinalNumber,
    };
    const fieldsOf = (options: unknown) => {
      try {
        createBeliefCoordination(options as never);
      } catch (error) {
        if (ConfigError.isInstance(error)) return error.fields;
        throw error;
      }
      return [];
    };
    const one = { name: "a", model: scriptedExecutor("a", "1", 0.5) };
    expect(fieldsOf({ ...base, executors: [one, one] })).toContain("executors.1.name");
    expect(fieldsOf({ ...base, executors: [{ ...one, name: "coordinator" }] })).toContain("executors.0.name");
    expect(fieldsOf({ ...base, executors: [one], weights: { b: 1 } })).toContain("weights.a");
    expect(fieldsOf({ ...base, executors: [one], coordinatorMaxTokens: 60 })).toContain("coordinatorMaxTokens");
    expect(fieldsOf({ ...base, executors: [one], maxRound: 2 })).toEqual([""]);
    expect(fieldsOf({ ...base, executors: [] })).toContain("executors");
  });
});
