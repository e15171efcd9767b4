/**
 * Errors of the budget core beyond `BudgetExhaustedError` (which lives in
 * `src/errors.ts`). Named classes with structured fields, matched by
 * `isInstance` across package copies.
 */
import { GavelError } from "../errors.js";

/**
 * A budget with USD limits (or `requirePrices: true`) was asked to reserve for
 * a model it has no price for. Add the model to the budget's `prices`.
 *
 * @example
 * ```ts
 * const budget = createTokenBudget({ limits: { global: { maxUsd: 5 } } });
 * try {
 *   budget.reserve({ model: "my-finetune", inputTokens: 100, maxOutputTokens: 100 });
 * } catch (error) {
 *   if (UnknownModelPriceError.isInstance(error)) error.model; // "my-finetune"
 * }
 * ```
 */
export class UnknownModelPriceError extends GavelError {
  override readonly name = "UnknownModelPriceError";
  /** The model name that matched no price entry. */
  readonly model: string;

  constructor(model: string) {
    super(
      `No price for model "${model}". Add it to the budget's prices, e.g. ` +
        `prices: { "${model}": { inputPerMillion: 1, outputPerMillion: 2 } }, ` +
        `or set requirePrices: false to keep no USD account for unpriced models.`,
    );
    this.model = model;
  }
}

/** Why a reservation can no longer be settled. */
export type ReservationState = "settled" | "released" | "foreign";

/**
 * `settle` was called on a reservation that is already settled or released,
 * or that another budget issued. Nothing was charged by this call.
 *
 * @example
 * ```ts
 * const budget = createTokenBudget({ limits: { run: { maxTokens: 20_000 } } });
 * const reservation = budget.reserve({ model: "gpt-4o-mini", inputTokens: 100, maxOutputTokens: 100 });
 * budget.settle(reservation, { inputTokens: 100, outputTokens: 20 });
 * try {
 *   budget.settle(reservation, { inputTokens: 100, outputTokens: 20 });
 * } catch (error) {
 *   if (ReservationClosedError.isInstance(error)) [error.reservationId, error.state]; // ["reservation-1", "settled"]
 * }
 * ```
 */
export class ReservationClosedError extends GavelError {
  override readonly name = "ReservationClosedError";
  /** Id of the reservation. */
  readonly reservationId: string;
  /** `"settled"`, `"released"`, or `"foreign"` (not issued by this budget). */
  readonly state: ReservationState;

  constructor(reservationId: string, state: ReservationState) {
    const reason = state === "foreign" ? "was not issued by this budget" : `is already ${state}`;
    super(`Reservation ${reservationId} ${reason}; it cannot be settled (nothing was charged twice).`);
    this.reservationId = reservationId;
    this.state = state;
  }
}

/** What a budget store was doing when it failed. */
export type BudgetStoreOperation =
  | "open"
  | "migrate"
  | "reserve"
  | "settle"
  | "release"
  | "accounts"
  | "snapshot"
  | "reservationState"
  | "expire";

/**
 * A budget store (SQLite, PostgreSQL, or one of your own) could not open or migrate its tables,
 * or an operation failed after its retries (a lock held too long, a lost connection, a closed
 * store), or an amount was not a safe integer. `operation` names it; the driver's error is the
 * `cause`. A failed `reserve` may still have been held (the connection died after the commit):
 * retrying it with the same reservation id is safe, and otherwise its lease releases it.
 *
 * @example
 * ```ts
 * try {
 *   await store.settle(id, spent, Date.now());
 * } catch (error) {
 *   if (BudgetStoreError.isInstance(error)) console.error(error.operation, error.cause); // retry later: it settles once
 * }
 * ```
 */
export class BudgetStoreError extends GavelError {
  override readonly name: string = "BudgetStoreError";
  /** What failed. */
  readonly operation: BudgetStoreOperation;

  constructor(operation: BudgetStoreOperation, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.operation = operation;
  }
}
