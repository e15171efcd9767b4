import { describe, expect, it } from "vitest";
import { createTokenBudget, MAX_USD_LIMIT, type TokenBudget, type TokenBudgetOptions } from "../../src/budget/index.js";
import { ConfigError } from "../../src/errors.js";

/** The ConfigError thrown by `create`, or a failure if none was. */
function configError(create: () => unknown): ConfigError {
  try {
    create();
  } catch (error) {
    if (ConfigError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

/** Options as a user might write them in plain JavaScript, typos included. */
function budgetFrom(options: unknown): TokenBudget {
  return createTokenBudget(options as TokenBudgetOptions);
}

describe("TokenBudget options validation", () => {
  it("accepts a valid configuration", () => {
    expect(() =>
      createTokenBudget({
        limits: { global: { maxUsd: 5 }, thread: { maxTokens: 100_000 }, run: { maxTokens: 20_000, maxUsd: 0.5 } },
        prices: { "my-model": { inputPerMillion: 0, outputPerMillion: 0 } },
        requirePrices: true,
        onEvent: () => {},
        now: () => 0,
      }),
    ).not.toThrow();
  });

  it("rejects a negative token limit, naming the field", () => {
    const error = configError(() => budgetFrom({ limits: { run: { maxTokens: -1 } } }));
    expect(error.fields).toEqual(["limits.run.maxTokens"]);
    expect(error.message).toContain("TokenBudget options");
    expect(error.message).toContain("limits.run.maxTokens");
  });

  it("rejects a negative USD limit, naming the field", () => {
    const error = configError(() => budgetFrom({ limits: { global: { maxUsd: -0.01 } } }));
    expect(error.fields).toEqual(["limits.global.maxUsd"]);
  });

  it("rejects a non-numeric limit, naming the field", () => {
    const error = configError(() => budgetFrom({ limits: { global: { maxUsd: "5" } } }));
    expect(error.fields).toEqual(["limits.global.maxUsd"]);
    expect(configError(() => budgetFrom({ limits: { run: { maxTokens: Number.NaN } } })).fields).toEqual([
      "limits.run.maxTokens",
    ]);
    expect(configError(() => budgetFrom({ limits: { run: { maxTokens: Number.POSITIVE_INFINITY } } })).fields).toEqual([
      "limits.run.maxTokens",
    ]);
  });

  it("rejects a USD limit that would make the remaining budget Infinity (maxUsd: 1e300), naming the bound", () => {
    const error = configError(() => budgetFrom({ limits: { global: { maxUsd: 1e300 } } }));
    expect(error.fields).toEqual(["limits.global.maxUsd"]);
    expect(error.message).toContain(`must be at most ${MAX_USD_LIMIT} USD`);
    expect(configError(() => budgetFrom({ limits: { run: { maxUsd: MAX_USD_LIMIT + 1 } } })).fields).toEqual([
      "limits.run.maxUsd",
    ]);
    // The largest accepted limit stays finite and exact.
    const budget = createTokenBudget({ limits: { global: { maxUsd: MAX_USD_LIMIT } } });
    expect(budget.remaining()).toEqual({ usd: MAX_USD_LIMIT });
    expect(Number.isFinite(budget.remaining().usd)).toBe(true);
  });

  it("rejects a fractional token limit", () => {
    expect(configError(() => budgetFrom({ limits: { run: { maxTokens: 10.5 } } })).fields).toEqual([
      "limits.run.maxTokens",
    ]);
  });

  it("rejects a typo in a limit key (maxToken)", () => {
    const error = configError(() => budgetFrom({ limits: { run: { maxToken: 20_000 } } }));
    expect(error.fields).toEqual(["limits.run"]);
    expect(error.message).toContain("maxToken");
  });

  it("rejects an unknown scope (runs)", () => {
    const error = configError(() => budgetFrom({ limits: { runs: { maxTokens: 20_000 } } }));
    expect(error.fields).toEqual(["limits"]);
    expect(error.message).toContain("runs");
  });

  it("rejects an unknown top-level option (price)", () => {
    const error = configError(() => budgetFrom({ limits: {}, price: {} }));
    expect(error.message).toContain("price");
  });

  it("requires limits", () => {
    expect(configError(() => budgetFrom({})).fields).toEqual(["limits"]);
  });

  it("rejects a price entry with a negative price, naming the model and field", () => {
    const error = configError(() =>
      budgetFrom({ limits: {}, prices: { "my-model": { inputPerMillion: -1, outputPerMillion: 2 } } }),
    );
    expect(error.fields).toEqual(["prices.my-model.inputPerMillion"]);
  });

  it("rejects a price entry with a missing or misspelt field", () => {
    const missing = configError(() => budgetFrom({ limits: {}, prices: { "my-model": { inputPerMillion: 1 } } }));
    expect(missing.fields).toEqual(["prices.my-model.outputPerMillion"]);
    const misspelt = configError(() =>
      budgetFrom({
        limits: {},
        prices: { "my-model": { inputPerMillion: 1, outputPerMillion: 2, outputPerMilion: 2 } },
      }),
    );
    expect(misspelt.fields).toEqual(["prices.my-model"]);
    expect(misspelt.message).toContain("outputPerMilion");
  });

  it("rejects a price entry that is not a number", () => {
    const error = configError(() =>
      budgetFrom({ limits: {}, prices: { "gpt-4o": { inputPerMillion: "2.5", outputPerMillion: 10 } } }),
    );
    expect(error.fields).toEqual(["prices.gpt-4o.inputPerMillion"]);
  });

  it("rejects seams that are not functions", () => {
    expect(configError(() => budgetFrom({ limits: {}, onEvent: "log" })).fields).toEqual(["onEvent"]);
    expect(configError(() => budgetFrom({ limits: {}, now: 0 })).fields).toEqual(["now"]);
  });

  it("names every bad field at once", () => {
    const error = configError(() =>
      budgetFrom({ limits: { run: { maxTokens: -5 }, global: { maxUsd: "x" } }, requirePrices: "yes" }),
    );
    expect(error.fields.sort()).toEqual(["limits.global.maxUsd", "limits.run.maxTokens", "requirePrices"]);
  });
});

describe("reserve request validation", () => {
  const budget = createTokenBudget({ limits: { run: { maxTokens: 100 } } });

  it.each([
    [{ model: "gpt-4o", inputTokens: -1, maxOutputTokens: 10 }, "inputTokens"],
    [{ model: "gpt-4o", inputTokens: 10, maxOutputTokens: 1.5 }, "maxOutputTokens"],
    [{ model: "gpt-4o", inputTokens: "10", maxOutputTokens: 10 }, "inputTokens"],
    [{ model: "", inputTokens: 10, maxOutputTokens: 10 }, "model"],
    [{ model: "gpt-4o", inputTokens: 10, maxOutputTokens: 10, scopes: { runId: "r1" } }, "scopes"],
    [{ model: "gpt-4o", inputTokens: 10, maxOutputTokens: 10, scopes: { run: "" } }, "scopes.run"],
  ])("rejects %j naming %s", (request, field) => {
    const error = configError(() => budget.reserve(request as never));
    expect(error.fields).toEqual([field]);
    expect(budget.outstanding).toBe(0);
  });
});
