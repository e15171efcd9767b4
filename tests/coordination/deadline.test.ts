/**
 * Every coordination call has a deadline (`timeoutMs`): an executor or a coordinator whose model
 * never answers and ignores its abort signal is abandoned at the deadline and the run goes on with
 * the documented fallback of a failing agent (an executor is recorded with its `error` and does not
 * vote; a missing strategy leaves the executors without one; a missing commitment leaves the
 * belief candidate as the round's answer). Its reservation is charged at what the provider bills:
 * held while the late reply may come, then its usage or the whole reservation, never zero.
 */
import type { BaseLanguageModelInput } from "@langchain/core/language_models/base";
import type { AIMessageChunk } from "@langchain/core/messages";
import { describe, expect, it, vi } from "vitest";
import { type BudgetEvent, createTokenBudget, type Reservation } from "../../src/budget/index.js";
import { createBeliefCoordination, DEFAULT_COORDINATION_TIMEOUT_MS } from "../../src/coordination/index.js";
import { ConfigError } from "../../src/errors.js";
import { extractFinalNumber } from "../../src/eval/data/checkers.js";
import { MAX_TIMEOUT_MS } from "../../src/timeouts.js";
import { ScriptedChatModel, type ScriptedChatModelCallOptions } from "../helpers/scriptedChatModel.js";
import { ScriptedHashingEmbeddings } from "../memory/scripted-embeddings.js";
import { scriptedCoordinator, scriptedExecutor } from "./scripted-team.js";

const QUESTION = "A crate holds six rows of seven bottles. How many bottles?";

/** A promise rejected from outside. */
function deferred<T>() {
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((_resolve, fail) => {
    reject = fail;
  });
  return { promise, reject };
}

/**
 * A model whose every call waits for `late`, whatever its signal says (a client that never wires
 * it up); the signals it was given are pushed to `signals`. Copies (the graph caps a model by
 * rebuilding it) behave the same.
 */
function deafModel(model: string, late: Promise<AIMessageChunk>, signals: (AbortSignal | undefined)[]) {
  class DeafChatModel extends ScriptedChatModel {
    override invoke(_input: BaseLanguageModelInput, options?: ScriptedChatModelCallOptions) {
      signals.push(options?.signal);
      return late;
    }
  }
  return new DeafChatModel({ model, replies: [] });
}

function budgetWithEvents() {
  const events: BudgetEvent[] = [];
  const budget = createTokenBudget({
    limits: { global: { maxTokens: 1_000_000 } },
    onEvent: (event) => events.push(event),
  });
  /** The reservations labelled `label`, and how each was closed (if it was). */
  const reservations = (label: string) =>
    events.flatMap((event) =>
      event.type === "reserve" && event.reservation.label === label ? [event.reservation] : [],
    );
  const closing = (reservation: Reservation) => {
    const settled = events.find((event) => event.type === "settle" && event.reservation.id === reservation.id);
    const released = events.some((event) => event.type === "release" && event.reservation.id === reservation.id);
    return { settlement: settled?.type === "settle" ? settled.settlement : undefined, released };
  };
  return { budget, events, reservations, closing };
}

describe("createBeliefCoordination: an agent that hangs and ignores its abort signal", () => {
  it("an executor is recorded as failed at timeoutMs, the run finishes, its reservations are settled at their size", async () => {
    const late = deferred<AIMessageChunk>();
    const signals: (AbortSignal | undefined)[] = [];
    const { budget, reservations, closing } = budgetWithEvents();
    const graph = createBeliefCoordination({
      coordinator: scriptedCoordinator(),
      executors: [
        { name: "strong", model: scriptedExecutor("strong", "42", 0.9) },
        { name: "hung", model: deafModel("gpt-4o-mini", late.promise, signals) },
        { name: "steady", model: scriptedExecutor("steady", "42", 0.7) },
      ],
      embeddings: new ScriptedHashingEmbeddings(),
      parseAnswer: extractFinalNumber,
      maxRounds: 3,
      timeoutMs: 50,
      budget,
    });

    const result = await graph.invoke({ question: QUESTION });

    expect(result.answer).toBe("42");
    expect(result.stopReason).toBe("stable");
    for (const round of result.rounds) {
      const hung = round.answers.find((answer) => answer.executor === "hung");
      expect(hung?.error).toBe('Executor "hung" did not finish within 50 ms and was abandoned.');
      expect(hung?.answer).toBeUndefined();
      expect(round.selection.scores.map((score) => score.name)).not.toContain("hung"); // no vote
    }
    expect(signals).toHaveLength(result.rounds.length);
    expect(signals.every((signal) => signal?.aborted === true)).toBe(true); // told, did not listen
    expect(result.usage.hung).toBeUndefined();

    // Held while the provider may still report the calls...
    const held = reservations("coordination.executor.hung");
    expect(held).toHaveLength(result.rounds.length);
    expect(held.map((reservation) => closing(reservation))).toEqual(
      held.map(() => ({ settlement: undefined, released: false })),
    );
    // ...then, the late reply never coming (the connection dropped), settled at the whole reservation.
    late.reject(new Error("socket hang up"));
    await vi.waitFor(() => expect(budget.outstanding).toBe(0));
    for (const reservation of held) {
      const { settlement, released } = closing(reservation);
      expect(released).toBe(false);
      expect(settlement).toMatchObject({ tokens: reservation.tokens, estimated: true });
    }
  });

  it("a coordinator: no strategy, the belief candidate stands for every commitment, its calls charged", async () => {
    const late = deferred<AIMessageChunk>();
    const signals: (AbortSignal | undefined)[] = [];
    const { budget, reservations, closing } = budgetWithEvents();
    const graph = createBeliefCoordination({
      coordinator: deafModel("gpt-4o", late.promise, signals),
      executors: [
        { name: "strong", model: scriptedExecutor("strong", "42", 0.9) },
        { name: "weak", model: scriptedExecutor("weak", "17", 0.3) },
      ],
      embeddings: new ScriptedHashingEmbeddings(),
      parseAnswer: extractFinalNumber,
      weights: { strong: 0.9, weak: 0.1 },
      maxRounds: 2,
      timeoutMs: 50,
      budget,
    });

    const result = await graph.invoke({ question: QUESTION });

    expect(result.strategy).toBe("");
    expect(result.strategyError).toBe("Coordinator strategy did not finish within 50 ms and was abandoned.");
    expect(result.rounds).toHaveLength(2);
    for (const round of result.rounds) {
      expect(round.commitmentSource).toBe("candidate");
      expect(round.commitmentError).toBe("Coordinator commitment did not finish within 50 ms and was abandoned.");
      expect(round.commitmentAnswer).toBe("42");
    }
    expect(result.answer).toBe("42");
    expect(result.stopReason).toBe("stable");

    late.reject(new Error("socket hang up"));
    await vi.waitFor(() => expect(budget.outstanding).toBe(0));
    const abandoned = [...reservations("coordination.strategy"), ...reservations("coordination.commitment")];
    expect(abandoned).toHaveLength(3);
    for (const reservation of abandoned) {
      expect(closing(reservation)).toMatchObject({
        released: false,
        settlement: { tokens: reservation.tokens, estimated: true },
      });
    }
  });

  it("with billAbandonedCalls: false, releases the abandoned call at zero", async () => {
    const { budget, reservations, closing } = budgetWithEvents();
    const graph = createBeliefCoordination({
      coordinator: scriptedCoordinator(),
      executors: [
        { name: "strong", model: scriptedExecutor("strong", "42", 0.9) },
        { name: "hung", model: deafModel("gpt-4o-mini", new Promise(() => {}), []) },
      ],
      embeddings: new ScriptedHashingEmbeddings(),
      parseAnswer: extractFinalNumber,
      maxRounds: 1,
      timeoutMs: 50,
      billAbandonedCalls: false,
      budget,
    });

    const result = await graph.invoke({ question: QUESTION });

    expect(result.answer).toBe("42");
    await vi.waitFor(() => expect(budget.outstanding).toBe(0));
    const [hung] = reservations("coordination.executor.hung");
    expect(hung && closing(hung)).toEqual({ settlement: undefined, released: true });
  });
});

describe("createBeliefCoordination timeoutMs option", () => {
  it("defaults to DEFAULT_COORDINATION_TIMEOUT_MS, the router's answer deadline (5 minutes)", () => {
    expect(DEFAULT_COORDINATION_TIMEOUT_MS).toBe(300_000);
  });

  it("refuses a timeout Node cannot schedule, naming the field and the bound", () => {
    const options = {
      coordinator: scriptedCoordinator(),
      executors: [{ name: "strong", model: scriptedExecutor("strong", "42", 0.9) }],
      embeddings: new ScriptedHashingEmbeddings(),
      parseAnswer: extractFinalNumber,
    };
    let caught: unknown;
    try {
      createBeliefCoordination({ ...options, timeoutMs: 2 ** 31 });
    } catch (error) {
      caught = error;
    }
    expect(ConfigError.isInstance(caught)).toBe(true);
    expect((caught as Error).message).toMatch(/timeoutMs/);
    expect((caught as Error).message).toContain(String(MAX_TIMEOUT_MS));
    expect(() => createBeliefCoordination({ ...options, timeoutMs: MAX_TIMEOUT_MS })).not.toThrow();
  });
});
