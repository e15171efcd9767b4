/**
 * Named errors of the node-llama-cpp adapter. Each carries the fields a caller needs to act on
 * it, and the original failure as `cause`.
 */
import { GavelError } from "../../src/errors.js";

/**
 * The GGUF model file does not exist, cannot be read, or llama.cpp refused to load it.
 *
 * @example
 * ```ts
 * const runtime = createLlamaCppRuntime({ modelPath: "./models/missing.gguf" });
 * try {
 *   await new LlamaCppChatModel({ runtime }).invoke("Hello");
 * } catch (error) {
 *   if (LlamaCppModelLoadError.isInstance(error)) [error.reason, error.modelPath]; // ["not_found", "./models/missing.gguf"]
 * }
 * ```
 */
export class LlamaCppModelLoadError extends GavelError {
  override readonly name = "LlamaCppModelLoadError";
  /** The path that was given (as given). */
  readonly modelPath: string;
  /** `not_found`: no readable file at the path; `load_failed`: llama.cpp could not load it. */
  readonly reason: "not_found" | "load_failed";

  constructor(details: { modelPath: string; reason: "not_found" | "load_failed" }, options?: { cause?: unknown }) {
    const { modelPath, reason } = details;
    super(
      reason === "not_found"
        ? `No GGUF model file at "${modelPath}" (modelPath). Check the path, or write a test model with writeTinyLlamaGguf().`
        : `llama.cpp could not load the GGUF model at "${modelPath}": ${describe(options?.cause)}`,
      options,
    );
    this.modelPath = modelPath;
    this.reason = reason;
  }
}

/**
 * The prompt plus `maxTokens` does not fit in the context window of a sequence.
 *
 * @example
 * ```ts
 * try {
 *   await new LlamaCppChatModel({ runtime, maxTokens: 512 }).invoke(longDocument);
 * } catch (error) {
 *   if (LlamaCppContextOverflowError.isInstance(error)) console.error(error.promptTokens, error.maxTokens, error.contextSize); // e.g. 3900 512 4096
 * }
 * ```
 */
export class LlamaCppContextOverflowError extends GavelError {
  override readonly name = "LlamaCppContextOverflowError";
  readonly promptTokens: number;
  readonly maxTokens: number;
  readonly contextSize: number;

  constructor(details: { promptTokens: number; maxTokens: number; contextSize: number }) {
    const { promptTokens, maxTokens, contextSize } = details;
    super(
      `The prompt (${promptTokens} tokens) plus maxTokens (${maxTokens}) exceeds the context size (${contextSize} tokens per sequence). ` +
        "Shorten the prompt, lower maxTokens or raise contextSize.",
    );
    this.promptTokens = promptTokens;
    this.maxTokens = maxTokens;
    this.contextSize = contextSize;
  }
}

/**
 * Structured output hit `maxTokens` before the JSON value was complete.
 *
 * @example
 * ```ts
 * const judge = new LlamaCppChatModel({ runtime, maxTokens: 8 }).withStructuredOutput(z.object({ reason: z.string() }));
 * try {
 *   await judge.invoke("Why is the sky blue?");
 * } catch (error) {
 *   if (LlamaCppOutputTruncatedError.isInstance(error)) [error.maxTokens, error.text]; // e.g. [8, '{"reason":"Rayleigh scat']
 * }
 * ```
 */
export class LlamaCppOutputTruncatedError extends GavelError {
  override readonly name = "LlamaCppOutputTruncatedError";
  readonly maxTokens: number;
  /** The incomplete text. */
  readonly text: string;

  constructor(details: { maxTokens: number; text: string }) {
    super(
      `Structured output stopped at maxTokens (${details.maxTokens}) before the JSON value was complete; raise maxTokens or tighten the schema (for example maxLength on strings).`,
    );
    this.maxTokens = details.maxTokens;
    this.text = details.text;
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
