/**
 * Tool calls priced (issue 14, item 8): a price per tool call in the budget's price table, charged
 * by `tokenBudgetMiddleware` through `wrapToolCall` (reserve, then settle), per-tool call limits,
 * the charges in a real SQLite ledger grouped by tool, and the remaining-budget note with tool spend.
 * Through a real `createAgent` with a scripted model.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HumanMessage, ToolMessage } from "@langchain/core/messages";
import { createAgent, tool } from "langchain";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { createMemoryBudgetStore, createTokenBudget, UnknownToolPriceError } from "../../src/budget/index.js";
import { BudgetExhaustedError, ConfigError } from "../../src/errors.js";
import { createBudgetEventRecorder } from "../../src/ledger/budget-events.js";
import { type TokenBudgetCharge, tokenBudgetMiddleware } from "../../src/middleware/index.js";
import { AuctionRouter } from "../../src/router/index.js";
import { ScriptedChatModel, type ScriptedResponder } from "../helpers/scriptedChatModel.js";

/** A "paid search API": counts its real executions. */
function searchTool() {
  const executed: string[] = [];
  const search = tool(
    async ({ query }) => {
      executed.push(query);
      if (query === "fail") throw new Error("search backend unavailable");
      return `Results for ${query}.`;
    },
    { name: "web_search", description: "Search the web", schema: z.object({ query: z.string() }) },
  );
  return { search, executed };
}

/** A model that asks for `perTurn` searches per turn for `turns` turns, then answers. */
function searchingModel(turns: number, perTurn = 1, queries?: string[]): ScriptedChatModel {
  const replies: ScriptedResponder = (call) =>
    call.index < turns
      ? {
          toolCalls: Array.from({ length: perTurn }, (_, slot) => ({
            name: "web_search",
            args: { query: queries?.[call.index * perTurn + slot] ?? `q${call.index}-${slot}` },
            id: `call_${call.index}_${slot}`,
          })),
          usage: { inputTokens: 100, outputTokens: 20 },
        }
      : { content: "Done.", usage: { inputTokens: 100, outputTokens: 20 } };
  return new ScriptedChatModel({ model: "gpt-4o-mini", maxTokens: 50, replies });
}

const SEARCH_PRICE = { "tool:web_search": { usdPerCall: 0.01 } };
const modelUsd = (calls: number) => calls * ((100 * 0.15 + 20 * 0.6) / 1e6);
const toolMessages = (messages: unknown[]) => messages.filter((message) => ToolMessage.isInstance(message));
const ask = (content: string) => ({ messages: [new HumanMessage(content)] });

let directory: string | undefined;
afterEach(() => {
  if (directory) rmSync(directory, { recursive: true, force: true });
  directory = undefined;
});

describe("tool prices in the budget's price table", () => {
  it("holds a tool call's price and token equivalent, and settles at its price", () => {
    const budget = createTokenBudget({
      limits: { global: { maxUsd: 1, maxTokens: 10_000 } },
      prices: { "tool:web_search": { usdPerCall: 0.01, tokensPerCall: 250 } },
    });
    const reservation = budget.reserve({ model: "tool:web_search", inputTokens: 250, maxOutputTokens: 0 });
    expect(reservation).toMatchObject({ tokens: 250, usd: 0.01 });
    const settlement = budget.settle(reservation, { inputTokens: 250, outputTokens: 0 });
    expect(settlement).toMatchObject({ tokens: 250, usd: 0.01, overrun: false });
    expect(budget.remaining()).toEqual({ tokens: 9_750, usd: 0.99 });
  });

  it("holds and settles a tool call the same way in a store-backed budget", async () => {
    const budget = createTokenBudget({
      limits: { global: { maxUsd: 1 } },
      prices: { "tool:web_search": { usdPerCall: 0.01 } },
      store: createMemoryBudgetStore(),
    });
    const reservation = await budget.reserve({ model: "tool:web_search", inputTokens: 0, maxOutputTokens: 0 });
    expect(reservation.usd).toBe(0.01);
    expect(await budget.settle(reservation, { inputTokens: 0, outputTokens: 0 })).toMatchObject({ usd: 0.01 });
    expect((await budget.remaining()).usd).toBeCloseTo(0.99, 12);
  });

  it("names the tool in a bad entry, and refuses an unpriced tool only with requirePrices: true", () => {
    expect(() =>
      createTokenBudget({
        limits: {},
        prices: { "tool:web_search": { inputPerMillion: 1, outputPerMillion: 1 } as never },
      }),
    ).toThrow(
      /prices\.tool:web_search: tool "web_search": Unrecognized keys: "inputPerMillion", "outputPerMillion"; expected \{ usdPerCall, tokensPerCall\? \}/,
    );
    expect(() => tokenBudgetMiddleware({ prices: { "tool:web_search": { usdPerCall: -1 } } })).toThrow(ConfigError);
    const lenient = createTokenBudget({ limits: { global: { maxUsd: 1 } } });
    expect(lenient.reserve({ model: "tool:free_tool", inputTokens: 0, maxOutputTokens: 0 }).usd).toBe(0);
    const strict = createTokenBudget({ limits: { global: { maxUsd: 1 } }, requirePrices: true });
    expect(() => strict.reserve({ model: "tool:free_tool", inputTokens: 0, maxOutputTokens: 0 })).toThrow(
      UnknownToolPriceError,
    );
  });
});

describe("tokenBudgetMiddleware charging tool calls", () => {
  it("charges every call of a priced tool to the state, the shared budget and the ledger (grouped by tool)", async () => {
    directory = mkdtempSync(join(tmpdir(), "gavel-tools-"));
    const ledger = createSqliteLedger({ path: join(directory, "ledger.db") });
    const recorder = createBudgetEventRecorder(ledger);
    const budget = createTokenBudget({
      limits: { global: { maxUsd: 1 } },
      prices: SEARCH_PRICE,
      onEvent: recorder.onEvent,
    });
    const { search, executed } = searchTool();
    const charges: TokenBudgetCharge[] = [];
    const agent = createAgent({
      model: searchingModel(2),
      tools: [search],
      middleware: [
        tokenBudgetMiddleware({ budget, prices: SEARCH_PRICE, onCharge: (charge) => void charges.push(charge) }),
      ],
    });
    const result = await agent.invoke(ask("Find two things."));

    // Before: the tool ran twice and nothing was charged for it.
    expect(executed).toEqual(["q0-0", "q1-0"]);
    expect(charges.filter((charge) => charge.tool).map((charge) => [charge.model, charge.usd])).toEqual([
      ["tool:web_search", 0.01],
      ["tool:web_search", 0.01],
    ]);
    expect(result.tokenBudget.runToolCalls).toEqual({ web_search: 2 });
    expect(result.tokenBudget.runToolUsd).toBeCloseTo(0.02, 12);
    expect(result.tokenBudget.runUsd).toBeCloseTo(modelUsd(3) + 0.02, 12);
    expect(budget.snapshot()[0]?.spentUsd).toBeCloseTo(modelUsd(3) + 0.02, 9);
    expect(budget.outstanding).toBe(0);

    await recorder.flush();
    const byTool = await ledger.spend({ by: "tool" });
    expect(byTool.find((row) => row.key === "web_search")).toMatchObject({ calls: 2, usd: 0.02 });
    expect(byTool.find((row) => row.key === null)).toMatchObject({ calls: 3 }); // the model calls
    await ledger.close();
  });

  it("stops a tool at its per-run limit with a tool message that says so, and never runs it", async () => {
    const { search, executed } = searchTool();
    const agent = createAgent({
      model: searchingModel(3),
      tools: [search],
      middleware: [tokenBudgetMiddleware({ prices: SEARCH_PRICE, toolCallLimit: { web_search: { run: 2 } } })],
    });
    const result = await agent.invoke(ask("Search three times."));

    // Before: the third search ran too.
    expect(executed).toEqual(["q0-0", "q1-0"]);
    const refused = toolMessages(result.messages).at(-1) as ToolMessage;
    expect(refused.status).toBe("error");
    expect(refused.content).toContain(
      'Tool call limit reached: "web_search" may be called 2 times per run and 2 were made.',
    );
    expect(refused.content).toContain('Do not call "web_search" again');
    expect(result.tokenBudget.runToolCalls).toEqual({ web_search: 2 });
    expect(result.tokenBudget.runToolUsd).toBeCloseTo(0.02, 12);
    expect(result.messages.at(-1)?.content).toBe("Done.");
  });

  it("counts parallel calls of one step in order: two of three run under a limit of two, all charged once", async () => {
    const { search, executed } = searchTool();
    const charges: TokenBudgetCharge[] = [];
    const agent = createAgent({
      model: searchingModel(1, 3),
      tools: [search],
      middleware: [
        tokenBudgetMiddleware({
          prices: SEARCH_PRICE,
          toolCallLimit: { web_search: { run: 2 } },
          onCharge: (charge) => void charges.push(charge),
        }),
      ],
    });
    const result = await agent.invoke(ask("Search three things at once."));

    expect(executed.sort()).toEqual(["q0-0", "q0-1"]);
    const answers = toolMessages(result.messages) as ToolMessage[];
    expect(answers.map((answer) => [answer.tool_call_id, answer.status ?? "success"])).toEqual([
      ["call_0_0", "success"],
      ["call_0_1", "success"],
      ["call_0_2", "error"],
    ]);
    expect(result.tokenBudget.runToolCalls).toEqual({ web_search: 2 });
    expect(result.tokenBudget.runToolUsd).toBeCloseTo(0.02, 12);
    expect(charges.filter((charge) => charge.tool)).toHaveLength(2);
  });

  it("counts thread limits across invocations, and the '*' limit over all tools", async () => {
    const { MemorySaver } = await import("@langchain/langgraph");
    const { search, executed } = searchTool();
    // Searches once at the start of every invocation, then answers.
    const model = new ScriptedChatModel({
      model: "gpt-4o-mini",
      maxTokens: 50,
      replies: (call) =>
        HumanMessage.isInstance(call.messages.at(-1))
          ? { toolCalls: [{ name: "web_search", args: { query: `q${call.index}` } }] }
          : { content: "Done." },
    });
    const agent = createAgent({
      model,
      tools: [search],
      checkpointer: new MemorySaver(),
      middleware: [tokenBudgetMiddleware({ toolCallLimit: { "*": { thread: 1 } } })],
    });
    const config = { configurable: { thread_id: "t-1" } };
    const first = await agent.invoke(ask("First."), config);
    const second = await agent.invoke(ask("Second."), config);

    expect(executed).toEqual(["q0"]);
    expect(first.tokenBudget.runToolCalls).toEqual({ web_search: 1 });
    expect(second.tokenBudget.runToolCalls).toEqual({});
    expect(second.tokenBudget.threadToolCalls).toEqual({ web_search: 1 });
    expect((toolMessages(second.messages).at(-1) as ToolMessage).content).toContain(
      "Tool call limit reached: Tools may be called 1 time per thread and 1 was made.",
    );
  });

  it("refuses a tool call the run's USD limit cannot afford, naming the limit and the price", async () => {
    const { search, executed } = searchTool();
    const agent = createAgent({
      model: searchingModel(2),
      tools: [search],
      middleware: [
        tokenBudgetMiddleware({
          prices: { "tool:web_search": { usdPerCall: 0.004 } },
          runLimit: { maxUsd: 0.005 },
        }),
      ],
    });
    const result = await agent.invoke(ask("Search twice."));

    expect(executed).toEqual(["q0-0"]);
    const refused = toolMessages(result.messages).at(-1) as ToolMessage;
    expect(refused.status).toBe("error");
    expect(refused.content).toMatch(
      /^Budget exhausted: the run limit is \$0\.005 and \$0\.00\d+ are spent; a "web_search" call costs \$0\.004\./,
    );
    expect(result.tokenBudget.runUsd).toBeLessThanOrEqual(0.005);
  });

  it("charges a tool that throws (it ran) and tells the model, as LangChain does without the middleware", async () => {
    const { search, executed } = searchTool();
    const budget = createTokenBudget({ limits: { global: { maxUsd: 1 } }, prices: SEARCH_PRICE });
    const agent = createAgent({
      model: searchingModel(1, 1, ["fail"]),
      tools: [search],
      middleware: [tokenBudgetMiddleware({ budget, prices: SEARCH_PRICE })],
    });
    const result = await agent.invoke(ask("Search."));

    expect(executed).toEqual(["fail"]);
    const failed = toolMessages(result.messages)[0] as ToolMessage;
    expect(failed.status).toBe("error");
    expect(failed.content).toContain("search backend unavailable");
    expect(result.tokenBudget.runToolUsd).toBeCloseTo(0.01, 12);
    expect(budget.snapshot()[0]?.spentUsd).toBeCloseTo(modelUsd(2) + 0.01, 9);
    expect(budget.outstanding).toBe(0);
    expect(result.messages.at(-1)?.content).toBe("Done.");
  });

  it("releases a call whose arguments fail the tool's schema (the tool never ran)", async () => {
    const { search, executed } = searchTool();
    const budget = createTokenBudget({ limits: { global: { maxUsd: 1 } }, prices: SEARCH_PRICE });
    const model = new ScriptedChatModel({
      model: "gpt-4o-mini",
      maxTokens: 50,
      replies: [
        { toolCalls: [{ name: "web_search", args: { q: 1 }, id: "bad" }], usage: { inputTokens: 10, outputTokens: 5 } },
        { content: "Done.", usage: { inputTokens: 10, outputTokens: 5 } },
      ],
    });
    const agent = createAgent({
      model,
      tools: [search],
      middleware: [tokenBudgetMiddleware({ budget, prices: SEARCH_PRICE })],
    });
    const result = await agent.invoke(ask("Search."));

    expect(executed).toEqual([]);
    expect((toolMessages(result.messages)[0] as ToolMessage).status).toBe("error");
    expect(result.tokenBudget.runToolUsd ?? 0).toBe(0);
    expect(budget.outstanding).toBe(0);
    expect(budget.snapshot()[0]?.spentUsd).toBeCloseTo((20 * 0.15 + 10 * 0.6) / 1e6, 12);
  });

  it("tells the model its remaining budget with tool spend in it, each tool's price and the calls left", async () => {
    const { search } = searchTool();
    const model = searchingModel(2);
    const agent = createAgent({
      model,
      tools: [search],
      middleware: [
        tokenBudgetMiddleware({
          prices: SEARCH_PRICE,
          runLimit: { maxUsd: 0.1 },
          toolCallLimit: { web_search: { run: 3 } },
          injectRemainingBudget: true,
        }),
      ],
    });
    await agent.invoke(ask("Search twice."));

    const notes = model.recorder.calls.map((call) => call.messages[0]?.text ?? "");
    expect(notes[0]).toContain("Remaining budget: ~$0.1000");
    expect(notes[0]).toContain("Tool calls: web_search $0.01 each, 3 calls left");
    // After one model call and one search: $0.1 − $0.01 − one model call.
    expect(notes[1]).toContain(`Remaining budget: ~$${(0.1 - 0.01 - modelUsd(1)).toFixed(4)}`);
    expect(notes[1]).toContain("web_search $0.01 each, 2 calls left");
  });

  it("spends the budget a router screens its members against: after the tools' spend the router refuses", async () => {
    const budget = createTokenBudget({ limits: { global: { maxUsd: 0.025 } }, prices: SEARCH_PRICE });
    const { search } = searchTool();
    const agent = createAgent({
      model: searchingModel(2),
      tools: [search],
      middleware: [tokenBudgetMiddleware({ budget, prices: SEARCH_PRICE })],
    });
    await agent.invoke(ask("Search twice."));
    expect(budget.remaining().usd).toBeCloseTo(0.025 - 0.02 - modelUsd(3), 9); // two searches, three model calls

    // A gpt-4o member's answer reserves ~$0.0051 (512-token cap): it fitted in $0.025, not in what is left.
    const member = new ScriptedChatModel({ model: "gpt-4o", maxTokens: 512, replies: ["Answer."] });
    const router = new AuctionRouter({ pool: [{ name: "large", model: member }], jury: "none", budget });
    await expect(router.invoke("Explain.")).rejects.toSatisfy((error) => BudgetExhaustedError.isInstance(error));
    expect(member.recorder.callCount).toBe(0);
  });

  it("refuses an unpriced tool with requirePrices: true even when no tool is priced or limited (it ran before)", async () => {
    const { search, executed } = searchTool();
    const agent = createAgent({
      model: searchingModel(1),
      tools: [search],
      middleware: [
        tokenBudgetMiddleware({
          requirePrices: true,
          prices: { "gpt-4o-mini": { inputPerMillion: 0.15, outputPerMillion: 0.6 } },
        }),
      ],
    });
    // Before: no wrapToolCall was installed, so the unpriced search ran and the run finished.
    const error = await agent.invoke(ask("Search.")).catch((caught: unknown) => caught);
    // LangChain wraps an error from a middleware hook (a MiddlewareError); ours is its cause.
    const refused = (error as { cause?: unknown }).cause ?? error;
    expect(UnknownToolPriceError.isInstance(refused)).toBe(true);
    expect((refused as UnknownToolPriceError).tool).toBe("web_search");
    expect((refused as Error).message).toContain('prices: { "tool:web_search": { usdPerCall: 0.01 } }');
    expect(executed).toEqual([]);
    // A priced tool under requirePrices: true runs and is charged as usual.
    const priced = searchTool();
    const result = await createAgent({
      model: searchingModel(1),
      tools: [priced.search],
      middleware: [tokenBudgetMiddleware({ requirePrices: true, prices: SEARCH_PRICE })],
    }).invoke(ask("Search."));
    expect(priced.executed).toEqual(["q0-0"]);
    expect(result.tokenBudget.runToolUsd).toBeCloseTo(0.01, 12);
  });

  it("leaves an agent without priced or limited tools to LangChain's own tool handling", () => {
    const middleware = tokenBudgetMiddleware({ runLimit: 10_000 });
    expect(middleware.wrapToolCall).toBeUndefined();
    expect(tokenBudgetMiddleware({ requirePrices: false }).wrapToolCall).toBeUndefined();
    expect(tokenBudgetMiddleware({ requirePrices: true }).wrapToolCall).toBeTypeOf("function");
    expect(tokenBudgetMiddleware({ toolCallLimit: { web_search: { run: 1 } } }).wrapToolCall).toBeTypeOf("function");
    expect(() => tokenBudgetMiddleware({ toolCallLimit: { web_search: { perRun: 1 } as never } })).toThrow(ConfigError);
  });
});
