import { describe, expect, it } from "vitest";
import { indexOutcomes, type OutcomeRecord } from "../../../src/eval/data/outcomes.js";
import { createHashingEmbeddings, promptTail } from "../../../src/eval/routing/embedding.js";
import { createEscalationPolicy, parserForTask } from "../../../src/eval/routing/escalation.js";
import { fitTrainingProfile } from "../../../src/eval/routing/estimator.js";
import { createMemoryAuctionRouter } from "../../../src/eval/routing/memoryAuction.js";
import { type CallResult, routeEscalationOnline, routeMemoryAuctionOnline } from "../../../src/eval/routing/online.js";
import { createOutcomeMemory } from "../../../src/eval/routing/outcome-memory.js";

/**
 * Synthetic pool: "geo" prompts (about rivers and mountains) are answered right by `atlas` only,
 * "code" prompts (about lists and strings) by `coder` only; both cost the same. `pricey` is right
 * everywhere but dear; it is unavailable for `t-geo-2`.
 */
function syntheticRecords(): OutcomeRecord[] {
  const prompts = [
    { id: "train-geo-1", text: "which river flows through the mountain valley", kind: "geo" },
    { id: "train-geo-2", text: "name the highest mountain near the river delta", kind: "geo" },
    { id: "train-geo-3", text: "river mountain lake valley geography", kind: "geo" },
    { id: "train-code-1", text: "write a function to reverse a list of strings", kind: "code" },
    { id: "train-code-2", text: "function that sorts a list and joins strings", kind: "code" },
    { id: "train-code-3", text: "list strings function python sort", kind: "code" },
    { id: "t-geo-1", text: "the mountain river valley of the north", kind: "geo" },
    { id: "t-code-1", text: "a function over a list of strings", kind: "code" },
    { id: "t-geo-2", text: "valley river and mountain names", kind: "geo" },
  ];
  return prompts.flatMap(({ id, text, kind }) => {
    const rows: OutcomeRecord[] = [
      {
        prompt_id: id,
        prompt: text,
        eval_name: "mixed",
        model: "atlas",
        correct: kind === "geo" ? 1 : 0,
        cost_usd: 0.001,
        response: "A",
      },
      {
        prompt_id: id,
        prompt: text,
        eval_name: "mixed",
        model: "coder",
        correct: kind === "code" ? 1 : 0,
        cost_usd: 0.001,
        response: "B",
      },
    ];
    if (id !== "t-geo-2") {
      rows.push({
        prompt_id: id,
        prompt: text,
        eval_name: "mixed",
        model: "pricey",
        correct: 1,
        cost_usd: 0.1,
        response: "A",
      });
    }
    return rows;
  });
}

async function setup() {
  const index = indexOutcomes(syntheticRecords());
  const train = index.promptIds.filter((id) => id.startsWith("train"));
  const test = index.promptIds.filter((id) => id.startsWith("t-"));
  const embeddings = createHashingEmbeddings({ dimensions: 128 });
  const vectorsList = await embeddings.embedDocuments(index.promptIds.map((id) => index.promptInfo(id)?.prompt ?? ""));
  const vectors = new Map(index.promptIds.map((id, position) => [id, vectorsList[position] as number[]]));
  const profile = fitTrainingProfile(index, train);
  const memory = createOutcomeMemory({ dimensions: 128 });
  for (const id of train) {
    const outcomes = new Map([...index.outcomesOf(id)].map(([model, record]) => [model, record.correct] as const));
    memory.add({ promptId: id, evalName: "mixed", outcomes }, vectors.get(id) as number[]);
  }
  const calls: Array<{ promptId: string; model: string }> = [];
  const ask = async (promptId: string, model: string): Promise<CallResult> => {
    calls.push({ promptId, model });
    const cell = index.outcome(promptId, model);
    if (cell === "unavailable") throw new Error(`asked unavailable ${model}`);
    return { model, correct: cell.correct, costUsd: cell.cost_usd, response: cell.response ?? "" };
  };
  return { index, train, test, vectors, profile, memory, ask, calls };
}

describe("memory-bid auction router", () => {
  it("picks the model that was right on similar prompts", async () => {
    const { vectors, profile, memory } = await setup();
    const router = createMemoryAuctionRouter({ memory, profile, lambda: 0.5, k: 3, priorStrength: 1 });
    const geo = router.route({
      vector: vectors.get("t-geo-1") as number[],
      evalName: "mixed",
      available: ["atlas", "coder", "pricey"],
    });
    const code = router.route({
      vector: vectors.get("t-code-1") as number[],
      evalName: "mixed",
      available: ["atlas", "coder", "pricey"],
    });
    expect(geo.model).toBe("atlas");
    expect(code.model).toBe("coder");
    expect(geo.outcome.results.every((bid) => bid.amount >= 0)).toBe(true);
  });

  it("at λ = 0 prefers the model right everywhere, and never picks an unavailable model", async () => {
    const { vectors, profile, memory } = await setup();
    const router = createMemoryAuctionRouter({ memory, profile, lambda: 0, k: 3 });
    expect(
      router.route({
        vector: vectors.get("t-geo-1") as number[],
        evalName: "mixed",
        available: ["atlas", "coder", "pricey"],
      }).model,
    ).toBe("pricey");
    const decision = router.route({
      vector: vectors.get("t-geo-2") as number[],
      evalName: "mixed",
      available: ["atlas", "coder"],
    });
    expect(decision.model).toBe("atlas");
    expect(decision.outcome.results.map((bid) => bid.bidder).sort()).toEqual(["atlas", "coder"]);
  });
});

describe("escalation policy", () => {
  it("charges every call and answers with the last model asked", async () => {
    const policy = createEscalationPolicy({ ladder: ["cheap", "middle", "dear"], threshold: 0.9 });
    const asked: string[] = [];
    const answers: Record<string, string> = { cheap: "A", middle: "B", dear: "B" };
    const result = await policy.run({
      available: ["cheap", "middle", "dear"],
      estimate: () => 0.8,
      ask: async (model) => {
        asked.push(model);
        return answers[model] ?? "";
      },
      parse: parserForTask("arc-challenge"),
      agreementValue: () => 0.95,
    });
    expect(asked).toEqual(["cheap", "middle", "dear"]); // low value, then disagreement
    expect(result.calls.map((call) => call.model)).toEqual(asked);
    expect(result.finalModel).toBe("dear");
    expect(result.stop).toBe("top");
  });

  it("stops when two cheap answers agree and the agreement is trusted", async () => {
    const policy = createEscalationPolicy({ ladder: ["cheap", "middle", "dear"], threshold: 0.9 });
    const result = await policy.run({
      available: ["cheap", "middle", "dear"],
      estimate: () => 0.5,
      ask: async () => "The answer is (C).",
      parse: parserForTask("arc-challenge"),
      agreementValue: () => 0.95,
    });
    expect(result.finalModel).toBe("middle");
    expect(result.stop).toBe("agreed");
    expect(result.calls.map((call) => call.answer)).toEqual(["C", "C"]);
  });

  it("skips unavailable rungs; with no parser it relies on the estimated value", async () => {
    const policy = createEscalationPolicy({ ladder: ["cheap", "middle", "dear"], threshold: 0.7 });
    const result = await policy.run({
      available: ["cheap", "dear"],
      estimate: (model) => (model === "cheap" ? 0.6 : 0.9),
      ask: async () => "def f(): pass",
      parse: parserForTask("mbpp"),
    });
    expect(result.calls.map((call) => call.model)).toEqual(["cheap", "dear"]);
  });
});

describe("online protocol", () => {
  it("learns each routed prompt with the outcome of the called model only", async () => {
    const { index, test, vectors, profile, memory, ask, calls } = await setup();
    const learner = memory.fork();
    const routed = await routeMemoryAuctionOnline(
      {
        index,
        promptIds: test,
        vectors,
        memory: learner,
        profile,
        ask,
        k: 3,
        priorStrength: 1,
        sameTaskNeighbours: true,
        seed: 0,
      },
      0.5,
    );
    expect(routed.map((entry) => entry.promptId)).toEqual(test);
    const learned = learner.ownEntries();
    expect(learned.map((entry) => entry.promptId)).toEqual(test);
    learned.forEach((entry, position) => {
      const call = calls[position];
      expect([...entry.outcomes.keys()]).toEqual([call?.model]);
      expect(entry.outcomes.get(call?.model ?? "")).toBe(
        index.outcome(entry.promptId, call?.model ?? "") === "unavailable"
          ? undefined
          : (index.outcome(entry.promptId, call?.model ?? "") as { correct: number }).correct,
      );
    });
    expect(memory.size).toBe(6); // the warm memory is untouched by its fork
  });

  it("escalation learns the outcomes of every model it called, and charges them all", async () => {
    const { index, test, vectors, profile, memory, ask, calls } = await setup();
    const learner = memory.fork();
    const routed = await routeEscalationOnline(
      {
        index,
        promptIds: test,
        vectors,
        memory: learner,
        profile,
        ask,
        k: 3,
        priorStrength: 1,
        sameTaskNeighbours: true,
        seed: 0,
      },
      { ladder: ["atlas", "pricey"], threshold: 2 },
    );
    const learned = learner.ownEntries();
    for (const [position, entry] of routed.entries()) {
      expect([...(learned[position]?.outcomes.keys() ?? [])].sort()).toEqual(
        entry.calls.map((call) => call.model).sort(),
      );
      expect(entry.final.model).toBe(entry.calls[entry.calls.length - 1]?.model);
    }
    expect(calls.length).toBe(routed.reduce((total, entry) => total + entry.calls.length, 0));
    expect(routed.find((entry) => entry.promptId === "t-geo-2")?.calls.map((call) => call.model)).toEqual(["atlas"]);
  });
});

describe("promptTail", () => {
  it("keeps the last question of a few-shot prompt without the instruction line", () => {
    const prompt =
      'Q one?\nA) x\nB) y\nPrint only a single choice  from "A" or "B" without explanation. Answer:\nA\n\nWhich gas do plants absorb?\nA) O2\nB) CO2\nPrint only a single choice  from "A" or "B" without explanation. Answer:';
    expect(promptTail(prompt)).toBe("Which gas do plants absorb?\nA) O2\nB) CO2");
    expect(promptTail("Write a function to add two numbers.")).toBe("Write a function to add two numbers.");
  });
});
