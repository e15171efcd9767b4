/**
 * Errors of the middleware beyond those in `src/errors.ts`.
 */
import { GavelError } from "../errors.js";

/**
 * `tokenBudgetMiddleware` was configured with `uncappedModels: "error"` and the agent called a
 * model that declares no output cap (`maxTokens`), so no upper bound of the call could be
 * reserved. Set `maxTokens` on the model, or use `uncappedModels: "cap"`.
 *
 * @example
 * ```ts
 * try {
 *   await agent.invoke(input); // tokenBudgetMiddleware({ runLimit: 10_000, uncappedModels: "error" })
 * } catch (error) {
 *   // LangChain wraps errors thrown inside wrapModelCall: the original is the cause.
 *   const original = (error as { cause?: unknown }).cause ?? error;
 *   if (ModelWithoutOutputCapError.isInstance(original)) console.error(`set maxTokens on ${original.model}`);
 * }
 * ```
 */
export class ModelWithoutOutputCapError extends GavelError {
  override readonly name = "ModelWithoutOutputCapError";
  /** Name of the model that declares no cap. */
  readonly model: string;

  constructor(model: string) {
    super(
      `Model "${model}" declares no output cap, so the token budget cannot reserve an upper bound for its calls. ` +
        `Construct it with maxTokens (e.g. new ChatOpenAI({ model: "${model}", maxTokens: 1024 })), ` +
        `or use uncappedModels: "cap" to let the middleware call a capped copy.`,
    );
    this.model = model;
  }
}
