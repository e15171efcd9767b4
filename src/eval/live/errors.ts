/**
 * Errors of live evaluation: the recording stopped because a backend cannot be reached, a model keeps
 * failing, or the budget of the recording is spent.
 */
import { GavelError } from "../../errors.js";

/** A live backend failed so often that going on would only record errors (a server down, a wrong model name). */
export class LiveBackendError extends GavelError {
  override readonly name = "LiveBackendError";
  /** The backend kind, e.g. `ollama`. */
  readonly backend: string;
  /** The pool model that kept failing, when one did. */
  readonly model: string | undefined;

  constructor(details: { backend: string; model?: string; problem: string }, options?: { cause?: unknown }) {
    super(
      `The ${details.backend} backend${details.model === undefined ? "" : ` (model "${details.model}")`}: ${details.problem}`,
      options,
    );
    this.backend = details.backend;
    this.model = details.model;
  }
}

/**
 * The live recording reached `budget.maxUsd` or `budget.maxTokens` (counted over the whole cache,
 * earlier runs included). What was answered is kept in the cache; raise the budget and run again to go on.
 */
export class LiveBudgetReachedError extends GavelError {
  override readonly name = "LiveBudgetReachedError";
  readonly unit: "usd" | "tokens";
  readonly limit: number;
  readonly spent: number;
  /** (prompt, model) pairs left unasked. */
  readonly remaining: number;

  constructor(details: { unit: "usd" | "tokens"; limit: number; spent: number; remaining: number; cache: string }) {
    const { unit, limit, spent, remaining, cache } = details;
    const amount = (value: number) => (unit === "usd" ? `$${Number(value.toPrecision(4))}` : `${value} tokens`);
    super(
      `The live recording reached its budget: ${amount(spent)} spent of ${amount(limit)} (budget.${unit === "usd" ? "maxUsd" : "maxTokens"}); ` +
        `${remaining} (prompt, model) call(s) left unasked. The answers so far are kept in ${cache}: raise the budget and run again to go on.`,
    );
    this.unit = unit;
    this.limit = limit;
    this.spent = spent;
    this.remaining = remaining;
  }
}
