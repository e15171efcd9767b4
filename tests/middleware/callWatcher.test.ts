/**
 * An aborted model call whose reply still comes (a model that ignores its signal): charged at the
 * reply's usage, not at the whole reservation — and a watched model behaves as the model itself.
 */
import { HumanMessage } from "@langchain/core/messages";
import { createAgent } from "langchain";
import { describe, expect, it, vi } from "vitest";
import { type BudgetEvent, createTokenBudget } from "../../src/budget/index.js";
import { ModelCallWatcher } from "../../src/middleware/callWatcher.js";
import { tokenBudgetMiddleware } from "../../src/middleware/index.js";
import { ScriptedChatModel } from "../helpers/scriptedChatModel.js";

describe("tokenBudgetMiddleware: an aborted call whose reply still comes", () => {
  it("is charged at the usage of the late reply (once), not at the whole reservation", async () => {
    const controller = new AbortController();
    let deliver: () => void = () => undefined;
    const model = new ScriptedChatModel({
      model: "gpt-4o-mini",
      maxTokens: 256,
      // Ignores its signal: the caller leaves, the reply comes afterwards all the same.
      replies: async () => {
        controller.abort(new Error("caller left"));
        await new Promise<void>((resolve) => {
          deliver = resolve;
        });
        return { content: "Late.", usage: { inputTokens: 30, outputTokens: 7 } };
      },
    });
    const events: BudgetEvent[] = [];
    const budget = createTokenBudget({ limits: { global: { maxUsd: 1 } }, onEvent: (event) => events.push(event) });
    const agent = createAgent({ model, middleware: [tokenBudgetMiddleware({ budget })] });

    await expect(agent.invoke({ messages: [new HumanMessage("Hi")] }, { signal: controller.signal })).rejects.toThrow(
      /caller left/,
    );
    expect(budget.outstanding).toBe(1); // held until the reply comes (or the grace period passes)
    deliver();
    await vi.waitFor(() => expect(budget.outstanding).toBe(0));

    const closes = events.filter((event) => event.type === "settle" || event.type === "release");
    expect(closes).toHaveLength(1);
    // Before: the whole reservation (the prompt + the 256-token cap).
    expect(closes[0]).toMatchObject({
      type: "settle",
      settlement: { usage: { inputTokens: 30, outputTokens: 7, estimated: false } },
    });
    expect(budget.snapshot()[0]?.spentTokens).toBe(37);
  });
});

describe("ModelCallWatcher.watch", () => {
  it("hands on the model itself: its fields, its methods, its replies", async () => {
    const model = new ScriptedChatModel({ model: "gpt-4o-mini", maxTokens: 16, replies: ["hello world"] });
    const watcher = new ModelCallWatcher(undefined);
    const watched = watcher.watch(model);

    expect(watched).toBeInstanceOf(ScriptedChatModel);
    expect(watched.maxTokens).toBe(16);
    expect(watched._llmType()).toBe(model._llmType());
    const reply = await watched.bindTools([]).invoke([new HumanMessage("Hi")]);
    expect(reply.content).toBe("hello world");
    expect(watcher.sent()).toBe(true);
    await expect(watcher.lateUsage("gpt-4o-mini", 8)).resolves.toMatchObject({ outputTokens: 2 });
    expect(watcher.streamedUsage("gpt-4o-mini", 8)).toBeUndefined(); // nothing was streamed
  });

  it("sees a run that starts with its signal aborted as never sent", async () => {
    const model = new ScriptedChatModel({ model: "gpt-4o-mini", replies: ["never"] });
    const controller = new AbortController();
    controller.abort(new Error("gone"));
    const watcher = new ModelCallWatcher(controller.signal);
    await watcher
      .watch(model)
      .bindTools([])
      .invoke([new HumanMessage("Hi")], { signal: controller.signal })
      .catch(() => undefined);
    expect(watcher.sent()).toBe(false);
  });
});
