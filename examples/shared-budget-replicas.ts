/**
 * Two replicas, one budget, offline: this program starts two copies of itself as separate Node
 * processes (as two replicas of an app behind a load balancer would be). Each runs a LangChain
 * agent gated by `tokenBudgetMiddleware` on a budget whose accounts live in one shared store, so
 * together they never spend more than the one limit.
 *
 * The store is a SQLite file (processes of one host). With DATABASE_URL set to a PostgreSQL server
 * (`npm run db:start` starts one), it is PostgreSQL (replicas on many hosts).
 *
 * Run: npx tsx examples/shared-budget-replicas.ts
 */
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { HumanMessage } from "@langchain/core/messages";
import { createAgent } from "langchain";
import { type BudgetStore, budgetExhaustionOf, createTokenBudget, tokenBudgetMiddleware } from "langchain-gavel";
import { createPostgresBudgetStore } from "langchain-gavel/postgres";
import { createSqliteBudgetStore } from "langchain-gavel/sqlite";
import { ScriptedChatModel } from "langchain-gavel/testing";

const LIMIT = { maxTokens: 4_000 }; // per run, for both replicas together
const QUESTIONS_PER_REPLICA = 25;

/** The shared store: PostgreSQL when DATABASE_URL is set, else a SQLite file. */
async function openStore(path: string): Promise<BudgetStore> {
  const url = process.env.DATABASE_URL;
  return url
    ? createPostgresBudgetStore({ connectionString: url, schema: "gavel_example" })
    : createSqliteBudgetStore({ path });
}

/** One replica: answer questions until the shared budget says no. */
async function replica(name: string, path: string, runId: string): Promise<void> {
  const store = await openStore(path);
  const budget = createTokenBudget({ limits: { run: LIMIT }, store, leaseMs: 60_000 });
  // A scripted stand-in for a chat model (offline); it reports usage like a real provider.
  const model = new ScriptedChatModel({
    model: "gpt-4o-mini",
    maxTokens: 64,
    replies: () => ({
      content: "An auction gives the right to answer to the best bid.",
      usage: { inputTokens: 40, outputTokens: 60 },
    }),
  });
  const agent = createAgent({ model, tools: [], middleware: [tokenBudgetMiddleware({ budget })] });
  let answered = 0;
  for (let index = 0; index < QUESTIONS_PER_REPLICA; index += 1) {
    const result = await agent.invoke(
      { messages: [new HumanMessage(`${name}: what is an auction? (#${index})`)] },
      { context: { tokenBudget: { runId } } }, // both replicas charge the same run account
    );
    if (budgetExhaustionOf(result.messages.at(-1))) break;
    answered += 1;
  }
  const refused = answered < QUESTIONS_PER_REPLICA ? " (the shared budget refused the rest)" : "";
  console.log(`${name}: answered ${answered} of ${QUESTIONS_PER_REPLICA} questions${refused}`);
  await store.close();
}

if (process.argv[2] === "replica") {
  await replica(process.argv[3] as string, process.argv[4] as string, process.argv[5] as string);
} else {
  const folder = mkdtempSync(join(tmpdir(), "gavel-replicas-"));
  const path = join(folder, "budget.db");
  const self = fileURLToPath(import.meta.url);
  const runId = `example-run-${Date.now()}`; // a fresh account each time the example runs
  // Two processes, started together, racing for the same budget.
  await Promise.all(
    ["replica-a", "replica-b"].map(
      (name) =>
        new Promise<void>((resolve, reject) => {
          const child = fork(self, ["replica", name, path, runId], { execArgv: process.execArgv });
          child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited with ${code}`))));
        }),
    ),
  );
  const store = await openStore(path);
  const [account] = await store.accounts([{ scope: "run", scopeId: runId }]);
  console.log(
    `Spent together: ${account?.spentTokens} of ${LIMIT.maxTokens} tokens (still held: ${account?.reservedTokens}): ` +
      "two processes, one limit.",
  );
  await store.close();
  rmSync(folder, { recursive: true, force: true });
}
