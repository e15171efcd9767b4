/**
 * Every debate call has a deadline (`timeoutMs`): an agent whose model never answers and ignores
 * its abort signal is abandoned at the deadline and dropped from the round (`reason: "timeout"`),
 * the debate goes on with the others, and the abandoned call is charged at what the provider
 * bills — the round's budget at its whole reservation (recorded in the ledger), the shared budget
 * at the late reply's usage when it comes, else at the whole reservation, never released at zero.
 */
import type { BaseLanguageModelInput } from "@langchain/core/language_models/base";
import type { AIMessageChunk } from "@langchain/core/messages";
import { describe, expect, it, vi } from "vitest";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { type BudgetEvent, createTokenBudget } from "../../src/budget/index.js";
import { createAuctionDebate, DEFAULT_DEBATE_TIMEOUT_MS } from "../../src/debate/index.js";
import { ConfigError } from "../../src/errors.js";
import { MAX_TIMEOUT_MS } from "../../src/timeouts.js";
import { ScriptedChatModel, type ScriptedChatModelCallOptions } from "../helpers/scriptedChatModel.js";
import { GOLD, scriptedAgents, usageCounter } from "./scripted-agents.js";

/** A promise settled from outside. */
function deferred<T>() {
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((_resolve, fail) => {
    reject = fail;
  });
  return { promise, reject };
}

/** A model whose every call waits for `late`, whatever its signal says (a client that never wires it up). */
class DeafChatModel extends ScriptedChatModel {
  static late: Promise<AIMessageChunk> = new Promise(() => {});
  static signals: (AbortSignal | undefined)[] = [];

  override invoke(_input: BaseLanguageModelInput, options?: ScriptedChatModelCallOptions) {
    DeafChatModel.signals.push(options?.signal);
    return DeafChatModel.late;
  }
}

/** The scripted agents with `drifter` replaced by a deaf one. */
function agentsWithDeafDrifter() {
  const { agents } = scriptedAgents();
  return agents.map((agent) =>
    agent.name === "drifter" ? { ...agent, model: new DeafChatModel({ model: "gpt-4o-mini", replies: [] }) } : agent,
  );
}

function sharedBudgetWithEvents() {
  const events: BudgetEvent[] = [];
  const budget = createTokenBudget({
    limits: { global: { maxTokens: 1_000_000 } },
    onEvent: (event) => events.push(event),
  });
  return { budget, events };
}

describe("createAuctionDebate: an agent that hangs and ignores its abort signal", () => {
  it("is dropped at timeoutMs, the debate finishes, and its calls are charged at their reservations", async () => {
    const late = deferred<AIMessageChunk>();
    DeafChatModel.late = late.promise;
    DeafChatModel.signals = [];
    const ledger = createSqliteLedger({ path: ":memory:" });
    const shared = sharedBudgetWithEvents();
    const counter = usageCounter();
    const debate = createAuctionDebate({
      agents: agentsWithDeafDrifter(),
      budget: 4000,
      maxRounds: 3,
      timeoutMs: 50,
      ledger,
      sharedBudget: shared.budget,
    });

    const result = await debate.invoke({ question: "What is 6 times 7?" }, { callbacks: [counter.handler] });

    expect(result.finalAnswer).toBe(GOLD);
    expect(result.stopReason).toBe("converged");
    for (const round of result.rounds) {
      expect(round.drops).toEqual([
        {
          agent: "drifter",
          stage: "intent",
          reason: "timeout",
          detail: expect.stringContaining('Debate agent "drifter" intent did not finish within 50 ms'),
        },
      ]);
    }
    expect(DeafChatModel.signals.length).toBe(result.rounds.length);
    expect(DeafChatModel.signals.every((signal) => signal?.aborted === true)).toBe(true); // told, did not listen

    // The round's budget: charged the whole reservation at once, in the ledger and in spentTokens.
    let abandonedTokens = 0;
    for (const round of result.rounds) {
      const charges = (await ledger.getAuction(round.auctionId ?? ""))?.charges ?? [];
      const drifter = charges.filter((charge) => charge.agent === "drifter");
      const reserved = drifter.find((charge) => charge.kind === "reserve");
      const settled = drifter.find((charge) => charge.kind === "settle");
      expect(drifter.some((charge) => charge.kind === "release")).toBe(false);
      expect(settled).toMatchObject({ estimated: true, metadata: { abandoned: true } });
      expect((settled?.inputTokens ?? 0) + (settled?.outputTokens ?? 0)).toBe(
        (reserved?.inputTokens ?? -1) + (reserved?.outputTokens ?? -1),
      );
      abandonedTokens += (settled?.inputTokens ?? 0) + (settled?.outputTokens ?? 0);
    }
    expect(abandonedTokens).toBeGreaterThan(0);
    expect(result.spentTokens).toBe(counter.tokens + abandonedTokens);

    // The shared budget: the abandoned calls hold their room while the provider may still report them.
    const intents = shared.events.flatMap((event) =>
      event.type === "reserve" && event.reservation.label === "debate.intent" ? [event.reservation] : [],
    );
    const isClosed = (type: "settle" | "release", id: string) =>
      shared.events.some((event) => event.type === type && event.reservation.id === id);
    const open = intents.filter((reservation) => !isClosed("settle", reservation.id)); // the drifter's
    expect(open).toHaveLength(result.rounds.length);
    expect(shared.budget.outstanding).toBe(result.rounds.length);
    // The late reply never comes (the connection drops): each is settled at its whole reservation.
    late.reject(new Error("socket hang up"));
    await vi.waitFor(() => expect(shared.budget.outstanding).toBe(0));
    for (const reservation of open) {
      expect(isClosed("release", reservation.id)).toBe(false);
      const settled = shared.events.find((event) => event.type === "settle" && event.reservation.id === reservation.id);
      expect(settled?.type === "settle" && settled.settlement).toMatchObject({
        tokens: reservation.tokens,
        estimated: true,
      });
    }
    await ledger.close();
  });

  it("with billAbandonedCalls: false, releases the abandoned calls at zero", async () => {
    DeafChatModel.late = new Promise(() => {});
    DeafChatModel.signals = [];
    const shared = sharedBudgetWithEvents();
    const counter = usageCounter();
    const debate = createAuctionDebate({
      agents: agentsWithDeafDrifter(),
      budget: 4000,
      timeoutMs: 50,
      billAbandonedCalls: false,
      sharedBudget: shared.budget,
    });

    const result = await debate.invoke({ question: "What is 6 times 7?" }, { callbacks: [counter.handler] });

    expect(result.finalAnswer).toBe(GOLD);
    expect(result.rounds[0]?.drops[0]).toMatchObject({ agent: "drifter", reason: "timeout" });
    expect(result.spentTokens).toBe(counter.tokens); // nothing charged for the abandoned calls
    await vi.waitFor(() => expect(shared.budget.outstanding).toBe(0));
    const releases = shared.events.filter((event) => event.type === "release");
    expect(releases).toHaveLength(result.rounds.length);
  });
});

describe("createAuctionDebate timeoutMs option", () => {
  it("defaults to DEFAULT_DEBATE_TIMEOUT_MS, the router's answer deadline (5 minutes)", () => {
    expect(DEFAULT_DEBATE_TIMEOUT_MS).toBe(300_000);
  });

  it("refuses a timeout Node cannot schedule, naming the field and the bound", () => {
    const { agents } = scriptedAgents();
    let caught: unknown;
    try {
      createAuctionDebate({ agents, timeoutMs: 2 ** 31 });
    } catch (error) {
      caught = error;
    }
    expect(ConfigError.isInstance(caught)).toBe(true);
    expect((caught as Error).message).toMatch(/timeoutMs/);
    expect((caught as Error).message).toContain(String(MAX_TIMEOUT_MS));
    expect(() => createAuctionDebate({ agents, timeoutMs: MAX_TIMEOUT_MS })).not.toThrow();
  });
});
