/**
 * Errors of the budget core beyond `BudgetExhaustedError` (which lives in
 * `src/errors.ts`). Named classes with structured fields, matched by
 * `isInstance` across package copies.
 */
import { GavelError } from "../errors.js";

/**
 * A budget with USD limits (or `requirePrices: true`) was asked to reserve for
 * a model it has no price for. Add the model to the budget's `prices`.
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
