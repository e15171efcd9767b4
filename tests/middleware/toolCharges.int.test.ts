/**
 * Tool charges in the ledger, as a user reads them: an agent run whose priced tool calls land in a
 * real SQLite ledger file (read with `gavel ledger spend --by tool`) and in a real PostgreSQL
 * ledger (skipped without a test server: `npm run db:start`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HumanMessage } from "@langchain/core/messages";
import { createAgent, tool } from "langchain";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createPostgresLedger } from "../../adapters/postgres/ledger.js";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { createTokenBudget } from "../../src/budget/index.js";
import { ledgerCommand } from "../../src/cli/ledger.js";
import { createBudgetEventRecorder } from "../../src/ledger/budget-events.js";
import type { AuctionLedger, SpendRow } from "../../src/ledger/types.js";
import { tokenBudgetMiddleware } from "../../src/middleware/index.js";
import { runGavel } from "../helpers/cli.js";
import { describePostgres, freshSchema } from "../helpers/postgres.js";
import { ScriptedChatModel } from "../helpers/scriptedChatModel.js";

const prices = {
  "tool:web_search": { usdPerCall: 0.01 },
  "tool:fetch_page": { usdPerCall: 0.002, tokensPerCall: 300 },
};

const webSearch = tool(async ({ query }) => `Results for ${query}.`, {
  name: "web_search",
  description: "Search the web",
  schema: z.object({ query: z.string() }),
});
const fetchPage = tool(async ({ url }) => `Page ${url}.`, {
  name: "fetch_page",
  description: "Fetch a page",
  schema: z.object({ url: z.string() }),
});

/** One agent run: two searches and a fetch in one step, one more search, then an answer. */
async function runAgent(ledger: AuctionLedger): Promise<void> {
  const recorder = createBudgetEventRecorder(ledger);
  const budget = createTokenBudget({ limits: { global: { maxUsd: 1 } }, prices, onEvent: recorder.onEvent });
  const model = new ScriptedChatModel({
    model: "gpt-4o-mini",
    maxTokens: 50,
    replies: [
      {
        toolCalls: [
          { name: "web_search", args: { query: "a" }, id: "s1" },
          { name: "web_search", args: { query: "b" }, id: "s2" },
          { name: "fetch_page", args: { url: "https://example.com" }, id: "f1" },
        ],
        usage: { inputTokens: 100, outputTokens: 20 },
      },
      {
        toolCalls: [{ name: "web_search", args: { query: "c" }, id: "s3" }],
        usage: { inputTokens: 200, outputTokens: 20 },
      },
      { content: "Done.", usage: { inputTokens: 300, outputTokens: 10 } },
    ],
  });
  const agent = createAgent({
    model,
    tools: [webSearch, fetchPage],
    middleware: [tokenBudgetMiddleware({ budget, prices })],
  });
  const result = await agent.invoke({ messages: [new HumanMessage("Research this.")] });
  expect(result.tokenBudget.runToolCalls).toEqual({ web_search: 3, fetch_page: 1 });
  await recorder.flush();
}

function toolRows(rows: SpendRow[]) {
  return rows.map((row) => ({
    key: row.key,
    calls: row.calls,
    usd: Number(row.usd.toFixed(9)),
    tokens: row.totalTokens,
  }));
}

const EXPECTED = [
  { key: "web_search", calls: 3, usd: 0.03, tokens: 0 },
  { key: "fetch_page", calls: 1, usd: 0.002, tokens: 300 },
  { key: null, calls: 3, usd: Number((((100 + 200 + 300) * 0.15 + 50 * 0.6) / 1e6).toFixed(9)), tokens: 650 },
];

let directory: string | undefined;
afterEach(() => {
  if (directory) rmSync(directory, { recursive: true, force: true });
  directory = undefined;
});

describe("tool charges in a SQLite ledger", () => {
  it("are grouped by tool by ledger.spend and by `gavel ledger spend --by tool`", async () => {
    directory = mkdtempSync(join(tmpdir(), "gavel-tool-ledger-"));
    const path = join(directory, "ledger.db");
    const ledger = createSqliteLedger({ path });
    await runAgent(ledger);
    expect(toolRows(await ledger.spend({ by: "tool" }))).toEqual(EXPECTED);
    await ledger.close();

    const run = await runGavel(
      (writers) => [ledgerCommand(writers)],
      ["ledger", "spend", "--db", path, "--by", "tool"],
    );
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/web_search[\s│]+3[\s│]/);
    expect(run.stdout).toMatch(/fetch_page[\s│]+1[\s│]/);
    expect(run.stdout).toContain("(model calls)");
    const json = await runGavel(
      (writers) => [ledgerCommand(writers)],
      ["ledger", "spend", "--db", path, "--by", "tool", "--json"],
    );
    expect(JSON.parse(json.stdout).map((row: SpendRow) => row.key)).toEqual(["web_search", "fetch_page", null]);
  });
});

describePostgres("tool charges in a PostgreSQL ledger", (url) => {
  it("are grouped by tool as in SQLite", async () => {
    const schema = await freshSchema(url, "tools");
    const ledger = await createPostgresLedger({ connectionString: url, schema: schema.schema });
    try {
      await runAgent(ledger);
      expect(toolRows(await ledger.spend({ by: "tool" }))).toEqual(EXPECTED);
    } finally {
      await ledger.close();
      await schema.drop();
    }
  });
});
