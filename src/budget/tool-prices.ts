/**
 * Tool prices: what one call of a tool costs, kept in the same price table as model prices
 * under the key `"tool:<name>"`, and how a tool call is reserved and charged on a budget.
 * Pure: no I/O.
 *
 * A tool call is charged like a model call, under the name `"tool:<name>"` (so a ledger groups
 * it by tool): it reserves its price — `usdPerCall`, and `tokensPerCall` tokens when the tool has
 * a token equivalent — and settles at that price.
 */
import { z } from "zod";
import { GavelError } from "../errors.js";
import { modelPriceSchema } from "./prices.js";
import type { ModelPrice, PriceTable, ToolPrice } from "./types.js";

/**
 * Prefix of a tool's key in a price table and of its charges' model name: `"tool:web_search"`.
 *
 * @example
 * ```ts
 * createTokenBudget({ limits: { run: { maxUsd: 1 } }, prices: { [`${TOOL_PRICE_PREFIX}web_search`]: { usdPerCall: 0.01 } } });
 * ```
 */
export const TOOL_PRICE_PREFIX = "tool:";

/**
 * Zod schema of one tool price: USD per call (finite, ≥ 0) and an optional token equivalent per
 * call (counted against token limits; default 0).
 *
 * @example
 * ```ts
 * toolPriceSchema.safeParse({ usdPerCall: 0.005 }).success; // true
 * toolPriceSchema.safeParse({ usdPerCall: 0.005, tokensPerCall: 300 }).success; // true
 * toolPriceSchema.safeParse({ usd: 0.005 }).success; // false: unknown key
 * ```
 */
export const toolPriceSchema = z
  .object({
    usdPerCall: z.number().nonnegative().finite(),
    tokensPerCall: z.number().int().nonnegative().optional(),
  })
  .strict();

/** Model name → model price, and `"tool:<name>"` → tool price, side by side. */
export type BudgetPriceTable = Record<string, ModelPrice | ToolPrice>;

/**
 * Zod schema of a price table with model and tool prices side by side: a `"tool:<name>"` key
 * takes a {@link ToolPrice}, any other key a model price. A wrong entry is reported at its key,
 * naming the tool or model and the expected shape.
 *
 * @example
 * ```ts
 * budgetPriceTableSchema.safeParse({
 *   "my-finetune": { inputPerMillion: 3, outputPerMillion: 12 },
 *   "tool:web_search": { usdPerCall: 0.01 },
 * }).success; // true
 * budgetPriceTableSchema.safeParse({ "tool:web_search": { inputPerMillion: 3, outputPerMillion: 12 } }).success; // false
 * ```
 */
export const budgetPriceTableSchema = z.record(z.string().min(1), z.unknown()).superRefine((table, context) => {
  for (const [key, entry] of Object.entries(table)) {
    const tool = toolNameOf(key);
    if (tool === "") {
      context.addIssue({ code: "custom", path: [key], message: 'a tool price needs a tool name after "tool:"' });
      continue;
    }
    const result = (tool === undefined ? modelPriceSchema : toolPriceSchema).safeParse(entry);
    if (result.success) continue;
    for (const issue of result.error.issues) {
      context.addIssue({
        code: "custom",
        path: [key, ...issue.path.map(String)],
        message:
          tool === undefined
            ? issue.message
            : `tool "${tool}": ${issue.message}; expected { usdPerCall, tokensPerCall? }, e.g. { usdPerCall: 0.01 }`,
      });
    }
  }
}) as unknown as z.ZodType<BudgetPriceTable>;

/**
 * The tool a charge name or price key is for: `"web_search"` for `"tool:web_search"`, `undefined`
 * for a model.
 *
 * @example
 * ```ts
 * toolNameOf("tool:web_search"); // "web_search"
 * toolNameOf("gpt-4o-mini"); // undefined
 * ```
 */
export function toolNameOf(name: string): string | undefined {
  return name.startsWith(TOOL_PRICE_PREFIX) ? name.slice(TOOL_PRICE_PREFIX.length) : undefined;
}

/**
 * The name a tool's calls are charged (and recorded in a ledger) under: `"tool:<tool>"`.
 *
 * @example
 * ```ts
 * toolChargeName("web_search"); // "tool:web_search"
 * ```
 */
export function toolChargeName(tool: string): string {
  return `${TOOL_PRICE_PREFIX}${tool}`;
}

/**
 * A price table split into its model prices and its tool prices (keyed by tool name).
 *
 * @example
 * ```ts
 * splitPriceTable({ "gpt-4o-mini": { inputPerMillion: 0.15, outputPerMillion: 0.6 }, "tool:search": { usdPerCall: 0.01 } });
 * // { models: { "gpt-4o-mini": {...} }, tools: { search: { usdPerCall: 0.01 } } }
 * ```
 */
export function splitPriceTable(table: BudgetPriceTable = {}): {
  models: PriceTable;
  tools: Record<string, ToolPrice>;
} {
  const models: PriceTable = {};
  const tools: Record<string, ToolPrice> = {};
  for (const [key, entry] of Object.entries(table)) {
    const tool = toolNameOf(key);
    if (tool === undefined) models[key] = entry as ModelPrice;
    else tools[tool] = entry as ToolPrice;
  }
  return { models, tools };
}

/**
 * A tool was called that has no price while prices are required (`requirePrices: true`). Add
 * `"tool:<name>": { usdPerCall }` to the prices, or leave `requirePrices` unset (a tool without a
 * price is then free and uncapped).
 *
 * @example
 * ```ts
 * try {
 *   await agent.invoke(input); // tokenBudgetMiddleware({ requirePrices: true, ... })
 * } catch (error) {
 *   if (UnknownToolPriceError.isInstance(error)) console.error(`price the tool ${error.tool}`);
 * }
 * ```
 */
export class UnknownToolPriceError extends GavelError {
  override readonly name = "UnknownToolPriceError";
  /** The tool that has no price. */
  readonly tool: string;

  constructor(tool: string) {
    super(
      `No price for tool "${tool}". Add it to the prices, e.g. prices: { "${toolChargeName(tool)}": { usdPerCall: 0.01 } }, ` +
        "or leave requirePrices unset to call unpriced tools for free.",
    );
    this.tool = tool;
  }
}
