/**
 * Feedback: `router.recordOutcome` grades the answers a routed request bought — bandit feedback: a
 * member that was not called has no answer to grade and is never updated — and refuses, with a
 * typed `RouterOutcomeError`, an unknown auction, a second grade of the same answer, and a member
 * that was not called. Scripted stand-ins for three models (not model results), offline.
 *
 *   npx tsx examples/router-feedback.ts
 */
import { AuctionRouter, createInMemoryStrategyMemory, type RouterMetadata, RouterOutcomeError } from "langchain-gavel";
import { createHashingEmbeddings } from "langchain-gavel/eval";
import { ScriptedChatModel } from "langchain-gavel/testing";

const embeddings = createHashingEmbeddings();
const memory = createInMemoryStrategyMemory({ embeddings });
const scripted = (name: string, reply: string) => new ScriptedChatModel({ model: name, replies: () => reply });
const router = new AuctionRouter({
  pool: [
    { name: "nano", model: scripted("nano", "B"), price: { inputPerMillion: 0.1, outputPerMillion: 0.4 } },
    { name: "mid", model: scripted("mid", "The answer is (B)."), price: { inputPerMillion: 1, outputPerMillion: 4 } },
    { name: "max", model: scripted("max", "B"), price: { inputPerMillion: 10, outputPerMillion: 30 } },
  ],
  memory,
  embeddings, // auto mode; the memory is empty, so the request escalates
});

const question = "Which gas do plants absorb? (A) O2 (B) CO2 (C) N2";
const answer = await router.invoke(question);
const { auctionId, path, reason, calls = [], winner } = (answer.response_metadata.gavel as RouterMetadata).auction;
console.log(`path ${path}: ${reason}`);
console.log(`called ${calls.join(", ")}; ${winner} answered "${answer.text}"`);

// The answers are stored at once, but memory bids read only entries with an outcome: until graded,
// they are no evidence (and a prompt asked again and again cannot crowd the evidence out).
const graded = async () => (await memory.search({ text: question, k: 10, filter: { hasOutcome: true } })).length;
console.log(`entries with an outcome before grading: ${await graded()}`);

// Grade the final answer (member defaults to it), then the cheap rung's.
console.log(`final answer graded: ${await router.recordOutcome(auctionId, { correct: true })}`);
console.log(`nano graded: ${await router.recordOutcome(auctionId, { member: "nano", correct: true })}`);
console.log(`entries with an outcome after grading: ${await graded()}`);

// What the memory now holds for this auction: evidence only for members that were called.
for (const member of ["nano", "mid", "max"]) {
  const entry = await memory.get(`${auctionId}:${member}`);
  const state =
    entry === undefined ? "no entry (never called)" : `outcome ${entry.outcome}, called ${entry.metadata?.called}`;
  console.log(`  ${member}: ${state}`);
}

// Three refusals, each a RouterOutcomeError with a reason — never a silent double count.
const attempts: Array<[string, Parameters<AuctionRouter["recordOutcome"]>]> = [
  ["max was not called", [auctionId, { member: "max", correct: true }]],
  ["the final answer again", [auctionId, { correct: false }]],
  ["an id no auction has", ["no-such-auction", { correct: true }]],
];
for (const [what, args] of attempts) {
  try {
    await router.recordOutcome(...args);
    console.log(`${what}: recorded (unexpected)`);
  } catch (error) {
    if (!RouterOutcomeError.isInstance(error)) throw error;
    console.log(`${what}: RouterOutcomeError ${error.reason}`);
  }
}
await memory.close();
