/**
 * Memory mode: each member — and each agreement cascade `cascade(a + b → top)` — bids what an outcome
 * memory predicts it is worth on this request, minus λ × its normalised expected cost; no model is
 * called before the winner answers (a winning cascade asks its two rungs, the top one if they
 * disagree: path "escalation"). The members are
 * RecordedChatModels (the real answers three models gave on RouterBench, shipped in
 * data/routerbench/outcomes.jsonl.gz); the memory is loaded from the recorded outcomes of every
 * OTHER prompt with `learnOutcomes`. Offline, a few seconds (the built-in hashing embedder).
 *
 *   npx tsx examples/router-memory.ts
 */
import { AuctionRouter, createInMemoryStrategyMemory, learnOutcomes, type RouterMetadata } from "langchain-gavel";
import {
  createHashingEmbeddings,
  createRecordedPool,
  loadOutcomeIndex,
  loadRecordedOutcomes,
} from "langchain-gavel/eval";

const models = {
  "gpt-4": "gpt-4-1106-preview",
  "gpt-3.5": "gpt-3.5-turbo-1106",
  mixtral: "mistralai/mixtral-8x7b-chat",
};

// The built-in hashing embedder as a LangChain Embeddings (use USE-Lite or your provider's for real).
const embeddings = createHashingEmbeddings();

// Four prompts to route (one per line of the table below); the memory learns from all the others.
const index = await loadOutcomeIndex();
const asked = ["arc-challenge", "winogrande", "mbpp", "mbpp"].map(
  (name, position) => index.promptIds.filter((id) => index.promptInfo(id)?.eval_name === name)[position * 7] as string,
);
// Evidence is kept by member name (an entry's agent), so each record is renamed to its member.
const memberOf = new Map(Object.entries(models).map(([name, model]) => [model, name]));
const training = (await loadRecordedOutcomes())
  .filter((record) => memberOf.has(record.model) && !asked.includes(record.prompt_id))
  .map((record) => ({ ...record, model: memberOf.get(record.model) as string }));
const memory = createInMemoryStrategyMemory({ embeddings, maxEntries: 20_000 });
const learned = await learnOutcomes(memory, training, { embeddings });
console.log(
  `memory: ${learned.entries} recorded outcomes of ${learned.auctions} prompts (${await memory.size()} entries)`,
);

const replay = createRecordedPool({ index }); // one RecordedChatModel per recorded model
const router = new AuctionRouter({
  pool: Object.entries(models).map(([name, model]) => ({
    name,
    model: replay[model] as NonNullable<(typeof replay)[string]>,
  })),
  memory,
  embeddings,
  mode: "memory",
  lambda: 0.15, // weight of the normalised expected cost: higher, cheaper answers
});

for (const promptId of asked) {
  const prompt = index.promptInfo(promptId)?.prompt as string;
  const answer = await router.invoke(prompt);
  const { winner, path, reason, calls } = (answer.response_metadata.gavel as RouterMetadata).auction;
  const right = answer.response_metadata.correct === 1 ? "right" : "wrong";
  console.log(
    `${promptId.padEnd(26)} → ${winner.padEnd(8)} path ${path}, calls ${calls?.join(",")} (${right} on RouterBench)`,
  );
  console.log(`  ${reason}`);
}
await memory.close();
