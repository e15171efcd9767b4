/** Errors of the belief-coordination graph. */
import { GavelError } from "../errors.js";

/** Why coordination could not be built or could not go on. */
export type CoordinationFailure = "uncappable-model" | "all-executors-failed";

/**
 * Coordination could not be built (a model cannot be given the output cap the graph needs) or
 * could not go on (every executor of a round failed; their errors are in `cause`, an `AggregateError`).
 */
export class CoordinationError extends GavelError {
  override readonly name = "CoordinationError";
  readonly reason: CoordinationFailure;
  /** The agent concerned (`"coordinator"` or an executor name), when one is. */
  readonly agent: string | undefined;

  constructor(
    message: string,
    details: { reason: CoordinationFailure; agent?: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.reason = details.reason;
    this.agent = details.agent;
  }
}
