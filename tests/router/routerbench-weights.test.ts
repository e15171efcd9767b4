/**
 * The RouterBench → TrainingTask converter on real lines of the shipped outcomes, the jury proxy,
 * missing cells, and the split (the main job's, read from configs/default.yaml).
 */
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { countTextTokens } from "../../src/budget/tokens.js";
import { lexicalEntropy } from "../../src/entropy.js";
import { loadOutcomeIndex, type OutcomeIndex } from "../../src/eval/data/outcomes.js";
import { loadExperimentConfig } from "../../src/eval/experiment/config.js";
import { splitPromptIds } from "../../src/eval/report/metrics.js";
import {
  answerAgreement,
  choiceAnswer,
  compareWeightsOnRouterBench,
  mainJobSplit,
  planProxy,
  ROUTERBENCH_CHEAP_JURORS,
  routerBenchTrainingTasks,
  stratifiedSample,
} from "../../src/eval/routing/routerbench-weights.js";
import { parseTrainingTask } from "../../src/router/weights.js";

const MIXTRAL = "mistralai/mixtral-8x7b-chat";
const YI = "zero-one-ai/Yi-34B-Chat";
const CODE_LLAMA = "meta/code-llama-instruct-34b-chat";
const GPT35 = "gpt-3.5-turbo-1106";

let index: OutcomeIndex;
beforeAll(async () => {
  index = await loadOutcomeIndex();
});

describe("answers and agreement", () => {
  it("reads choice letters and refuses what is not a choice", () => {
    expect(choiceAnswer("arc-challenge", "C\n")).toBe("C");
    expect(choiceAnswer("arc-challenge", " (D) because")).toBe("D");
    expect(choiceAnswer("winogrande", "A)")).toBe("A");
    expect(choiceAnswer("winogrande", "C")).toBeUndefined(); // Winogrande has two options
    expect(choiceAnswer("arc-challenge", "I don't know")).toBeUndefined();
    expect(choiceAnswer("mbpp", "A")).toBeUndefined();
  });

  it("multiple choice: 1 for the same letter, 0 otherwise, and two refusals do not agree", () => {
    expect(answerAgreement("arc-challenge", "B\n", "B)")).toBe(1);
    expect(answerAgreement("arc-challenge", "B", "C")).toBe(0);
    expect(answerAgreement("arc-challenge", "I do not know", "I do not know")).toBe(0);
  });

  it("free form: identical normalised code scores 1, unrelated code little, always on the Likert grid", () => {
    const fenced = "Here you go:\n```python\ndef add(a, b):\n    # sum\n    return a + b\n```\nDone.";
    expect(answerAgreement("mbpp", fenced, "def add(a, b):\n  return a + b")).toBe(1);
    const other = answerAgreement("mbpp", fenced, "```python\nimport re\nclass Parser:\n    pass\n```");
    expect(other).toBeLessThanOrEqual(0.2);
    for (const value of [other, answerAgreement("mbpp", fenced, "def add(x, y): return sum([x, y])")])
      expect(Math.round(value * 5)).toBeCloseTo(value * 5, 10);
  });

  it("cuts a plan to its first 128 tokens by the project's tokenizer", () => {
    const long = `  ${"def step(value):\n    return value * 2 + 1\n".repeat(40)}`;
    const plan = planProxy(long, "claude-v2");
    expect(plan.tokens).toBeLessThanOrEqual(128);
    expect(plan.tokens).toBeGreaterThan(120);
    expect(plan.tokens).toBe(countTextTokens(plan.text, "claude-v2"));
    expect(long.trim().startsWith(plan.text)).toBe(true);
    expect(planProxy(" B\n", "claude-v2")).toEqual({ text: "B", tokens: 1 });
  });
});

describe("recorded outcomes → training tasks", () => {
  it("one bid per recorded model, with the table's price, the plan proxy and the recorded outcome", () => {
    const [task] = routerBenchTrainingTasks(index, ["arc-challenge.test.1108"]);
    if (task === undefined) throw new Error("no task");
    expect(() => parseTrainingTask(task)).not.toThrow();
    expect(task.bids.map((bid) => bid.bidder).sort()).toEqual([...index.models]);
    expect(task.jurors).toEqual([...ROUTERBENCH_CHEAP_JURORS]);
    const gpt4 = task.bids.find((bid) => bid.bidder === "gpt-4-1106-preview");
    const record = index.outcome("arc-challenge.test.1108", "gpt-4-1106-preview");
    if (gpt4 === undefined || record === "unavailable") throw new Error("gpt-4 missing");
    expect(gpt4.price).toBeCloseTo(30e-6, 15); // $30 per million output tokens
    expect(gpt4.planTokens).toBe(countTextTokens((record.response ?? "").trim(), "gpt-4-1106-preview"));
    expect(gpt4.entropy).toBe(lexicalEntropy((record.response ?? "").trim()).value);
    expect(gpt4.correct).toBe(record.correct === 1);
    expect(gpt4.executionCost).toBe(record.cost_usd);
  });

  it("the jury is whether each juror's own recorded answer agrees (real answers: Mixtral D, Yi C, Code Llama C)", () => {
    const [task] = routerBenchTrainingTasks(index, ["arc-challenge.test.1108"]);
    const juryOf = (bidder: string) => task?.bids.find((bid) => bid.bidder === bidder)?.jury;
    expect(juryOf("claude-v1")).toEqual({ [MIXTRAL]: 1, [YI]: 0, [CODE_LLAMA]: 0 }); // answered D
    expect(juryOf("WizardLM/WizardLM-13B-V1.2")).toEqual({ [MIXTRAL]: 0, [YI]: 1, [CODE_LLAMA]: 1 }); // C
    expect(juryOf("claude-instant-v1")).toEqual({ [MIXTRAL]: 0, [YI]: 0, [CODE_LLAMA]: 0 }); // A
    expect(juryOf(MIXTRAL)?.[MIXTRAL]).toBe(1); // a juror agrees with its own answer
  });

  it("no jury: empty score maps", () => {
    const [task] = routerBenchTrainingTasks(index, ["arc-challenge.test.1108"], { jurors: [] });
    expect(task?.jurors).toEqual([]);
    expect(task?.bids.every((bid) => Object.keys(bid.jury).length === 0)).toBe(true);
  });

  it("a missing cell is not a bidder, and a missing juror scores nothing", () => {
    const tenModels = index.promptIds.find(
      (id) => index.outcomesOf(id).size === 10 && !index.outcomesOf(id).has(GPT35),
    );
    const oneModel = index.promptIds.find((id) => index.outcomesOf(id).size === 1);
    if (tenModels === undefined || oneModel === undefined) throw new Error("expected prompts with missing cells");
    const jurors = [MIXTRAL, GPT35];
    const [ten, one] = routerBenchTrainingTasks(index, [tenModels, oneModel], { jurors });
    expect(ten?.bids).toHaveLength(10);
    expect(ten?.bids.some((bid) => bid.bidder === GPT35)).toBe(false);
    expect(ten?.bids.every((bid) => bid.jury[GPT35] === undefined && bid.jury[MIXTRAL] !== undefined)).toBe(true);
    expect(one?.bids).toHaveLength(1);
    expect(routerBenchTrainingTasks(index, ["no-such-prompt"])).toEqual([]);
  });

  it("MBPP bids: plans of at most 128 tokens, agreement on the Likert grid, a juror's own plan scores 1", () => {
    const promptId = index.promptIds.find((id) => index.promptInfo(id)?.eval_name === "mbpp") as string;
    const [task] = routerBenchTrainingTasks(index, [promptId]);
    for (const bid of task?.bids ?? []) {
      expect(bid.planTokens).toBeLessThanOrEqual(128);
      for (const score of Object.values(bid.jury)) expect(Math.round(score * 5)).toBeCloseTo(score * 5, 10);
    }
    expect(task?.bids.find((bid) => bid.bidder === YI)?.jury[YI]).toBe(1);
  });
});

describe("the split and the sample", () => {
  it("is the main job's split: configs/default.yaml's seeded 50/50, disjoint halves covering every prompt", async () => {
    const config = await loadExperimentConfig(join(import.meta.dirname, "..", "..", "configs", "default.yaml"));
    if (config.data.source !== "recorded") throw new Error("the main job reads recorded outcomes");
    expect(config.data.split).toBe("seeded");
    const { train, test } = mainJobSplit(index);
    expect({ train, test }).toEqual(
      splitPromptIds(index.promptIds, { trainFraction: config.data.trainFraction, seed: config.seed }),
    );
    const trainSet = new Set(train);
    expect(test.some((id) => trainSet.has(id))).toBe(false);
    expect(train.length + test.length).toBe(index.promptIds.length);
  });

  it("samples from the training half only, stratified by task, eligible prompts only, reproducibly", () => {
    const { train } = mainJobSplit(index);
    const jurors = [GPT35];
    const sample = stratifiedSample(index, train, { size: 60, seed: 3, jurors });
    expect(sample).toHaveLength(60);
    expect(new Set(sample).size).toBe(60);
    const trainSet = new Set(train);
    expect(sample.every((id) => trainSet.has(id))).toBe(true);
    expect(sample.every((id) => index.outcomesOf(id).size >= 2 && index.outcomesOf(id).has(GPT35))).toBe(true);
    const byTask = (ids: string[], name: string) => ids.filter((id) => index.promptInfo(id)?.eval_name === name).length;
    const share = byTask(train, "arc-challenge") / train.length;
    expect(Math.abs(byTask(sample, "arc-challenge") - 60 * share)).toBeLessThanOrEqual(1.5);
    expect(stratifiedSample(index, train, { size: 60, seed: 3, jurors })).toEqual(sample);
    expect(stratifiedSample(index, train, { size: 60, seed: 4, jurors })).not.toEqual(sample);
  });

  it("fits on the sample and evaluates fitted and default weights on every held-out prompt", async () => {
    const result = await compareWeightsOnRouterBench(index, { jurors: [], sampleSize: 12, seed: 1 });
    const { test } = mainJobSplit(index);
    expect(result.sampleSize).toBe(12);
    expect(result.fitted.trainedOn).toBe(12);
    expect(["optimal", "time_limit"]).toContain(result.fitted.status);
    expect(result.heldOut.fitted.tasks).toBe(test.length);
    expect(result.heldOut.defaults.tasks).toBe(test.length);
    expect(result.heldOut.fitted.winners).toHaveLength(test.length);
  });
});
