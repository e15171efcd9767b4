/**
 * Every model call of the router has a deadline: a member that ignores its abort signal is
 * abandoned at `answerTimeoutMs` (its answer) or `timeoutMs` (its plan), the request still answers
 * through the fallback, and the abandoned call's reservation is settled at what the provider
 * bills — the late reply when it comes, holding its room until then.
 */
import type { BaseLanguageModelInput } from "@langchain/core/language_models/base";
import { AIMessageChunk } from "@langchain/core/messages";
import { describe, expect, it, vi } from "vitest";
import { type BudgetEvent, createTokenBudget } from "../../src/budget/index.js";
import { ConfigError } from "../../src/errors.js";
import type { ChargeInput } from "../../src/ledger/types.js";
import { AuctionRouter, DEFAULT_ANSWER_TIMEOUT_MS, type RouterMetadata } from "../../src/router/index.js";
import { MAX_TIMEOUT_MS } from "../../src/timeouts.js";
import { ScriptedChatModel, type ScriptedChatModelCallOptions } from "../helpers/scriptedChatModel.js";
import { type CallKind, CHEAP, DEAR, gavelOf, gullibleJurorReply, kindOf, scriptedMember } from "./scripted-pool.js";

const likesVerify = (plan: string) => (plan.includes("verify") ? 5 : 2);

/** A promise settled from outside. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/**
 * A member that ignores its abort signal on the calls of `deafTo`: `invoke` waits for `late` (and
 * `stream` for nothing) whatever the signal says, like a client that never wires it up.
 */
function deafMember(deafTo: CallKind, late: Promise<AIMessageChunk>, signals: (AbortSignal | undefined)[]) {
  class DeafChatModel extends ScriptedChatModel {
    override invoke(input: BaseLanguageModelInput, options?: ScriptedChatModelCallOptions) {
      if (Array.isArray(input) && kindOf({ messages: input } as never) === deafTo) {
        signals.push(options?.signal);
        return late;
      }
      return super.invoke(input, options);
    }

    override async stream(input: BaseLanguageModelInput, options?: ScriptedChatModelCallOptions) {
      if (Array.isArray(input) && kindOf({ messages: input } as never) === deafTo) {
        signals.push(options?.signal);
        const never = { next: () => new Promise<IteratorResult<AIMessageChunk>>(() => {}) };
        return { [Symbol.asyncIterator]: () => never } as never;
      }
      return super.stream(input, options);
    }
  }
  return new DeafChatModel({
    model: "large",
    replies: (call) => {
      const kind = kindOf(call);
      if (kind === "plan") return "Compute, then verify.";
      if (kind === "jury") {
        const prompt = call.messages.find((message) => message.type === "human")?.text ?? "";
        return gullibleJurorReply(prompt, likesVerify);
      }
      return "large answers";
    },
  });
}

function routerWith(large: ScriptedChatModel, options: { answerTimeoutMs?: number; timeoutMs?: number }) {
  const events: BudgetEvent[] = [];
  const budget = createTokenBudget({
    limits: { global: { maxTokens: 1_000_000 } },
    onEvent: (event) => events.push(event),
  });
  const small = scriptedMember("small", { plan: "Guess.", score: likesVerify, answer: "small says 391" });
  const router = new AuctionRouter({
    pool: [
      { name: "small", model: small, price: CHEAP },
      { name: "large", model: large, price: DEAR },
    ],
    budget,
    ...options,
  });
  return { router, budget, events };
}

/** The reservation of the call labelled `label` of the model `model`, and its settlement when settled. */
function reservationOf(events: readonly BudgetEvent[], model: string, label: string) {
  const reserved = events.find(
    (event) => event.type === "reserve" && event.reservation.model === model && event.reservation.label === label,
  );
  if (reserved?.type !== "reserve") throw new Error(`no ${label} reservation for ${model}`);
  const settled = events.find((event) => event.type === "settle" && event.reservation === reserved.reservation);
  const released = events.some((event) => event.type === "release" && event.reservation === reserved.reservation);
  return {
    reservation: reserved.reservation,
    settlement: settled?.type === "settle" ? settled.settlement : undefined,
    released,
  };
}

describe("AuctionRouter: a member that ignores its abort signal", () => {
  it("is abandoned at answerTimeoutMs and the fallback answers; its late reply is what it is charged", async () => {
    const late = deferred<AIMessageChunk>();
    const signals: (AbortSignal | undefined)[] = [];
    const { router, budget, events } = routerWith(deafMember("answer", late.promise, signals), {
      answerTimeoutMs: 20,
    });

    const answer = await router.invoke("What is 17 * 23?");

    expect(answer.text).toBe("small says 391");
    expect(gavelOf(answer).auction.outcome.winners).toEqual(["large"]);
    expect(gavelOf(answer).auction.fallback?.reason).toMatch(
      /winner "large" failed to answer: .*Pool member "large" answer did not finish within 20 ms/,
    );
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(true); // it was told, and did not listen
    // The abandoned answer holds its room while the provider may still report it.
    const held = reservationOf(events, "large", "router.answer");
    expect(held.settlement).toBeUndefined();
    expect(held.released).toBe(false);
    expect(budget.outstanding).toBe(1);

    late.resolve(
      new AIMessageChunk({
        content: "large answers, late",
        usage_metadata: { input_tokens: 50, output_tokens: 7, total_tokens: 57 },
      }),
    );
    await vi.waitFor(() => expect(budget.outstanding).toBe(0));
    const settled = reservationOf(events, "large", "router.answer");
    expect(settled.settlement).toMatchObject({ tokens: 57, estimated: false });
  });

  it("is abandoned mid-stream setup at answerTimeoutMs; the stream answers through the fallback", async () => {
    const signals: (AbortSignal | undefined)[] = [];
    const { router, budget, events } = routerWith(deafMember("answer", new Promise(() => {}), signals), {
      answerTimeoutMs: 20,
    });

    const pieces: string[] = [];
    let gavel: RouterMetadata | undefined;
    for await (const chunk of await router.stream("What is 17 * 23?")) {
      pieces.push(chunk.text);
      if (chunk.response_metadata.gavel) gavel = chunk.response_metadata.gavel as RouterMetadata;
    }

    expect(pieces.join("")).toBe("small says 391");
    expect(gavel?.auction.fallback?.member).toBe("small");
    expect(signals[0]?.aborted).toBe(true);
    // Nothing streamed: charged the prompt the provider read, not released at zero, not the whole cap.
    await vi.waitFor(() => expect(budget.outstanding).toBe(0));
    const { reservation, settlement } = reservationOf(events, "large", "router.answer");
    expect(settlement?.tokens).toBe(reservation.inputTokens);
    expect(settlement?.tokens).toBeGreaterThan(0);
  });

  it("leaves no unhandled rejection when a member that obeys its signal is abandoned without a budget", async () => {
    // The late reply of an abandoned answer is watched only for billing; without a budget, a model
    // that rejects when its signal fires used to surface as an unhandled rejection (a process crash).
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      class ObedientChatModel extends ScriptedChatModel {
        override invoke(input: BaseLanguageModelInput, options?: ScriptedChatModelCallOptions) {
          if (Array.isArray(input) && kindOf({ messages: input } as never) === "answer") {
            return new Promise<AIMessageChunk>((_, reject) => {
              options?.signal?.addEventListener("abort", () => reject(new Error("AbortError from provider")));
            });
          }
          return super.invoke(input, options);
        }
      }
      const large = new ObedientChatModel({
        model: "large",
        replies: (call) =>
          kindOf(call) === "plan"
            ? "Compute, then verify."
            : gullibleJurorReply(call.messages.find((m) => m.type === "human")?.text ?? "", likesVerify),
      });
      const small = scriptedMember("small", { plan: "Guess.", score: likesVerify, answer: "small says 391" });
      const router = new AuctionRouter({
        pool: [
          { name: "small", model: small, price: CHEAP },
          { name: "large", model: large, price: DEAR },
        ],
        answerTimeoutMs: 20,
      });

      const answer = await router.invoke("What is 17 * 23?");
      expect(answer.text).toBe("small says 391");
      await new Promise((resolve) => setTimeout(resolve, 50)); // let any stray rejection surface
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("records the abandoned answer's charge in the ledger once the budget settles it", async () => {
    const late = deferred<AIMessageChunk>();
    const charges: ChargeInput[] = [];
    const ledger = {
      recordAuction: async () => "auction",
      recordAuctions: async () => [],
      recordCharge: async (charge: ChargeInput) => {
        charges.push(charge);
        return "charge";
      },
      recordCharges: async (batch: readonly ChargeInput[]) => {
        charges.push(...batch);
        return batch.map(() => "charge");
      },
      recordOutcome: async () => undefined,
      close: async () => undefined,
    };
    const budget = createTokenBudget({ limits: { global: { maxTokens: 1_000_000 } } });
    const small = scriptedMember("small", { plan: "Guess.", score: likesVerify, answer: "small says 391" });
    const router = new AuctionRouter({
      pool: [
        { name: "small", model: small, price: CHEAP },
        { name: "large", model: deafMember("answer", late.promise, []), price: DEAR },
      ],
      budget,
      ledger: ledger as never,
      answerTimeoutMs: 20,
    });

    const answer = await router.invoke("What is 17 * 23?");
    expect(answer.text).toBe("small says 391");
    expect(charges.some((charge) => charge.metadata?.abandoned === true)).toBe(false); // not settled yet

    late.resolve(
      new AIMessageChunk({ content: "late", usage_metadata: { input_tokens: 50, output_tokens: 7, total_tokens: 57 } }),
    );
    await vi.waitFor(() => expect(charges.filter((charge) => charge.metadata?.abandoned === true)).toHaveLength(1));
    const abandoned = charges.find((charge) => charge.metadata?.abandoned === true);
    expect(abandoned).toMatchObject({
      kind: "settle",
      agent: "large",
      label: "answer",
      inputTokens: 50,
      outputTokens: 7,
      auctionId: gavelOf(answer).auction.auctionId,
    });
  });

  it("rejects with the caller's reason on abort although the member never returns", async () => {
    const signals: (AbortSignal | undefined)[] = [];
    const controller = new AbortController();
    const never = new Promise<AIMessageChunk>(() => {});
    const large = deafMember("answer", never, signals);
    const { router, budget, events } = routerWith(large, {});
    const reason = new Error("the user closed the tab");
    const answering = router.invoke("What is 17 * 23?", { signal: controller.signal });
    await vi.waitFor(() => expect(signals).toHaveLength(1));
    controller.abort(reason);

    await expect(answering).rejects.toBe(reason);
    // Non-streamed: the provider generates to the end after the client left, so the whole
    // reservation is charged (once the grace for a late usage report has passed).
    const { settlement, released } = reservationOf(events, "large", "router.answer");
    expect(released).toBe(false);
    expect(settlement).toBeUndefined(); // still held: a late report could still come
    expect(budget.outstanding).toBe(1);
  });

  it("is dropped at timeoutMs when its plan never comes, and its plan is charged when it does", async () => {
    const late = deferred<AIMessageChunk>();
    const signals: (AbortSignal | undefined)[] = [];
    const { router, budget, events } = routerWith(deafMember("plan", late.promise, signals), { timeoutMs: 20 });

    const answer = await router.invoke("What is 17 * 23?");

    expect(answer.text).toBe("small says 391");
    expect(gavelOf(answer).auction.dropped.large).toMatch(/did not finish its plan call within 20 ms/);
    expect(signals[0]?.aborted).toBe(true);
    expect(budget.outstanding).toBe(1);
    late.resolve(
      new AIMessageChunk({
        content: "late plan",
        usage_metadata: { input_tokens: 90, output_tokens: 3, total_tokens: 93 },
      }),
    );
    await vi.waitFor(() => expect(budget.outstanding).toBe(0));
    expect(reservationOf(events, "large", "router.plan").settlement).toMatchObject({ tokens: 93 });
  });

  it("is released at zero with billAbandonedCalls: false (a provider that bills nothing)", async () => {
    const events: BudgetEvent[] = [];
    const budget = createTokenBudget({ limits: { global: { maxTokens: 1_000_000 } }, onEvent: (e) => events.push(e) });
    const large = deafMember("answer", new Promise(() => {}), []);
    const small = scriptedMember("small", { plan: "Guess.", score: likesVerify, answer: "small says 391" });
    const router = new AuctionRouter({
      pool: [
        { name: "small", model: small, price: CHEAP },
        { name: "large", model: large, price: DEAR },
      ],
      budget,
      answerTimeoutMs: 20,
      billAbandonedCalls: false,
    });
    expect((await router.invoke("What is 17 * 23?")).text).toBe("small says 391");
    await vi.waitFor(() => expect(budget.outstanding).toBe(0));
    expect(reservationOf(events, "large", "router.answer").released).toBe(true);
  });
});

describe("AuctionRouter: a caller that aborts while the answer streams", () => {
  it("settles what was streamed, frees the rest, and closes the member's stream", async () => {
    const signals: (AbortSignal | undefined)[] = [];
    class StreamingChatModel extends ScriptedChatModel {
      override async stream(input: BaseLanguageModelInput, options?: ScriptedChatModelCallOptions) {
        if (!Array.isArray(input) || kindOf({ messages: input } as never) !== "answer") {
          return super.stream(input, options);
        }
        signals.push(options?.signal);
        async function* chunks() {
          for (const text of ["Seventeen ", "times ", "twenty-three "]) yield new AIMessageChunk({ content: text });
          await new Promise(() => {}); // then stalls, whatever its signal says
        }
        return chunks() as never;
      }
    }
    const large = new StreamingChatModel({
      model: "large",
      replies: (call) => {
        const kind = kindOf(call);
        if (kind === "plan") return "Compute, then verify.";
        const prompt = call.messages.find((message) => message.type === "human")?.text ?? "";
        return gullibleJurorReply(prompt, likesVerify);
      },
    });
    const { router, budget, events } = routerWith(large, {});
    const controller = new AbortController();
    const received: string[] = [];
    const reason = new Error("the user closed the tab");
    await expect(
      (async () => {
        for await (const chunk of await router.stream("What is 17 * 23?", { signal: controller.signal })) {
          received.push(chunk.text);
          if (received.length === 2) controller.abort(reason);
        }
      })(),
    ).rejects.toThrow();

    expect(received).toEqual(["Seventeen ", "times "]);
    expect(signals[0]?.aborted).toBe(true); // the member's stream was closed
    // Before: LangChain never resumed the router's generator, and the reservation stayed held for good.
    await vi.waitFor(() => expect(budget.outstanding).toBe(0));
    const { reservation, settlement, released } = reservationOf(events, "large", "router.answer");
    expect(released).toBe(false);
    expect(settlement?.usage.outputTokens).toBeGreaterThan(0);
    expect(settlement?.tokens).toBeLessThan(reservation.tokens);
  });
});

describe("AuctionRouter timeout options", () => {
  const pool = [{ name: "small", model: scriptedMember("small", {}), price: CHEAP }];

  it("refuses a timeout Node cannot schedule, naming the field and the bound", () => {
    for (const field of ["timeoutMs", "answerTimeoutMs"] as const) {
      let error: unknown;
      try {
        new AuctionRouter({ pool, [field]: 2 ** 31 });
      } catch (caught) {
        error = caught;
      }
      expect(ConfigError.isInstance(error)).toBe(true);
      expect((error as ConfigError).fields).toEqual([field]);
      expect((error as ConfigError).message).toContain(`${field}: must be at most ${MAX_TIMEOUT_MS} ms`);
    }
  });

  it("accepts the largest schedulable timeout, and defaults the answer's deadline", () => {
    expect(() => new AuctionRouter({ pool, timeoutMs: MAX_TIMEOUT_MS, answerTimeoutMs: MAX_TIMEOUT_MS })).not.toThrow();
    expect(DEFAULT_ANSWER_TIMEOUT_MS).toBe(300_000);
  });
});
