/**
 * The router over real local models: two `LlamaCppChatModel` pool members sharing one
 * node-llama-cpp runtime (CPU) on a tiny random-weight llama GGUF written by this file. The text
 * is gibberish; the token counts, per-token entropies and vocabulary size are real, so H must
 * come from the `"exact"` source and equal mean(tokenEntropies) / ln(vocabularySize) of the
 * plans that came back. The jurors' replies are gibberish too: every score is dropped with its
 * reason and the auction still clears.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { awaitAllCallbacks } from "@langchain/core/callbacks/promises";
import type { BaseMessage, UsageMetadata } from "@langchain/core/messages";
import type { LLMResult } from "@langchain/core/outputs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createLlamaCppRuntime,
  LlamaCppChatModel,
  type LlamaCppResponseMetadata,
  type LlamaCppRuntime,
  type TinyLlamaGgufInfo,
  writeTinyLlamaGguf,
} from "../../adapters/llamacpp/index.js";
import { AuctionRouter, type RouterMetadata } from "../../src/router/index.js";

const folder = mkdtempSync(join(tmpdir(), "gavel-router-llamacpp-"));
const modelPath = join(folder, "tiny-llama.gguf");
/** Context of the file and of each sequence: a jury prompt quotes both gibberish plans. */
const CONTEXT = 2048;
const PLAN_MAX_TOKENS = 12;
const JURY_MAX_TOKENS = 8;
const ANSWER_MAX_TOKENS = 16;
const WEIGHTS = { cost: 100, entropy: 0.1, jury: {} };

let info: TinyLlamaGgufInfo;
let runtime: LlamaCppRuntime;

/** One model call seen by the callbacks: what it was for, who made it, and what came back. */
interface ObservedCall {
  tags: string[];
  member: string | undefined;
  metadata: LlamaCppResponseMetadata;
  usage: UsageMetadata | undefined;
  text: string;
}

/** Records the replies of every model call made under the router's run. */
class CallRecorder extends BaseCallbackHandler {
  name = "call-recorder";
  readonly calls: ObservedCall[] = [];
  readonly #members = new Map<string, string | undefined>();

  override handleChatModelStart(
    _llm: unknown,
    _messages: BaseMessage[][],
    runId: string,
    _parentRunId?: string,
    _extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): void {
    const member = metadata?.gavel_member;
    this.#members.set(runId, typeof member === "string" ? member : undefined);
  }

  override handleLLMEnd(output: LLMResult, runId: string, _parentRunId?: string, tags?: string[]): void {
    const generation = output.generations[0]?.[0] as
      | { text: string; message?: { response_metadata?: unknown; usage_metadata?: UsageMetadata } }
      | undefined;
    if (!generation?.message) return;
    this.calls.push({
      tags: tags ?? [],
      member: this.#members.get(runId),
      metadata: generation.message.response_metadata as LlamaCppResponseMetadata,
      usage: generation.message.usage_metadata,
      text: generation.text,
    });
  }
}

function purposeOf(call: ObservedCall): string | undefined {
  return call.tags.find((tag) => tag.startsWith("gavel:") && tag !== "gavel:auction")?.slice("gavel:".length);
}

beforeAll(async () => {
  info = await writeTinyLlamaGguf({ path: modelPath, seed: 5, contextLength: CONTEXT });
  // threads: 1 keeps a tiny model fast on a busy 2-core machine (no thread spin-waiting).
  runtime = createLlamaCppRuntime({ modelPath, gpu: false, threads: 1, concurrency: 2, contextSize: CONTEXT });
  await runtime.load();
});

afterAll(async () => {
  await runtime?.dispose();
  rmSync(folder, { recursive: true, force: true });
});

describe("AuctionRouter over two local node-llama-cpp models", () => {
  it("holds a real auction: exact entropies, jury fallback, winner executes, usage aggregated", async () => {
    // Same weights, different samplers, so the two members write different plans.
    const local = new LlamaCppChatModel({ runtime, maxTokens: ANSWER_MAX_TOKENS, temperature: 0.9, seed: 1 });
    const remote = new LlamaCppChatModel({ runtime, maxTokens: ANSWER_MAX_TOKENS, temperature: 0.9, seed: 2 });
    const router = new AuctionRouter({
      pool: [
        { name: "local", model: local, price: { inputPerMillion: 0.1, outputPerMillion: 0.2 } },
        { name: "remote", model: remote, price: { inputPerMillion: 2.5, outputPerMillion: 10 } },
      ],
      weights: WEIGHTS,
      planMaxTokens: PLAN_MAX_TOKENS,
      juryMaxTokens: JURY_MAX_TOKENS,
      seed: 3,
    });
    const recorder = new CallRecorder();

    const answer = await router.invoke("Sort a list of numbers and explain the steps.", { callbacks: [recorder] });
    await awaitAllCallbacks();
    const gavel = answer.response_metadata.gavel as RouterMetadata;
    const { auction, usage } = gavel;

    // Every call of the auction came back from the real model.
    const plans = recorder.calls.filter((call) => purposeOf(call) === "plan");
    const juries = recorder.calls.filter((call) => purposeOf(call) === "jury");
    const answers = recorder.calls.filter((call) => purposeOf(call) === "answer");
    expect(plans.map((call) => call.member).sort()).toEqual(["local", "remote"]);
    expect(juries.map((call) => call.member).sort()).toEqual(["local", "remote"]);
    expect(answers).toHaveLength(1);

    // H: the exact source, and the value computed here from what the model returned.
    expect(auction.dropped).toEqual({});
    expect(auction.bids.map((bid) => bid.bidder).sort()).toEqual(["local", "remote"]);
    for (const bid of auction.bids) {
      const plan = plans.find((call) => call.member === bid.bidder) as ObservedCall;
      const entropies = plan.metadata.tokenEntropies ?? [];
      expect(plan.metadata.vocabularySize).toBe(info.vocabularySize);
      expect(entropies.length).toBeGreaterThan(0);
      expect(entropies.length).toBeLessThanOrEqual(PLAN_MAX_TOKENS);
      const mean = entropies.reduce((sum, value) => sum + value, 0) / entropies.length;
      const expected = mean / Math.log(info.vocabularySize);
      expect(bid.entropySource).toBe("exact");
      expect(bid.entropyMethod).toBe("token_entropies");
      expect(bid.entropy).toBeCloseTo(expected, 12);
      expect(bid.entropy).toBeGreaterThan(0);
      expect(bid.entropy).toBeLessThan(1);
      expect(bid.plan).toBe(plan.text.trim());
      expect(bid.planTokens).toBe(plan.usage?.output_tokens);
    }
    // The two samplers wrote different plans, so H differs between the bids.
    expect(auction.bids[0]?.plan).not.toBe(auction.bids[1]?.plan);

    // Gibberish jury replies: every score is dropped with its reason; V is the entropy term alone.
    expect(auction.juries.map((jury) => jury.juror).sort()).toEqual(["local", "remote"]);
    for (const bid of auction.bids) {
      expect(bid.jury).toEqual({});
      expect(Object.keys(bid.juryDropped).sort()).toEqual(["local", "remote"]);
      for (const reason of Object.values(bid.juryDropped)) expect(reason).toMatch(/^unparseable score: /);
      expect(bid.value).toBeCloseTo(WEIGHTS.entropy * bid.entropy, 12);
    }

    // The auction still clears: one winner, the best V − C, and it answers with its plan.
    const best = [...auction.bids].sort((left, right) => right.score - left.score)[0];
    expect(auction.outcome.winners).toEqual([best?.bidder]);
    expect(auction.winner).toBe(best?.bidder);
    expect(auction.fallback).toBeUndefined();
    expect(auction.refinementSkipped).toBe("no memory");
    expect(auction.winnerPlan).toBe(best?.plan);
    const execution = answers[0] as ObservedCall;
    expect(answer.text).toBe(execution.text);
    expect(execution.usage?.output_tokens).toBeGreaterThan(0);
    expect(execution.usage?.output_tokens).toBeLessThanOrEqual(ANSWER_MAX_TOKENS);

    // Usage: the answer's tokens plus every auction call's, as the models reported them.
    const auctionCalls = [...plans, ...juries];
    const sum = (calls: ObservedCall[], field: keyof UsageMetadata) =>
      calls.reduce((total, call) => total + Number(call.usage?.[field] ?? 0), 0);
    expect(usage.execution.total_tokens).toBe(execution.usage?.total_tokens);
    expect(usage.auction.input_tokens).toBe(sum(auctionCalls, "input_tokens"));
    expect(usage.auction.output_tokens).toBe(sum(auctionCalls, "output_tokens"));
    expect(usage.estimated).toBe(false);
    expect(answer.usage_metadata?.input_tokens).toBe(sum([...auctionCalls, execution], "input_tokens"));
    expect(answer.usage_metadata?.output_tokens).toBe(sum([...auctionCalls, execution], "output_tokens"));
    expect(answer.usage_metadata?.total_tokens).toBe(usage.auction.total_tokens + usage.execution.total_tokens);
    expect(usage.auctionShare).toBeCloseTo(
      usage.auction.total_tokens / (usage.auction.total_tokens + usage.execution.total_tokens),
      12,
    );
  });
});
