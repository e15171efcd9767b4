/**
 * Auto mode from a cold start: a pool of three models no recording knows (scripted stand-ins, not
 * model results), each with a price. With an empty memory every request escalates — the cheapest
 * member answers, the next one checks it, the dearest settles a disagreement — and every answer
 * bought is graded with `recordOutcome`. As the memory fills, requests like the ones already graded
 * take the memory path: one call, no escalation. The path of each request is printed.
 *
 *   npx tsx examples/router-auto.ts
 */
import { AuctionRouter, createInMemoryStrategyMemory, type RouterMetadata } from "langchain-gavel";
import { createHashingEmbeddings } from "langchain-gavel/eval";
import { ScriptedChatModel } from "langchain-gavel/testing";

const embeddings = createHashingEmbeddings();

/** Each stand-in multiplies right up to its limit and is off by one above it. */
const LIMITS: Record<string, number> = { "acme-nano": 24, "acme-mid": 50, "acme-max": Number.POSITIVE_INFINITY };
const right = (name: string, a: number, b: number) => a * b <= (LIMITS[name] ?? 0);

function member(name: string) {
  return new ScriptedChatModel({
    model: name,
    replies: ({ messages }) => {
      const [a = 0, b = 0] = (messages.at(-1)?.text.match(/\d+/g) ?? []).map(Number);
      return `The answer is ${a * b + (right(name, a, b) ? 0 : 1)}.`;
    },
  });
}

const router = new AuctionRouter({
  pool: [
    { name: "acme-nano", model: member("acme-nano"), price: { inputPerMillion: 0.05, outputPerMillion: 0.2 } },
    { name: "acme-mid", model: member("acme-mid"), price: { inputPerMillion: 0.5, outputPerMillion: 1.5 } },
    { name: "acme-max", model: member("acme-max"), price: { inputPerMillion: 5, outputPerMillion: 20 } },
  ],
  memory: createInMemoryStrategyMemory({ embeddings }),
  embeddings, // mode "auto" is the default with a memory and embeddings
  lambda: 0.15,
  // A small demo: trust the memory after 3 units of close evidence, spread ≤ 0.15 (the default rule is fitted on RouterBench).
  memoryBids: { confidence: { minEvidence: 3, maxSpread: 0.15 } },
});

const paths: Record<string, number> = {};
let bought = 0;
for (let request = 0; request < 24; request += 1) {
  const [a, b] = [3 + (request % 4), 4 + ((request * 5) % 7)];
  const answer = await router.invoke(`What is ${a} times ${b}?`);
  const { auctionId, path, calls = [], reason } = (answer.response_metadata.gavel as RouterMetadata).auction;
  // Bandit feedback: grade every answer bought, and only those (a verifier would read the texts;
  // this example knows its scripts).
  for (const called of calls) await router.recordOutcome(auctionId, { member: called, correct: right(called, a, b) });
  const route = `${path} (${calls.join(" → ")})`;
  paths[String(path)] = (paths[String(path)] ?? 0) + 1;
  bought += calls.length;
  console.log(
    `${String(request + 1).padStart(2)}. ${a}×${b}=${answer.text.match(/\d+/)?.[0]}: ${route.padEnd(42)} ${reason}`,
  );
}
console.log(`paths: ${JSON.stringify(paths)}; ${bought} answers bought for 24 requests`);

// At a high λ the cheapest member wins the auction even on a cold memory: unsure or not, it answers
// alone (a climb would only buy dearer answers, which the bids price out).
const thrifty = new AuctionRouter({
  pool: [
    { name: "acme-nano", model: member("acme-nano"), price: { inputPerMillion: 0.05, outputPerMillion: 0.2 } },
    { name: "acme-max", model: member("acme-max"), price: { inputPerMillion: 5, outputPerMillion: 20 } },
  ],
  memory: createInMemoryStrategyMemory({ embeddings }),
  embeddings,
  lambda: 20,
});
const cheap = (await thrifty.invoke("What is 6 times 7?")).response_metadata.gavel as RouterMetadata;
console.log(`λ 20, cold: ${cheap.auction.path} (${cheap.auction.calls?.join(" → ")}) ${cheap.auction.reason}`);
