/**
 * Real local inference: node-llama-cpp (llama.cpp, CPU) runs a tiny random-weight llama GGUF that
 * this file writes itself. The text is gibberish; the token counts, log-probabilities, entropies
 * and grammar-constrained JSON are real.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AIMessageChunk } from "@langchain/core/messages";
import { HumanMessage, SystemMessage } from "@langchain/core/messages";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  createLlamaCppRuntime,
  LlamaCppChatModel,
  LlamaCppContextOverflowError,
  LlamaCppModelLoadError,
  type LlamaCppRuntime,
  llamaCppMetadataOf,
  type TinyLlamaGgufInfo,
  writeTinyLlamaGguf,
} from "../../adapters/llamacpp/index.js";
import { MissingPeerDependencyError } from "../../src/peers.js";

const folder = mkdtempSync(join(tmpdir(), "gavel-llamacpp-int-"));
const modelPath = join(folder, "tiny-llama.gguf");
let info: TinyLlamaGgufInfo;
let runtime: LlamaCppRuntime;
let model: LlamaCppChatModel;

const metadataOf = llamaCppMetadataOf;

beforeAll(async () => {
  info = await writeTinyLlamaGguf({ path: modelPath, seed: 11 });
  // threads: 1 keeps a tiny model fast on a busy 2-core machine (no thread spin-waiting).
  runtime = createLlamaCppRuntime({ modelPath, gpu: false, threads: 1, concurrency: 2, contextSize: 512 });
  model = new LlamaCppChatModel({ runtime, maxTokens: 16 });
  await model.load();
});

afterAll(async () => {
  await runtime?.dispose();
  rmSync(folder, { recursive: true, force: true });
});

describe("LlamaCppChatModel over a tiny random-weight GGUF", () => {
  it("reports usage counted by the model's tokenizer over the ChatML prompt", async () => {
    const answer = await model.invoke([new SystemMessage("be brief"), new HumanMessage("hello world")]);
    const { model: llamaModel } = await runtime.load();
    // BOS (the GGUF sets add_bos_token), then ChatML
    const prompt =
      "<s><|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhello world<|im_end|>\n<|im_start|>assistant\n";
    const expectedPromptTokens = llamaModel.tokenize(prompt, true);
    const metadata = metadataOf(answer);

    expect(answer.usage_metadata?.input_tokens).toBe(expectedPromptTokens.length);
    expect(answer.usage_metadata?.output_tokens).toBe(metadata.logprobs?.content.length);
    expect(answer.usage_metadata?.output_tokens).toBeGreaterThan(0);
    expect(answer.usage_metadata?.output_tokens).toBeLessThanOrEqual(16);
    expect(answer.usage_metadata?.total_tokens).toBe(
      (answer.usage_metadata?.input_tokens ?? 0) + (answer.usage_metadata?.output_tokens ?? 0),
    );
    expect(metadata.finish_reason === "length").toBe(answer.usage_metadata?.output_tokens === 16);
    expect(metadata.model_name).toBe("tiny-llama.gguf");
  });

  it("returns valid OpenAI-shaped log-probabilities (greedy picks the top token)", async () => {
    const answer = await model.invoke("list three colours", { topLogprobs: 5 });
    const content = metadataOf(answer).logprobs?.content ?? [];
    expect(content.length).toBeGreaterThan(0);
    for (const entry of content) {
      expect(entry.logprob).toBeLessThanOrEqual(0);
      expect(entry.top_logprobs).toHaveLength(5);
      const values = entry.top_logprobs.map((top) => top.logprob);
      expect(values).toEqual([...values].sort((left, right) => right - left));
      expect(values.every((value) => value <= 0)).toBe(true);
      expect(values.reduce((sum, value) => sum + Math.exp(value), 0)).toBeLessThanOrEqual(1 + 1e-6);
      // temperature 0 is greedy: the chosen token is the most likely one
      expect(entry.logprob).toBeCloseTo(values[0] ?? Number.NaN, 6);
      expect(entry.token).toBe(entry.top_logprobs[0]?.token);
    }
    // the tokens' text is the answer's text
    expect(content.map((entry) => entry.token).join("")).toBe(answer.text);
  });

  it("reports exact per-token entropies between 0 and ln(vocabulary size)", async () => {
    const answer = await model.invoke("write a plan");
    const metadata = metadataOf(answer);
    const entropies = metadata.tokenEntropies ?? [];
    const maxEntropy = Math.log(info.vocabularySize);
    expect(metadata.maxEntropy).toBeCloseTo(maxEntropy, 9);
    expect(entropies).toHaveLength(answer.usage_metadata?.output_tokens ?? -1);
    entropies.forEach((entropy, index) => {
      expect(Number.isFinite(entropy)).toBe(true);
      expect(entropy).toBeGreaterThanOrEqual(0);
      expect(entropy).toBeLessThanOrEqual(maxEntropy + 1e-9);
      // the top-20 alternatives alone carry part of the entropy, never more than all of it
      const partial = (metadata.logprobs?.content[index]?.top_logprobs ?? []).reduce(
        (sum, top) => sum - Math.exp(top.logprob) * top.logprob,
        0,
      );
      expect(partial).toBeLessThanOrEqual(entropy + 1e-6);
    });
    expect(metadata.meanEntropy).toBeCloseTo(entropies.reduce((sum, value) => sum + value, 0) / entropies.length, 9);
  });

  it("is deterministic with a fixed seed, and the seed matters", async () => {
    const options = { temperature: 0.9, seed: 7 };
    const first = await model.invoke("tell me a story", options);
    const second = await model.invoke("tell me a story", options);
    const otherSeed = await model.invoke("tell me a story", { temperature: 0.9, seed: 8 });
    expect(second.text).toBe(first.text);
    expect(metadataOf(second).logprobs).toEqual(metadataOf(first).logprobs);
    expect(otherSeed.text).not.toBe(first.text);
  });

  it("reports the model's own distribution whatever the sampling temperature", async () => {
    const greedy = await model.invoke("same prompt", { maxTokens: 1 });
    const sampled = await model.invoke("same prompt", { maxTokens: 1, temperature: 0.5, seed: 3 });
    const greedyFirst = metadataOf(greedy).logprobs?.content[0];
    const sampledFirst = metadataOf(sampled).logprobs?.content[0];
    expect(sampledFirst?.top_logprobs.map((top) => top.token)).toEqual(
      greedyFirst?.top_logprobs.map((top) => top.token),
    );
    sampledFirst?.top_logprobs.forEach((top, index) => {
      expect(top.logprob).toBeCloseTo(greedyFirst?.top_logprobs[index]?.logprob ?? Number.NaN, 3);
    });
    expect(metadataOf(sampled).tokenEntropies?.[0]).toBeCloseTo(
      metadataOf(greedy).tokenEntropies?.[0] ?? Number.NaN,
      3,
    );
  });

  it("constrains the output to a JSON schema (withStructuredOutput, zod)", async () => {
    const Verdict = z.object({
      verdict: z.enum(["accept", "reject"]),
      confident: z.boolean(),
      score: z.enum(["0", "1", "2", "3", "4", "5"]),
    });
    const structured = model.withStructuredOutput(Verdict, { includeRaw: true });
    for (const seed of [1, 2, 3]) {
      const { raw, parsed } = await structured.invoke("Judge this plan.", {
        maxTokens: 64,
        temperature: 1,
        seed,
      } as never);
      expect(Verdict.parse(parsed)).toEqual(parsed);
      expect(JSON.parse(raw.text)).toEqual(parsed);
      expect(metadataOf(raw).finish_reason).toBe("stop");
      expect((raw as AIMessageChunk).usage_metadata?.output_tokens).toBeGreaterThan(0);
    }
  });

  it("constrains the output with the jsonSchema call option (plain JSON schema)", async () => {
    const schema = {
      type: "object",
      properties: { ok: { type: "boolean" }, kind: { enum: ["plan", "answer"] } },
      required: ["ok", "kind"],
    };
    const answer = await model.invoke("Reply in JSON.", { jsonSchema: schema, maxTokens: 64 });
    const parsed = JSON.parse(answer.text) as { ok: unknown; kind: unknown };
    expect(typeof parsed.ok).toBe("boolean");
    expect(["plan", "answer"]).toContain(parsed.kind);
    expect(Object.keys(parsed).sort()).toEqual(["kind", "ok"]);
  });

  it("streams the same text as invoke, with usage on the last chunk", async () => {
    const invoked = await model.invoke("stream me");
    let text = "";
    let last: AIMessageChunk | undefined;
    for await (const chunk of await model.stream("stream me")) {
      text += chunk.text;
      last = chunk;
    }
    expect(text).toBe(invoked.text);
    expect(last?.usage_metadata).toEqual(invoked.usage_metadata);
    expect(metadataOf(last ?? { response_metadata: {} }).tokenEntropies).toEqual(metadataOf(invoked).tokenEntropies);
  });

  it("gives the sequence back when a stream is abandoned or a call is aborted", async () => {
    for (let round = 0; round < 3; round++) {
      for await (const _chunk of await model.stream("abandon me", { maxTokens: 16 })) break;
    }
    const controller = new AbortController();
    controller.abort(new Error("caller gave up"));
    await expect(model.invoke("abort me", { signal: controller.signal })).rejects.toThrow();
    // both sequences are free again: two concurrent calls complete
    const answers = await Promise.all([model.invoke("after one"), model.invoke("after two")]);
    expect(answers.every((answer) => (answer.usage_metadata?.output_tokens ?? 0) > 0)).toBe(true);
  });

  it("stops at a stop sequence, reporting finish_reason stop", async () => {
    const full = await model.invoke("stop test", { maxTokens: 16 });
    const stop = full.text.slice(4, 6);
    expect(stop.length).toBe(2);
    const stopped = await model.invoke("stop test", { maxTokens: 16, stop: [stop] });
    expect(stopped.text).toBe(full.text.slice(0, full.text.indexOf(stop)));
    expect(metadataOf(stopped).finish_reason).toBe("stop");
  });

  it("serves concurrent calls (more calls than sequences) with the same answers as one by one", async () => {
    const prompts = ["one", "two", "three", "four", "five"];
    const sequential = [];
    for (const prompt of prompts) sequential.push((await model.invoke(prompt)).text);
    const concurrent = await Promise.all(prompts.map((prompt) => model.invoke(prompt)));
    expect(concurrent.map((answer) => answer.text)).toEqual(sequential);
    const batched = await model.batch(prompts);
    expect(batched.map((answer) => answer.text)).toEqual(sequential);
  });

  it("refuses a prompt that cannot fit with maxTokens in the context", async () => {
    await expect(model.invoke("hello", { maxTokens: 600 })).rejects.toSatisfy(
      (error: unknown) =>
        LlamaCppContextOverflowError.isInstance(error) && error.contextSize === 512 && error.maxTokens === 600,
    );
    // the sequence was given back: the model still answers
    expect((await model.invoke("hello")).text.length).toBeGreaterThan(0);
  });
});

describe("LlamaCppChatModel errors", () => {
  it("names the path of a missing model file", async () => {
    const missing = join(folder, "nope", "missing.gguf");
    const broken = new LlamaCppChatModel({ modelPath: missing, gpu: false });
    const error = await broken.invoke("hi").catch((caught: unknown) => caught);
    expect(LlamaCppModelLoadError.isInstance(error)).toBe(true);
    expect((error as LlamaCppModelLoadError).reason).toBe("not_found");
    expect((error as LlamaCppModelLoadError).modelPath).toBe(missing);
    expect((error as Error).message).toContain(missing);
  });

  it("names node-llama-cpp and how to install it when the package is missing", async () => {
    const notInstalled = Object.assign(new Error("Cannot find package 'node-llama-cpp' imported from gavel"), {
      code: "ERR_MODULE_NOT_FOUND",
    });
    const broken = new LlamaCppChatModel({ modelPath, loadModule: () => Promise.reject(notInstalled) });
    const error = await broken.invoke("hi").catch((caught: unknown) => caught);
    expect(MissingPeerDependencyError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain("npm install node-llama-cpp");
    expect((error as Error).cause).toBe(notInstalled);
  });

  it("rejects a file that is not a GGUF model with load_failed", async () => {
    const { writeFileSync } = await import("node:fs");
    const notAModel = join(folder, "not-a-model.gguf");
    writeFileSync(notAModel, "this is not a gguf file");
    const broken = new LlamaCppChatModel({ modelPath: notAModel, gpu: false });
    const error = await broken.invoke("hi").catch((caught: unknown) => caught);
    expect(LlamaCppModelLoadError.isInstance(error)).toBe(true);
    expect((error as LlamaCppModelLoadError).reason).toBe("load_failed");
    expect((error as Error).message).toContain(notAModel);
  });
});
