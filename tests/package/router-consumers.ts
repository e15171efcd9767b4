/**
 * Consumer programs for issue 10's router surface, as a user of the installed package writes them:
 * `AuctionRouter` in `mode: "auto"` and `"memory"` with a strategy memory and an embedder,
 * `router.recordOutcome` and its `RouterOutcomeError`, `learnOutcomes` into a vectra folder, and a
 * router in a new process reopening that folder. The packed-tarball test (tarball.int.test.ts) runs
 * each program in the fresh project (against `dist/`) and, for comparison, against the sources
 * (`runFromSources`); each prints one JSON line the test parses.
 *
 * The members are `ScriptedChatModel`s (langchain-gavel/testing) with made-up names, prices and
 * answers, and the embedder is the built-in hashing one (langchain-gavel/eval): nothing here is a
 * measurement of any model; the tests check which path the router took and what it called.
 */

/**
 * Auto mode (argv[2] `"auto"`: given; `"default"`: left to the default with a memory and an
 * embedder) over three scripted members, the demo confidence rule of examples/router-auto.ts.
 * Every answer bought is graded; after the first request, four outcomes the router must refuse.
 * Prints `{ requests: [{ path, reason, winner, calls, called, modelCalls, recorded }], refusals }`,
 * where `called` and `modelCalls` are what the scripted models themselves saw.
 */
export const ROUTER_AUTO = `import { AuctionRouter, createInMemoryStrategyMemory, GavelError, RouterOutcomeError } from "langchain-gavel";
import { createHashingEmbeddings } from "langchain-gavel/eval";
import { ScriptedChatModel } from "langchain-gavel/testing";

const LIMITS = { "acme-nano": 24, "acme-mid": 50, "acme-max": Number.POSITIVE_INFINITY };
const right = (name, a, b) => a * b <= LIMITS[name];
const member = (name) =>
  new ScriptedChatModel({
    model: name,
    replies: ({ messages }) => {
      const [a = 0, b = 0] = (messages.at(-1)?.text.match(/\\d+/g) ?? []).map(Number);
      return "The answer is " + (a * b + (right(name, a, b) ? 0 : 1)) + ".";
    },
  });
const models = { "acme-nano": member("acme-nano"), "acme-mid": member("acme-mid"), "acme-max": member("acme-max") };
const prices = {
  "acme-nano": { inputPerMillion: 0.05, outputPerMillion: 0.2 },
  "acme-mid": { inputPerMillion: 0.5, outputPerMillion: 1.5 },
  "acme-max": { inputPerMillion: 5, outputPerMillion: 20 },
};
const embeddings = createHashingEmbeddings();
const router = new AuctionRouter({
  pool: Object.keys(models).map((name) => ({ name, model: models[name], price: prices[name] })),
  memory: createInMemoryStrategyMemory({ embeddings }),
  embeddings,
  ...(process.argv[2] === "default" ? {} : { mode: "auto" }),
  lambda: 0.15,
  memoryBids: { confidence: { minEvidence: 3, maxSpread: 0.15 } },
});
const counts = () => Object.fromEntries(Object.entries(models).map(([name, model]) => [name, model.calls.length]));
const refusal = async (auctionId, outcome) => {
  try {
    return "recorded: " + (await router.recordOutcome(auctionId, outcome));
  } catch (error) {
    return RouterOutcomeError.isInstance(error) && GavelError.isInstance(error)
      ? error.name + ":" + error.reason + ":" + (error.auctionId === auctionId)
      : "other: " + String(error);
  }
};

const requests = [];
const refusals = {};
for (let request = 0; request < 24; request += 1) {
  const [a, b] = [3 + (request % 4), 4 + ((request * 5) % 7)];
  const before = counts();
  const answer = await router.invoke("What is " + a + " times " + b + "?");
  const after = counts();
  const { auctionId, path, reason, winner, calls = [] } = answer.response_metadata.gavel.auction;
  const called = Object.keys(models).filter((name) => after[name] > before[name]);
  const modelCalls = Object.keys(models).reduce((sum, name) => sum + after[name] - before[name], 0);
  const recorded = [];
  for (const name of calls) recorded.push(await router.recordOutcome(auctionId, { member: name, correct: right(name, a, b) }));
  if (request === 0) {
    refusals.again = await refusal(auctionId, { member: calls[0], correct: true });
    refusals.final = await refusal(auctionId, { correct: false });
    refusals.notCalled = await refusal(auctionId, { member: "acme-max", correct: true });
    refusals.unknown = await refusal("no-such-auction", { correct: true });
  }
  requests.push({ path, reason, winner, calls, called, modelCalls, recorded });
}
console.log(JSON.stringify({ requests, refusals }));
`;

/**
 * 0.6.2's two rules, from the installed package: a memory search filtered by `hasOutcome` (an
 * answer waiting for its outcome is not evidence until `recordOutcome` gives it one), and `"auto"`
 * at a high λ on a cold memory, whose auction the cheapest member wins: it answers alone, with no
 * climb. Prints `{ withOutcome, waiting, afterRecord, auto: { path, reason, calls } }`.
 */
export const OUTCOME_FILTER_AND_CHEAP_AUTO = `import { AuctionRouter, createInMemoryStrategyMemory } from "langchain-gavel";
import { createHashingEmbeddings } from "langchain-gavel/eval";
import { ScriptedChatModel } from "langchain-gavel/testing";

const embeddings = createHashingEmbeddings();
const memory = createInMemoryStrategyMemory({ embeddings });
const entry = (id, outcome) => ({
  id, auctionId: id, task: "What is 6 times 7?", kind: "", agent: "acme-nano", plan: "", role: "single", cost: 0,
  createdAt: 1, ...(outcome === undefined ? {} : { outcome }),
});
await memory.add([entry("graded", 1), entry("waiting", undefined)]);
const ids = async (hasOutcome) =>
  (await memory.search({ text: "What is 6 times 7?", k: 5, filter: { agent: "acme-nano", hasOutcome } })).map((hit) => hit.entry.id);
const withOutcome = await ids(true);
const waiting = await ids(false);
await memory.recordOutcome("waiting", 0);
const afterRecord = await ids(true);

const member = (name) => new ScriptedChatModel({ model: name, replies: () => "The answer is 42." });
const router = new AuctionRouter({
  pool: [
    { name: "acme-nano", model: member("acme-nano"), price: { inputPerMillion: 0.05, outputPerMillion: 0.2 } },
    { name: "acme-max", model: member("acme-max"), price: { inputPerMillion: 5, outputPerMillion: 20 } },
  ],
  memory: createInMemoryStrategyMemory({ embeddings }),
  embeddings,
  lambda: 20,
});
const { path, reason, calls } = (await router.invoke("What is 6 times 7?")).response_metadata.gavel.auction;
console.log(JSON.stringify({ withOutcome, waiting, afterRecord, auto: { path, reason, calls } }));
`;

/**
 * `learnOutcomes` in bulk into a vectra folder: argv `OUTCOMES_FILE FOLDER`. Prints
 * `{ auctions, entries, size }`.
 */
export const LEARN_MEMORY = `import { readFileSync } from "node:fs";
import { learnOutcomes } from "langchain-gavel";
import { createHashingEmbeddings } from "langchain-gavel/eval";
import { createVectraStrategyMemory } from "langchain-gavel/vectra";

const [outcomesFile, folder] = process.argv.slice(2);
const records = readFileSync(outcomesFile, "utf8").trim().split("\\n").map((line) => JSON.parse(line));
const embeddings = createHashingEmbeddings();
const memory = await createVectraStrategyMemory({ folder, embeddings });
const learned = await learnOutcomes(memory, records, { embeddings });
const size = await memory.size();
await memory.close();
console.log(JSON.stringify({ ...learned, size }));
`;

/** The two requests {@link ROUTE_MEMORY} routes: one like the math prompts, one like the capitals. */
export const MEMORY_REQUESTS = ["Multiply 7 by 8.", "Which city is the capital of Peru?"];

/**
 * A router in `mode: "memory"` over a vectra folder it opens (a new process: nothing cached) and a
 * SQLite ledger: argv `FOLDER LEDGER [AUCTION_ID …]`. First it reports outcomes for auctions an
 * earlier process routed (the ids given); then it routes {@link MEMORY_REQUESTS}, scoring each
 * answer twice. Prints `{ rescored, sizeBefore, sizeAfter, routed: [{ auctionId, path, reason,
 * winner, calls, modelCalls, first, second }] }`; an outcome prints `"true"`/`"false"` when
 * recorded, else the `RouterOutcomeError`'s reason.
 */
export const ROUTE_MEMORY = `import { AuctionRouter, RouterOutcomeError } from "langchain-gavel";
import { createHashingEmbeddings } from "langchain-gavel/eval";
import { createSqliteLedger } from "langchain-gavel/sqlite";
import { ScriptedChatModel } from "langchain-gavel/testing";
import { createVectraStrategyMemory } from "langchain-gavel/vectra";

const [folder, ledgerPath, ...earlier] = process.argv.slice(2);
const embeddings = createHashingEmbeddings();
const memory = await createVectraStrategyMemory({ folder, embeddings });
const ledger = createSqliteLedger({ path: ledgerPath });
const models = {
  mini: new ScriptedChatModel({ model: "mini", replies: () => "mini's answer" }),
  large: new ScriptedChatModel({ model: "large", replies: () => "large's answer" }),
};
const router = new AuctionRouter({
  pool: [
    { name: "mini", model: models.mini, price: { inputPerMillion: 0.1, outputPerMillion: 0.4 } },
    { name: "large", model: models.large, price: { inputPerMillion: 10, outputPerMillion: 30 } },
  ],
  memory,
  embeddings,
  ledger,
  mode: "memory",
});
const score = async (auctionId, outcome) => {
  try {
    return String(await router.recordOutcome(auctionId, outcome));
  } catch (error) {
    return RouterOutcomeError.isInstance(error) ? error.reason : "other: " + String(error);
  }
};
const rescored = [];
for (const auctionId of earlier) rescored.push(await score(auctionId, { correct: true }));
const sizeBefore = await memory.size();
const routed = [];
for (const prompt of ${JSON.stringify(MEMORY_REQUESTS)}) {
  const before = { mini: models.mini.calls.length, large: models.large.calls.length };
  const answer = await router.invoke(prompt);
  const { auctionId, path, reason, winner, calls } = answer.response_metadata.gavel.auction;
  const modelCalls = { mini: models.mini.calls.length - before.mini, large: models.large.calls.length - before.large };
  const first = await score(auctionId, { correct: true });
  const second = await score(auctionId, { correct: true });
  routed.push({ auctionId, path, reason, winner, calls, modelCalls, text: answer.text, first, second });
}
const sizeAfter = await memory.size();
await memory.close();
await ledger.close();
console.log(JSON.stringify({ rescored, sizeBefore, sizeAfter, routed }));
`;

/**
 * Made-up canonical outcome lines (docs/evaluation.md), two members: on 16 "Multiply A by B."
 * prompts `mini` is wrong and `large` right; on 16 "Which city is the capital of X?" prompts both
 * are right. 64 lines, 32 prompts. The two topics share no word, so the hashing embedder keeps them apart.
 */
export function routerOutcomeLines(): string {
  const countries = ["France", "Japan", "Kenya", "Chile", "Norway", "Egypt", "Canada", "India"];
  const more = ["Spain", "Ghana", "Italy", "Brazil", "Poland", "Nepal", "Cuba", "Iran"];
  const lines: object[] = [];
  [...countries, ...more].forEach((country, i) => {
    const math = { prompt_id: `math-${i}`, prompt: `Multiply ${11 + i} by ${3 + (i % 5)}.`, eval_name: "made-up" };
    const capital = {
      prompt_id: `capital-${i}`,
      prompt: `Which city is the capital of ${country}?`,
      eval_name: "made-up",
    };
    lines.push(
      { ...math, model: "mini", correct: 0, cost_usd: 0.0001 },
      { ...math, model: "large", correct: 1, cost_usd: 0.01 },
      { ...capital, model: "mini", correct: 1, cost_usd: 0.0001 },
      { ...capital, model: "large", correct: 1, cost_usd: 0.01 },
    );
  });
  return `${lines.map((line) => JSON.stringify(line)).join("\n")}\n`;
}

/**
 * A consumer of the router's new surface, type-checked under `--strict` without `skipLibCheck`:
 * docs/routing-modes.md's auto-mode and feedback snippets as written there (with OpenAI members and
 * embeddings), the refusal's typed reason, and memory mode over a vectra folder loaded by
 * `learnOutcomes`.
 */
export const ROUTER_CONSUMER_FILE = `import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import {
  AuctionRouter,
  createInMemoryStrategyMemory,
  type LearnableOutcome,
  learnOutcomes,
  type RouterMetadata,
  RouterOutcomeError,
  type RouterOutcomeReason,
} from "langchain-gavel";
import { createVectraStrategyMemory } from "langchain-gavel/vectra";

const mini = new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "sk-not-used" });
const large = new ChatOpenAI({ model: "gpt-4o", apiKey: "sk-not-used" });
const embeddings = new OpenAIEmbeddings({ model: "text-embedding-3-small", apiKey: "sk-not-used" });

// docs/routing-modes.md, "Which router, when"
const router = new AuctionRouter({
  pool: [
    { name: "mini", model: mini },
    { name: "large", model: large },
  ],
  memory: createInMemoryStrategyMemory({ embeddings }),
  embeddings,
  mode: "auto",
  lambda: 0.15,
});

export async function routeOnce(): Promise<string | undefined> {
  const answer = await router.invoke("What is 17 * 23?");
  const { auctionId, path, reason, calls } = (answer.response_metadata.gavel as RouterMetadata).auction;
  await router.recordOutcome(auctionId, { correct: answer.text.includes("391") });
  // docs/routing-modes.md, "The feedback loop"
  const graded: boolean = await router.recordOutcome(auctionId, { member: "mini", score: 0.2 });
  return graded ? \`\${path}: \${reason} (\${calls?.join(", ")})\` : undefined;
}

export function refusal(error: unknown): RouterOutcomeReason | undefined {
  return RouterOutcomeError.isInstance(error) ? error.reason : undefined;
}

// The options and the refusal reasons are typed, not \`any\`: a wrong mode or reason does not compile.
export const wrongMode = () =>
  // @ts-expect-error: "memroy" is not a bidding mode
  new AuctionRouter({ pool: [{ name: "mini", model: mini }], embeddings, mode: "memroy" });
// @ts-expect-error: not a reason recordOutcome refuses with
export const wrongReason: RouterOutcomeReason = "double_count";

export async function memoryRouter(records: readonly LearnableOutcome[]): Promise<AuctionRouter> {
  const memory = await createVectraStrategyMemory({ folder: ".gavel/memory", embeddings });
  const learned: { auctions: number; entries: number } = await learnOutcomes(memory, records, { embeddings });
  if (learned.entries === 0) throw new Error("nothing learned");
  return new AuctionRouter({
    pool: [
      { name: "mini", model: mini, price: { inputPerMillion: 0.15, outputPerMillion: 0.6 } },
      { name: "large", model: large },
    ],
    memory,
    embeddings,
    mode: "memory",
    memoryBids: { confidence: { minEvidence: 3, maxSpread: 0.15 }, explorationRate: 0.05 },
  });
}
`;
