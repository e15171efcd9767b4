/**
 * Model prices in USD per million tokens, how a model name finds its price,
 * and what a call costs. Pure: no I/O.
 *
 * Read top to bottom: the default table, then name resolution, then cost.
 */
import { z } from "zod";
import type { ModelPrice, PriceTable } from "./types.js";

// ---------------------------------------------------------------------------
// The default table
// ---------------------------------------------------------------------------

/** One line of the source table: every name the model goes by, and its price. */
function entry(
  names: string[],
  inputPerMillion: number,
  outputPerMillion = inputPerMillion,
): Array<[string, ModelPrice]> {
  return names.map((name) => [name, Object.freeze({ inputPerMillion, outputPerMillion })]);
}

/**
 * Prices of common hosted models, in USD per million input / output tokens.
 *
 * Sources, transcribed in August 2025 (prices change: check them, and override
 * with `prices` on the budget when yours differ — batch, cached-input and
 * long-context tiers are not modelled, the standard short-context tier is):
 * - OpenAI: https://openai.com/api/pricing (standard tier).
 * - Anthropic: https://www.anthropic.com/pricing#api (prompts ≤ 200k tokens).
 * - Google: https://ai.google.dev/gemini-api/docs/pricing (paid tier, prompts ≤ 128k/200k tokens).
 * - Open models: Together AI serverless prices, https://www.together.ai/pricing
 *   (one price for input and output); other hosts (OpenRouter, Fireworks, Groq) differ.
 * - RouterBench models (`gpt-4-1106-preview`, `gpt-3.5-turbo-1106`, `claude-v1`,
 *   `claude-v2`, `claude-instant-v1`, `meta/llama-2-70b-chat`,
 *   `meta/code-llama-instruct-34b-chat`, `mistralai/mixtral-8x7b-chat`,
 *   `mistralai/mistral-7b-chat`, `zero-one-ai/Yi-34B-Chat`,
 *   `WizardLM/WizardLM-13B-V1.2`): the prices RouterBench (Hu et al. 2024) used.
 *   With prompts and answers counted by cl100k_base they reproduce all 24,340
 *   recorded `cost_usd` values of the RouterBench training split exactly
 *   (tests/budget/prices.test.ts checks a sample).
 *
 * @example
 * ```ts
 * DEFAULT_PRICES["gpt-4o-mini"]; // { inputPerMillion: 0.15, outputPerMillion: 0.6 }
 * const prices = mergePrices(DEFAULT_PRICES, { "my-finetune": { inputPerMillion: 3, outputPerMillion: 12 } });
 * ```
 */
export const DEFAULT_PRICES: PriceTable = Object.freeze(
  Object.fromEntries([
    // OpenAI
    ...entry(["gpt-5"], 1.25, 10),
    ...entry(["gpt-5-mini"], 0.25, 2),
    ...entry(["gpt-5-nano"], 0.05, 0.4),
    ...entry(["gpt-4.1"], 2, 8),
    ...entry(["gpt-4.1-mini"], 0.4, 1.6),
    ...entry(["gpt-4.1-nano"], 0.1, 0.4),
    ...entry(["gpt-4o"], 2.5, 10),
    ...entry(["gpt-4o-2024-05-13", "chatgpt-4o-latest"], 5, 15),
    ...entry(["gpt-4o-mini"], 0.15, 0.6),
    ...entry(["o1", "o1-preview"], 15, 60),
    ...entry(["o1-mini", "o3-mini", "o4-mini"], 1.1, 4.4),
    ...entry(["o3"], 2, 8),
    ...entry(["o3-pro"], 20, 80),
    ...entry(["gpt-4-turbo", "gpt-4-turbo-preview", "gpt-4-0125-preview", "gpt-4-1106-preview"], 10, 30),
    ...entry(["gpt-4"], 30, 60),
    ...entry(["gpt-4-32k"], 60, 120),
    ...entry(["gpt-3.5-turbo", "gpt-3.5-turbo-0125"], 0.5, 1.5),
    ...entry(["gpt-3.5-turbo-1106"], 1, 2),
    ...entry(["gpt-3.5-turbo-0613", "gpt-3.5-turbo-instruct"], 1.5, 2),
    ...entry(["gpt-3.5-turbo-16k"], 3, 4),
    // Anthropic
    ...entry(["claude-opus-4-1", "claude-opus-4", "claude-opus-4-0"], 15, 75),
    ...entry(["claude-sonnet-4", "claude-sonnet-4-0", "claude-3-7-sonnet", "claude-3-5-sonnet"], 3, 15),
    ...entry(["claude-3-5-haiku"], 0.8, 4),
    ...entry(["claude-3-opus"], 15, 75),
    ...entry(["claude-3-sonnet"], 3, 15),
    ...entry(["claude-3-haiku"], 0.25, 1.25),
    ...entry(["claude-2.1", "claude-2.0", "claude-2", "claude-v2", "claude-v1"], 8, 24),
    ...entry(["claude-instant-1.2", "claude-instant-1", "claude-instant-v1"], 0.8, 2.4),
    // Google Gemini
    ...entry(["gemini-2.5-pro"], 1.25, 10),
    ...entry(["gemini-2.5-flash"], 0.3, 2.5),
    ...entry(["gemini-2.5-flash-lite", "gemini-2.0-flash"], 0.1, 0.4),
    ...entry(["gemini-2.0-flash-lite", "gemini-1.5-flash"], 0.075, 0.3),
    ...entry(["gemini-1.5-flash-8b"], 0.0375, 0.15),
    ...entry(["gemini-1.5-pro"], 1.25, 5),
    ...entry(["gemini-1.0-pro", "gemini-pro"], 0.5, 1.5),
    // Open models (Together AI serverless; RouterBench names where RouterBench used them)
    ...entry(["llama-4-maverick", "llama-4-maverick-17b-128e-instruct-fp8"], 0.27, 0.85),
    ...entry(["llama-4-scout", "llama-4-scout-17b-16e-instruct"], 0.18, 0.59),
    ...entry(["llama-3.3-70b-instruct-turbo", "llama-3.3-70b-instruct", "llama-3.3-70b"], 0.88),
    ...entry(["llama-3.1-405b-instruct-turbo", "llama-3.1-405b-instruct", "llama-3.1-405b"], 3.5),
    ...entry(["llama-3.1-70b-instruct-turbo", "llama-3.1-70b-instruct", "llama-3.1-70b"], 0.88),
    ...entry(["llama-3.1-8b-instruct-turbo", "llama-3.1-8b-instruct", "llama-3.1-8b"], 0.18),
    ...entry(["llama-3.2-3b-instruct-turbo", "llama-3.2-3b-instruct", "llama-3.2-3b"], 0.06),
    ...entry(["llama-3-70b-chat-hf", "llama-3-70b-instruct", "llama-3-70b", "meta-llama-3-70b-instruct"], 0.88),
    ...entry(["llama-3-8b-chat-hf", "llama-3-8b-instruct", "llama-3-8b", "meta-llama-3-8b-instruct"], 0.2),
    ...entry(["meta/llama-2-70b-chat", "llama-2-70b-chat", "llama-2-70b-chat-hf", "llama-2-70b"], 0.9),
    ...entry(["meta/code-llama-instruct-34b-chat", "codellama-34b-instruct", "code-llama-34b"], 0.776),
    ...entry(["mistralai/mixtral-8x7b-chat", "mixtral-8x7b-instruct", "mixtral-8x7b"], 0.6),
    ...entry(["mixtral-8x22b-instruct", "mixtral-8x22b"], 1.2),
    ...entry(["mistralai/mistral-7b-chat", "mistral-7b-instruct", "mistral-7b"], 0.2),
    ...entry(["zero-one-ai/Yi-34B-Chat", "yi-34b-chat", "yi-34b"], 0.8),
    ...entry(["WizardLM/WizardLM-13B-V1.2", "wizardlm-13b"], 0.3),
    ...entry(["qwen2.5-72b-instruct-turbo", "qwen2.5-72b-instruct"], 1.2),
    ...entry(["qwen2.5-7b-instruct-turbo", "qwen2.5-7b-instruct"], 0.3),
    ...entry(["deepseek-v3"], 1.25),
    ...entry(["deepseek-r1"], 3, 7),
  ]),
);

/**
 * Zod schema of one price entry (USD per million tokens, finite and ≥ 0).
 *
 * @example
 * ```ts
 * modelPriceSchema.safeParse({ inputPerMillion: 0.15, outputPerMillion: 0.6 }).success; // true
 * modelPriceSchema.safeParse({ inputPerMillion: -1, outputPerMillion: 0.6 }).success; // false
 * ```
 */
export const modelPriceSchema = z
  .object({
    inputPerMillion: z.number().nonnegative(),
    outputPerMillion: z.number().nonnegative(),
  })
  .strict();

/**
 * Zod schema of a price table: model name → price entry.
 *
 * @example
 * ```ts
 * priceTableSchema.safeParse({ "my-finetune": { inputPerMillion: 3, outputPerMillion: 12 } }).success; // true
 * priceTableSchema.safeParse({ "": { inputPerMillion: 3, outputPerMillion: 12 } }).success; // false: empty model name
 * ```
 */
export const priceTableSchema = z.record(z.string().min(1), modelPriceSchema);

/**
 * `overrides` merged over `base`: the override wins, also over a base entry
 * whose name differs only in letter case.
 *
 * @example
 * ```ts
 * const prices = mergePrices(DEFAULT_PRICES, { "my-finetune": { inputPerMillion: 3, outputPerMillion: 12 } });
 * ```
 */
export function mergePrices(base: PriceTable, overrides: PriceTable = {}): PriceTable {
  const overridden = new Set(Object.keys(overrides).map((name) => name.toLowerCase()));
  const merged: PriceTable = {};
  for (const [name, price] of Object.entries(base)) {
    if (!overridden.has(name.toLowerCase())) merged[name] = price;
  }
  return Object.assign(merged, overrides);
}

// ---------------------------------------------------------------------------
// Name resolution
// ---------------------------------------------------------------------------

/** Bedrock-style vendor prefixes, optionally with a region: `anthropic.`, `us.anthropic.`, `meta.`. */
const VENDOR_DOT_PREFIX = /^(?:[a-z]{2}\.)?(?:anthropic|meta|mistral|cohere|amazon|ai21|google|openai)\./;
/** A trailing tag: `:free` (OpenRouter), `:0` (Bedrock), `:thinking`. */
const TAG_SUFFIX = /:[^:/]*$/;
/** Version suffixes removed one at a time, longest first, until a name matches. */
const VERSION_SUFFIXES = [
  /-\d{4}-\d{2}-\d{2}$/, // gpt-4o-2024-08-06
  /[-@]\d{8}$/, // claude-3-5-sonnet-20241022, Vertex claude-3-5-sonnet@20241022
  /-\d{4}$/, // gpt-4-0613
  /-\d{3}$/, // gemini-1.5-pro-002
  /-latest$/, // claude-3-5-sonnet-latest
  /-v\d+(?:\.\d+)*$/, // WizardLM-13B-V1.2, Mixtral-8x7B-Instruct-v0.1, Bedrock -v2
  /-preview(?:-\d{2}-\d{2})?$/, // gemini-2.5-flash-preview-05-20
  /-exp(?:-\d{2}-\d{2}|-\d{4})?$/, // gemini-2.0-flash-exp
];

/**
 * The names `model` is tried under, in order: as given, lower-cased, without a
 * provider prefix (`openai/`, `meta-llama/`, `anthropic.`), without a `:tag`,
 * then with version/date suffixes removed one by one; each of those also with
 * dots between digits turned into dashes (`claude-3.5-sonnet` → `claude-3-5-sonnet`).
 */
export function priceNameCandidates(model: string): string[] {
  const candidates = [model];
  const add = (name: string) => {
    if (name.length > 0 && !candidates.includes(name)) candidates.push(name);
  };
  let name = model.trim().toLowerCase();
  add(name);
  name = name.slice(name.lastIndexOf("/") + 1);
  add(name);
  name = name.replace(VENDOR_DOT_PREFIX, "");
  add(name);
  name = name.replace(TAG_SUFFIX, "");
  add(name);
  for (const start of [name, name.replace(/(\d)\.(\d)/g, "$1-$2")]) {
    let current = start;
    add(current);
    for (let changed = true; changed; ) {
      changed = false;
      for (const suffix of VERSION_SUFFIXES) {
        const stripped = current.replace(suffix, "");
        if (stripped !== current && stripped.length > 0) {
          current = stripped;
          add(current);
          changed = true;
          break;
        }
      }
    }
  }
  return candidates;
}

/**
 * A lookup function over `table`, indexed once (exact and lower-cased names).
 * Use it instead of {@link resolvePrice} when resolving many names.
 *
 * @example
 * ```ts
 * const priceOf = createPriceResolver(DEFAULT_PRICES);
 * priceOf("openai/gpt-4o-2024-08-06"); // { inputPerMillion: 2.5, outputPerMillion: 10 }
 * ```
 */
export function createPriceResolver(table: PriceTable): (model: string) => ModelPrice | undefined {
  const byLowerName = new Map<string, ModelPrice>();
  for (const [name, price] of Object.entries(table)) {
    const lower = name.toLowerCase();
    // An exact-case key wins over another key that only differs in case.
    if (!byLowerName.has(lower) || name === lower) byLowerName.set(lower, price);
  }
  return function resolveModelPrice(model: string): ModelPrice | undefined {
    const exact = Object.hasOwn(table, model) ? table[model] : undefined;
    if (exact) return exact;
    for (const candidate of priceNameCandidates(model)) {
      const price = byLowerName.get(candidate);
      if (price) return price;
    }
    return undefined;
  };
}

/**
 * The price of `model` in `table`: exact name, then case-insensitive, then
 * without a provider prefix (`openai/gpt-4o`, `meta-llama/Llama-3.3-70B-Instruct-Turbo`,
 * `anthropic.claude-3-haiku-20240307-v1:0`), then without version or date
 * suffixes (`gpt-4o-2024-08-06` → `gpt-4o`). `undefined` when nothing matches.
 *
 * @example
 * ```ts
 * resolvePrice(DEFAULT_PRICES, "gpt-4o-mini"); // { inputPerMillion: 0.15, outputPerMillion: 0.6 }
 * resolvePrice(DEFAULT_PRICES, "anthropic/claude-3.5-sonnet"); // { inputPerMillion: 3, outputPerMillion: 15 }
 * resolvePrice(DEFAULT_PRICES, "my-local-model"); // undefined
 * ```
 */
export function resolvePrice(table: PriceTable, model: string): ModelPrice | undefined {
  return createPriceResolver(table)(model);
}

// ---------------------------------------------------------------------------
// Cost
// ---------------------------------------------------------------------------

/**
 * USD cost of a call: `(inputTokens · inputPerMillion + outputTokens · outputPerMillion) / 1e6`.
 *
 * @example
 * ```ts
 * costUsd({ inputPerMillion: 2.5, outputPerMillion: 10 }, { inputTokens: 1_000, outputTokens: 500 }); // 0.0075
 * ```
 */
export function costUsd(price: ModelPrice, usage: { inputTokens: number; outputTokens: number }): number {
  return (usage.inputTokens * price.inputPerMillion + usage.outputTokens * price.outputPerMillion) / 1_000_000;
}

/**
 * Cost in whole nano-dollars (1e-9 USD), rounded to the nearest. Budgets keep
 * USD in integer nano-dollars so that sums and differences are exact.
 * Monotonic: more tokens never cost fewer nano-dollars.
 *
 * @example
 * ```ts
 * costNanoUsd({ inputPerMillion: 2.5, outputPerMillion: 10 }, { inputTokens: 1_000, outputTokens: 500 }); // 7_500_000 ($0.0075)
 * ```
 */
export function costNanoUsd(price: ModelPrice, usage: { inputTokens: number; outputTokens: number }): number {
  return Math.round((usage.inputTokens * price.inputPerMillion + usage.outputTokens * price.outputPerMillion) * 1_000);
}
