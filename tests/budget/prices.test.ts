import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  costNanoUsd,
  costUsd,
  createPriceResolver,
  DEFAULT_PRICES,
  mergePrices,
  resolvePrice,
} from "../../src/budget/prices.js";
import { countTextTokens } from "../../src/budget/tokens.js";

interface RouterBenchFixture {
  prompts: Record<string, { eval_name: string; prompt: string }>;
  outcomes: Array<{ prompt_id: string; model: string; cost_usd: number; response: string }>;
}

const routerBench = JSON.parse(
  readFileSync(new URL("./fixtures/routerbench-costs.json", import.meta.url), "utf8"),
) as RouterBenchFixture;

describe("DEFAULT_PRICES", () => {
  it.each([
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "o3",
    "o4-mini",
    "gpt-4-turbo",
    "gpt-4-1106-preview",
    "gpt-3.5-turbo",
    "claude-3-haiku",
    "claude-3-5-sonnet",
    "claude-3-opus",
    "claude-sonnet-4",
    "claude-opus-4",
    "claude-v1",
    "claude-v2",
    "claude-instant-v1",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-1.5-pro",
    "llama-3.1-8b-instruct-turbo",
    "llama-3.3-70b-instruct-turbo",
    "meta/llama-2-70b-chat",
    "mistralai/mixtral-8x7b-chat",
    "mistralai/mistral-7b-chat",
    "zero-one-ai/Yi-34B-Chat",
    "WizardLM/WizardLM-13B-V1.2",
    "meta/code-llama-instruct-34b-chat",
  ])("prices %s", (model) => {
    const price = DEFAULT_PRICES[model];
    expect(price, model).toBeDefined();
    expect(price?.inputPerMillion).toBeGreaterThan(0);
    expect(price?.outputPerMillion).toBeGreaterThanOrEqual(price?.inputPerMillion ?? 0);
  });

  it("reproduces RouterBench's recorded cost of every model (cl100k counts × table prices)", () => {
    expect(routerBench.outcomes.length).toBe(33);
    for (const outcome of routerBench.outcomes) {
      const prompt = routerBench.prompts[outcome.prompt_id]?.prompt ?? "";
      const price = resolvePrice(DEFAULT_PRICES, outcome.model);
      expect(price, outcome.model).toBeDefined();
      if (!price) continue;
      const usage = {
        inputTokens: countTextTokens(prompt, "cl100k_base"),
        outputTokens: countTextTokens(outcome.response, "cl100k_base"),
      };
      expect(costUsd(price, usage), `${outcome.model} on ${outcome.prompt_id}`).toBeCloseTo(outcome.cost_usd, 12);
    }
  });

  it("is frozen, so a budget can never alter it", () => {
    expect(Object.isFrozen(DEFAULT_PRICES)).toBe(true);
    expect(Object.isFrozen(DEFAULT_PRICES["gpt-4o"])).toBe(true);
  });
});

describe("resolvePrice", () => {
  const gpt4o = { inputPerMillion: 2.5, outputPerMillion: 10 };
  const sonnet = { inputPerMillion: 3, outputPerMillion: 15 };

  it.each([
    ["gpt-4o", gpt4o],
    ["GPT-4o", gpt4o],
    ["openai/gpt-4o", gpt4o],
    ["gpt-4o-2024-08-06", gpt4o],
    ["openai/gpt-4o-2024-11-20", gpt4o],
    ["claude-3-5-sonnet-20241022", sonnet],
    ["claude-3-5-sonnet-latest", sonnet],
    ["anthropic/claude-3.5-sonnet", sonnet],
    ["anthropic.claude-3-5-sonnet-20241022-v2:0", sonnet],
    ["us.anthropic.claude-3-7-sonnet-20250219-v1:0", sonnet],
    ["claude-3-5-sonnet-v2@20241022", sonnet],
    ["claude-sonnet-4-20250514", sonnet],
    ["meta-llama/Llama-3.3-70B-Instruct-Turbo", { inputPerMillion: 0.88, outputPerMillion: 0.88 }],
    ["mistralai/Mixtral-8x7B-Instruct-v0.1", { inputPerMillion: 0.6, outputPerMillion: 0.6 }],
    ["gemini-1.5-pro-002", { inputPerMillion: 1.25, outputPerMillion: 5 }],
    ["models/gemini-2.5-flash", { inputPerMillion: 0.3, outputPerMillion: 2.5 }],
    ["gpt-4-0613", { inputPerMillion: 30, outputPerMillion: 60 }],
    ["o3-mini-2025-01-31", { inputPerMillion: 1.1, outputPerMillion: 4.4 }],
  ])("resolves %s", (model, expected) => {
    expect(resolvePrice(DEFAULT_PRICES, model)).toEqual(expected);
  });

  it("prefers an exact dated entry over the stripped name", () => {
    expect(resolvePrice(DEFAULT_PRICES, "gpt-4o-2024-05-13")).toEqual({ inputPerMillion: 5, outputPerMillion: 15 });
    expect(resolvePrice(DEFAULT_PRICES, "gpt-3.5-turbo-1106")).toEqual({ inputPerMillion: 1, outputPerMillion: 2 });
    expect(resolvePrice(DEFAULT_PRICES, "gpt-3.5-turbo-0125")).toEqual({ inputPerMillion: 0.5, outputPerMillion: 1.5 });
  });

  it("does not confuse neighbours in a family", () => {
    expect(resolvePrice(DEFAULT_PRICES, "gpt-4o-mini-2024-07-18")).toEqual({
      inputPerMillion: 0.15,
      outputPerMillion: 0.6,
    });
    expect(resolvePrice(DEFAULT_PRICES, "gpt-4.1-mini")).toEqual({ inputPerMillion: 0.4, outputPerMillion: 1.6 });
    expect(resolvePrice(DEFAULT_PRICES, "gpt-4-turbo-2024-04-09")).toEqual({
      inputPerMillion: 10,
      outputPerMillion: 30,
    });
  });

  it("returns undefined for an unknown model", () => {
    expect(resolvePrice(DEFAULT_PRICES, "my-local-model")).toBeUndefined();
    expect(resolvePrice(DEFAULT_PRICES, "gpt-4o-audio-preview")).toBeUndefined();
    expect(resolvePrice({}, "gpt-4o")).toBeUndefined();
  });

  it("createPriceResolver gives the same answers", () => {
    const resolve = createPriceResolver(DEFAULT_PRICES);
    for (const model of ["gpt-4o", "openai/gpt-4o-mini", "Claude-3-Haiku-20240307", "nope"]) {
      expect(resolve(model)).toEqual(resolvePrice(DEFAULT_PRICES, model));
    }
  });
});

describe("mergePrices", () => {
  it("lets user entries win, also over a name that differs only in case, and adds new ones", () => {
    const merged = mergePrices(DEFAULT_PRICES, {
      "GPT-4o": { inputPerMillion: 1, outputPerMillion: 2 },
      "my-finetune": { inputPerMillion: 3, outputPerMillion: 4 },
    });
    expect(resolvePrice(merged, "gpt-4o")).toEqual({ inputPerMillion: 1, outputPerMillion: 2 });
    expect(resolvePrice(merged, "openai/gpt-4o-2024-08-06")).toEqual({ inputPerMillion: 1, outputPerMillion: 2 });
    expect(resolvePrice(merged, "my-finetune")).toEqual({ inputPerMillion: 3, outputPerMillion: 4 });
    expect(resolvePrice(merged, "gpt-4o-mini")).toEqual(DEFAULT_PRICES["gpt-4o-mini"]);
    expect(DEFAULT_PRICES["gpt-4o"]).toEqual({ inputPerMillion: 2.5, outputPerMillion: 10 });
  });
});

describe("cost", () => {
  it("costUsd multiplies tokens by the price per million", () => {
    expect(costUsd({ inputPerMillion: 2.5, outputPerMillion: 10 }, { inputTokens: 1_000, outputTokens: 500 })).toBe(
      0.0075,
    );
    expect(costUsd({ inputPerMillion: 0, outputPerMillion: 0 }, { inputTokens: 9_999, outputTokens: 9_999 })).toBe(0);
  });

  it("costNanoUsd is costUsd in whole nano-dollars", () => {
    const price = { inputPerMillion: 0.776, outputPerMillion: 0.776 };
    expect(costNanoUsd(price, { inputTokens: 530, outputTokens: 2 })).toBe(412_832);
  });

  it("costNanoUsd never charges more tokens less", () => {
    fc.assert(
      fc.property(
        fc.record({
          inputPerMillion: fc.double({ min: 0, max: 200, noNaN: true }),
          outputPerMillion: fc.double({ min: 0, max: 600, noNaN: true }),
        }),
        fc.nat(2_000_000),
        fc.nat(2_000_000),
        fc.nat(1_000),
        fc.nat(1_000),
        (price, inputTokens, outputTokens, moreInput, moreOutput) => {
          const less = costNanoUsd(price, { inputTokens, outputTokens });
          const more = costNanoUsd(price, {
            inputTokens: inputTokens + moreInput,
            outputTokens: outputTokens + moreOutput,
          });
          return Number.isInteger(less) && more >= less;
        },
      ),
    );
  });
});
