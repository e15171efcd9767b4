/**
 * A local GGUF model through node-llama-cpp, with real token log-probabilities and entropy.
 *
 * No weights can be downloaded here, so this writes a tiny random-weight llama model to a temp
 * folder first. Its text is gibberish BY DESIGN; the token counts, log-probabilities, entropies
 * and the JSON-schema-constrained answer are real llama.cpp output. With a real model, pass its
 * path as `modelPath` and drop the writer.
 *
 * Run: npx tsx examples/local-model.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LlamaCppChatModel, llamaCppMetadataOf, writeTinyLlamaGguf } from "langchain-gavel/llamacpp";
import { z } from "zod";

const folder = mkdtempSync(join(tmpdir(), "gavel-local-model-"));
const modelPath = join(folder, "tiny-llama.gguf");
const info = await writeTinyLlamaGguf({ path: modelPath, seed: 42 });
console.log(`wrote ${modelPath} (${info.byteLength} bytes, ${info.vocabularySize} tokens)`);

const model = new LlamaCppChatModel({ modelPath, maxTokens: 24, gpu: false, threads: 1 });
try {
  const answer = await model.invoke("Write a short plan to sort a list of numbers.");
  const metadata = llamaCppMetadataOf(answer);
  console.log("text (gibberish by design):", JSON.stringify(answer.text));
  console.log("usage:", answer.usage_metadata);
  console.log(
    `mean entropy: ${metadata.meanEntropy?.toFixed(3)} nats (max ${metadata.maxEntropy?.toFixed(3)} = ln ${info.vocabularySize})`,
  );
  const first = metadata.logprobs?.content[0];
  console.log("first token:", JSON.stringify(first?.token), "logprob", first?.logprob.toFixed(3));

  // A second chat model on the same loaded runtime, with a larger cap for the JSON answer.
  const judge = new LlamaCppChatModel({ runtime: model.runtime, maxTokens: 64 });
  const Verdict = z.object({ verdict: z.enum(["accept", "reject"]), confident: z.boolean() });
  const verdict = await judge.withStructuredOutput(Verdict).invoke("Judge the plan.");
  console.log("structured output:", verdict);
} finally {
  await model.dispose();
  rmSync(folder, { recursive: true, force: true });
}
