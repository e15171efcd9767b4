/** Errors of the belief-coordination graph. */
import { GavelError } from "../errors.js";

/** Why coordination could not be built or could not go on. */
export type CoordinationFailure = "uncappable-model" | "all-executors-failed";

/**
 * Coordination could not be built (a model cannot be given the output cap the graph needs) or
 * could not go on (every executor of a round failed; their errors are in `cause`, an `AggregateError`).
 *
 * @example
 * ```ts
 * try {
 *   const coordination = createBeliefCoordination({ coordinator, executors, embeddings, parseAnswer }); // may throw "uncappable-model"
 *   await coordination.invoke({ question: "What is 17 × 3?" }); // may throw "all-executors-failed"
 * } catch (error) {
 *   if (!CoordinationError.isInstance(error)) throw error;
 *   console.error(error.reason, error.agent, error.cause); // e.g. "uncappable-model", "coordinator", undefined
 * }
 * ```
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
