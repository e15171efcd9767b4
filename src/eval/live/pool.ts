/**
 * The live model pool of an experiment: one chat model per `backend.models` entry, each with its price.
 *
 * - `openai`: `ChatOpenAI`, key from `apiKeyEnv` (default `OPENAI_API_KEY`); `baseURL` for any
 *   OpenAI-compatible server (vLLM, Together, a local test server).
 * - `openrouter`: `ChatOpenAI` against `https://openrouter.ai/api/v1`, key `OPENROUTER_API_KEY`.
 * - `ollama`: `ChatOpenAI` against Ollama's OpenAI-compatible endpoint (default `http://127.0.0.1:11434/v1`), no key.
 * - `llamacpp`: one local GGUF model per path, built by the injected `createLlamaCppModel` (the CLI
 *   passes `LlamaCppChatModel`; `src/` does not import adapters). Named by the file name without `.gguf`.
 *
 * Prices: `prices` of the config over the built-in table. A hosted model with no price is an error
 * before any call (its cost could not be recorded); a local model with none costs 0 USD.
 */
import type { BaseMessageLike } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { createPriceResolver, DEFAULT_PRICES, mergePrices } from "../../budget/prices.js";
import type { ModelPrice, PriceTable } from "../../budget/types.js";
import { ConfigFileError, type ExperimentConfig, requireApiKey } from "../experiment/config.js";

/** What the recorder needs of a chat model: `invoke` returning content and (ideally) `usage_metadata`. */
export interface LiveChatModel {
  invoke(
    input: BaseMessageLike[],
    options?: { signal?: AbortSignal; metadata?: Record<string, unknown> },
  ): Promise<{ content: unknown; usage_metadata?: { input_tokens: number; output_tokens: number } | undefined }>;
}

/** One model of the pool. */
export interface LivePoolModel {
  /** The name in outcomes, prices and `routers.*` (the API model id; for llamacpp the file name without `.gguf`). */
  name: string;
  price: ModelPrice;
  /** True when the price came from no table (a local model): its calls cost 0 USD. */
  unpriced: boolean;
  model: LiveChatModel;
}

/** The live backend of an experiment, ready to call. */
export interface LivePool {
  backend: LiveBackend["kind"];
  /** Where the OpenAI-compatible backends send requests. */
  baseURL: string | undefined;
  models: LivePoolModel[];
  /** Free local models (llamacpp); a no-op for hosted ones. */
  dispose(): Promise<void>;
}

/** The backends with live models. */
export type LiveBackend = Extract<
  ExperimentConfig["backend"],
  { kind: "openai" | "openrouter" | "ollama" | "llamacpp" }
>;

/** What {@link LivePoolOptions.createLlamaCppModel} gets for one GGUF file. */
export interface LlamaCppModelSettings {
  modelPath: string;
  contextSize: number;
  threads?: number;
  gpu?: false | "auto" | "metal" | "cuda" | "vulkan";
  maxTokens?: number;
  temperature?: number;
  /** Sequences decoded at once (the recording's `concurrency`). */
  concurrency: number;
}

/** Options of {@link createLivePool}. */
export interface LivePoolOptions {
  backend: LiveBackend;
  /** Model → price, over the built-in table (the config's `prices`). */
  prices?: PriceTable;
  /** Where API keys are read from (read here, once). */
  env: Readonly<Record<string, string | undefined>>;
  /** Builds a local GGUF chat model; required for `llamacpp`. */
  createLlamaCppModel?: (settings: LlamaCppModelSettings) => LiveChatModel & { dispose?(): Promise<void> };
  /** File named in price errors. */
  configFile?: string;
}

/** True for a live (non-recorded, non-scripted) backend. */
export function isLiveBackend(backend: ExperimentConfig["backend"]): backend is LiveBackend {
  return ["openai", "openrouter", "ollama", "llamacpp"].includes(backend.kind);
}

/** An Ollama URL with no path (`http://host:11434`) gets `/v1`, its OpenAI-compatible endpoint. */
export function ollamaBaseURL(url: string): string {
  const parsed = new URL(url);
  return parsed.pathname === "/" || parsed.pathname === "" ? `${parsed.origin}/v1` : url.replace(/\/$/, "");
}

/** `qwen-7b` for `/models/qwen-7b.gguf`. */
export function llamaCppModelName(path: string): string {
  const file = path.split(/[\\/]/).pop() ?? path;
  return file.replace(/\.gguf$/i, "");
}

/**
 * Build the pool of a live backend.
 *
 * @throws MissingApiKeyError naming the variable when a keyed backend's key is unset.
 * @throws ConfigFileError (field `prices`) when a hosted model has no price, or two GGUF files share a name.
 * @example
 * ```ts
 * const pool = createLivePool({ backend: config.backend, prices: config.prices, env: process.env });
 * const answer = await pool.models[0]?.model.invoke([["human", "2 + 2?"]]);
 * await pool.dispose();
 * ```
 */
export function createLivePool(options: LivePoolOptions): LivePool {
  const { backend, prices = {}, env, createLlamaCppModel, configFile = "experiment config" } = options;
  const apiKey = requireApiKey(backend, env);
  const priceOf = createPriceResolver(mergePrices(DEFAULT_PRICES, prices));
  const hosted = backend.kind === "openai" || backend.kind === "openrouter";
  const priced = (name: string): { price: ModelPrice; unpriced: boolean } => {
    const price = priceOf(name);
    if (price !== undefined) return { price, unpriced: false };
    if (hosted) {
      throw new ConfigFileError(configFile, [
        {
          field: "prices",
          message: `no price for "${name}": add prices.${name}: { inputPerMillion, outputPerMillion } (USD per million tokens) so its calls can be charged`,
        },
      ]);
    }
    return { price: { inputPerMillion: 0, outputPerMillion: 0 }, unpriced: true };
  };

  if (backend.kind === "llamacpp") {
    if (createLlamaCppModel === undefined)
      throw new Error("createLivePool: the llamacpp backend needs createLlamaCppModel");
    const names = backend.models.map(llamaCppModelName);
    const duplicate = names.find((name, position) => names.indexOf(name) !== position);
    if (duplicate !== undefined) {
      throw new ConfigFileError(configFile, [
        { field: "backend.models", message: `two GGUF files are named "${duplicate}": model names must differ` },
      ]);
    }
    const built = backend.models.map((modelPath, position) => {
      const name = names[position] as string;
      const model = createLlamaCppModel({
        modelPath,
        contextSize: backend.contextSize,
        concurrency: backend.concurrency,
        ...(backend.threads === undefined ? {} : { threads: backend.threads }),
        ...(backend.gpu === undefined ? {} : { gpu: backend.gpu }),
        ...(backend.maxTokens === undefined ? {} : { maxTokens: backend.maxTokens }),
        ...(backend.temperature === undefined ? {} : { temperature: backend.temperature }),
      });
      return { name, ...priced(name), model };
    });
    return {
      backend: backend.kind,
      baseURL: undefined,
      models: built,
      dispose: async () => {
        await Promise.all(built.map((entry) => entry.model.dispose?.()));
      },
    };
  }

  const baseURL = backend.kind === "ollama" ? ollamaBaseURL(backend.baseURL) : backend.baseURL;
  const models = backend.models.map((name) => ({
    name,
    ...priced(name),
    model: new ChatOpenAI({
      model: name,
      // Ollama takes any key; the client insists on one.
      apiKey: apiKey ?? "ollama",
      maxRetries: backend.maxRetries,
      ...(backend.temperature === undefined ? {} : { temperature: backend.temperature }),
      ...(backend.maxTokens === undefined ? {} : { maxTokens: backend.maxTokens }),
      ...(backend.timeoutMs === undefined ? {} : { timeout: backend.timeoutMs }),
      ...(baseURL === undefined ? {} : { configuration: { baseURL } }),
    }),
  }));
  return { backend: backend.kind, baseURL: baseURL ?? "https://api.openai.com/v1", models, dispose: async () => {} };
}
