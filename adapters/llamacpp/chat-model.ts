/**
 * `LlamaCppChatModel`: a LangChain chat model over a local GGUF model run by node-llama-cpp,
 * reporting what the router needs to price and score a plan:
 *
 * - `usage_metadata`: prompt and completion token counts from the model's own tokenizer;
 * - `response_metadata.logprobs`: OpenAI's shape (`{ content: [{ token, logprob, bytes,
 *   top_logprobs }] }`), from the real next-token distribution of every generated token;
 * - `response_metadata.tokenEntropies`: the exact entropy (nats) of that distribution over the
 *   whole vocabulary, per generated token, `meanEntropy`, and `vocabularySize` to normalise by;
 * - JSON-schema-constrained output (call option `jsonSchema`, or `withStructuredOutput`) through
 *   a llama.cpp grammar;
 * - `countPromptTokens(messages)`: the exact prompt tokens of a call before it is made, which
 *   budgets reserve instead of a js-tiktoken estimate.
 *
 * node-llama-cpp is an optional peer dependency, imported on first use (see `runtime.ts`).
 */

import { basename } from "node:path";
import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { BaseLanguageModelInput, StructuredOutputMethodOptions } from "@langchain/core/language_models/base";
import type {
  BaseChatModelCallOptions,
  BaseChatModelParams,
  LangSmithParams,
} from "@langchain/core/language_models/chat_models";
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import {
  assembleStructuredOutputPipeline,
  createContentParser,
} from "@langchain/core/language_models/structured_output";
import type { BaseMessage, UsageMetadata } from "@langchain/core/messages";
import { AIMessage, AIMessageChunk } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { ChatGenerationChunk } from "@langchain/core/outputs";
import { type Runnable, RunnableLambda } from "@langchain/core/runnables";
import { toJsonSchema } from "@langchain/core/utils/json_schema";
import { isSerializableSchema, type SerializableSchema } from "@langchain/core/utils/standard_schema";
import { type InteropZodType, isInteropZodSchema } from "@langchain/core/utils/types";
import type { ChatHistoryItem, ChatWrapper, LlamaModel, Token } from "node-llama-cpp";
import { z } from "zod";
import { functionSchema, parseConfig } from "../../src/errors.js";
import {
  entropyOf,
  type OpenAILogprobs,
  type TokenLogprob,
  type TopLogprob,
  untemperedDistribution,
} from "./distribution.js";
import { LlamaCppContextOverflowError, LlamaCppOutputTruncatedError } from "./errors.js";
import {
  createLlamaCppRuntime,
  LlamaCppRuntime,
  type LlamaCppRuntimeOptions,
  type LoadedLlamaCpp,
  type NodeLlamaCppModule,
} from "./runtime.js";

/**
 * Default cap on generated tokens: a local model always runs with a cap.
 *
 * @example
 * ```ts
 * new LlamaCppChatModel({ runtime }).maxTokens === DEFAULT_LLAMACPP_MAX_TOKENS; // true (256)
 * ```
 */
export const DEFAULT_LLAMACPP_MAX_TOKENS = 256;
/**
 * Default number of alternatives in `top_logprobs` (OpenAI allows at most 20).
 *
 * @example
 * ```ts
 * DEFAULT_LLAMACPP_TOP_LOGPROBS; // 20, the most OpenAI allows in top_logprobs
 * ```
 */
export const DEFAULT_LLAMACPP_TOP_LOGPROBS = 20;

/** Generation settings: constructor defaults, each overridable per call. */
const generationSettingsSchema = z.object({
  /** Cap on generated tokens. Default 256. */
  maxTokens: z.number().int().positive().default(DEFAULT_LLAMACPP_MAX_TOKENS),
  /** Sampling temperature; 0 is greedy (deterministic). Default 0. */
  temperature: z.number().min(0).default(0),
  /** Seed of the sampler (matters when temperature > 0). Default: none (varies per run). */
  seed: z.number().int().nonnegative().optional(),
  /** Alternatives per token in `top_logprobs`, 0–20. Default 20. */
  topLogprobs: z.number().int().min(0).max(20).default(DEFAULT_LLAMACPP_TOP_LOGPROBS),
  /** Report log-probabilities and entropies (costs one pass over the vocabulary per token). Default true. */
  logprobs: z.boolean().default(true),
});

const llamaCppChatModelOptionsSchema = generationSettingsSchema
  .extend({
    modelPath: z.string().min(1).optional(),
    runtime: z.instanceof(LlamaCppRuntime).optional(),
    contextSize: z.number().int().positive().optional(),
    concurrency: z.number().int().positive().optional(),
    threads: z.number().int().positive().optional(),
    gpu: z.union([z.literal(false), z.enum(["auto", "metal", "cuda", "vulkan"])]).optional(),
    llama: z.custom<LlamaCppRuntimeOptions["llama"]>((value) => typeof value === "object" && value !== null).optional(),
    loadModule: functionSchema<() => Promise<NodeLlamaCppModule>>().optional(),
  })
  .strict()
  .refine((options) => (options.modelPath === undefined) !== (options.runtime === undefined), {
    message: "give exactly one of modelPath (load a GGUF file) or runtime (share a loaded one)",
    path: ["modelPath"],
  })
  .refine(
    (options) =>
      options.runtime === undefined ||
      [options.contextSize, options.concurrency, options.threads, options.gpu, options.llama, options.loadModule].every(
        (value) => value === undefined,
      ),
    {
      message:
        "contextSize, concurrency, threads, gpu, llama and loadModule belong to the runtime when a runtime is given",
      path: ["runtime"],
    },
  );

/** Constructor fields of {@link LlamaCppChatModel}. */
export interface LlamaCppChatModelFields
  extends BaseChatModelParams,
    Partial<z.input<typeof generationSettingsSchema>> {
  /** Path of the GGUF model file (give this or `runtime`). */
  modelPath?: string;
  /** A shared {@link LlamaCppRuntime} (give this or `modelPath`). */
  runtime?: LlamaCppRuntime;
  /** Context window per sequence, in tokens (runtime option). */
  contextSize?: number;
  /** Concurrent generations (sequences of the context); more calls wait (runtime option). Default 2. */
  concurrency?: number;
  /** CPU threads (runtime option). */
  threads?: number;
  /** GPU backend, or `false` for CPU only (runtime option). Default `"auto"`. */
  gpu?: false | "auto" | "metal" | "cuda" | "vulkan";
  /** A shared `Llama` binding from `getLlama()` (runtime option). */
  llama?: LlamaCppRuntimeOptions["llama"];
  /** Loads node-llama-cpp; a seam for tests (runtime option). */
  loadModule?: () => Promise<NodeLlamaCppModule>;
}

/** Call options: generation settings per call, plus a JSON schema to constrain the output. */
export interface LlamaCppChatModelCallOptions extends BaseChatModelCallOptions {
  maxTokens?: number;
  temperature?: number;
  seed?: number;
  topLogprobs?: number;
  logprobs?: boolean;
  /** Constrain the output to JSON valid for this schema (llama.cpp grammar). */
  jsonSchema?: Record<string, unknown>;
}

/** What `response_metadata` of a {@link LlamaCppChatModel} answer holds. */
export interface LlamaCppResponseMetadata {
  model_name: string;
  model_provider: "llama-cpp";
  /** `"stop"` (end-of-generation token or stop sequence) or `"length"` (hit `maxTokens`). */
  finish_reason: "stop" | "length";
  /** OpenAI-shaped log-probabilities of the generated tokens (absent with `logprobs: false`). */
  logprobs?: OpenAILogprobs;
  /** Exact entropy in nats of each generated token's next-token distribution (full vocabulary). */
  tokenEntropies?: number[];
  /** Mean of `tokenEntropies` (0 for an empty answer). */
  meanEntropy?: number;
  /** `ln(vocabulary size)`: the largest possible entropy, to normalise with. */
  maxEntropy?: number;
  /** Tokens in the vocabulary the distributions span (the router normalises `tokenEntropies` by its log). */
  vocabularySize?: number;
  /** Distribution the log-probabilities describe: the model's own (temperature 1), masked by the grammar when one is used. */
  entropySource: "exact";
}

type GenerationSettings = z.output<typeof generationSettingsSchema>;

/** One event of a generation: a piece of text, then the final result. */
type GenerationEvent =
  | { type: "text"; delta: string }
  | { type: "end"; text: string; usage: UsageMetadata; metadata: LlamaCppResponseMetadata };

/**
 * A LangChain chat model over a local GGUF model (node-llama-cpp), with real token
 * log-probabilities, per-token entropy, token usage and JSON-schema-constrained output.
 *
 * Named `LlamaCppChatModel` so it does not clash with `@langchain/community`'s `ChatLlamaCpp`,
 * which returns neither log-probabilities nor usage and shares one chat session between calls.
 *
 * @example
 * ```ts
 * import { LlamaCppChatModel } from "./adapters/llamacpp/index.js";
 *
 * const model = new LlamaCppChatModel({ modelPath: "./models/model.gguf", maxTokens: 128 });
 * const answer = await model.invoke("Plan: how would you sort 10 GB of integers?");
 * console.log(answer.text, answer.usage_metadata, answer.response_metadata.meanEntropy);
 * await model.dispose();
 * ```
 * @example
 * ```ts
 * const verdict = await model
 *   .withStructuredOutput(z.object({ score: z.enum(["0", "1", "2", "3", "4", "5"]) }))
 *   .invoke("Score this plan from 0 to 5: ...");
 * ```
 */
export class LlamaCppChatModel extends BaseChatModel<LlamaCppChatModelCallOptions, AIMessageChunk> {
  /** The loaded (or to-be-loaded) model this chat model generates with. */
  readonly runtime: LlamaCppRuntime;
  readonly maxTokens: number;
  readonly temperature: number;
  readonly seed: number | undefined;
  readonly topLogprobs: number;
  readonly logprobs: boolean;

  static override lc_name(): string {
    return "LlamaCppChatModel";
  }

  constructor(fields: LlamaCppChatModelFields) {
    const {
      callbacks,
      callbackManager,
      verbose,
      tags,
      metadata,
      maxConcurrency,
      maxRetries,
      onFailedAttempt,
      cache,
      disableStreaming,
      outputVersion,
      ...own
    } = fields;
    super({
      callbacks,
      callbackManager,
      verbose,
      tags,
      metadata,
      maxConcurrency,
      maxRetries,
      onFailedAttempt,
      cache,
      disableStreaming,
      outputVersion,
    });
    const options = parseConfig("LlamaCppChatModel options", llamaCppChatModelOptionsSchema, own);
    this.runtime =
      options.runtime ??
      createLlamaCppRuntime({
        modelPath: options.modelPath ?? "",
        contextSize: options.contextSize,
        concurrency: options.concurrency,
        threads: options.threads,
        gpu: options.gpu,
        llama: options.llama,
        loadModule: options.loadModule,
      });
    // A copy rebuilt from `lc_kwargs` with another setting (Gavel's `cappedCopy` and `callCopy`
    // do so to change the output cap) shares this runtime instead of failing or loading the file again.
    const settings = Object.entries(own).filter(([key]) => key in generationSettingsSchema.shape);
    this.lc_kwargs = { ...this.lc_kwargs, ...Object.fromEntries(settings), runtime: this.runtime };
    this.maxTokens = options.maxTokens;
    this.temperature = options.temperature;
    this.seed = options.seed;
    this.topLogprobs = options.topLogprobs;
    this.logprobs = options.logprobs;
  }

  override _llmType(): string {
    return "llama-cpp";
  }

  /** Name of the model file, reported as `model_name`. */
  get modelName(): string {
    return basename(this.runtime.options.modelPath);
  }

  override getLsParams(options: this["ParsedCallOptions"]): LangSmithParams {
    return {
      ls_provider: "llama-cpp",
      ls_model_name: this.modelName,
      ls_model_type: "chat",
      ls_temperature: options.temperature ?? this.temperature,
      ls_max_tokens: options.maxTokens ?? this.maxTokens,
    };
  }

  override invocationParams(options?: this["ParsedCallOptions"]) {
    return { model: this.modelName, ...this.settingsFor(options) };
  }

  /** Load the model now instead of on the first call (for example at server start). */
  async load(): Promise<void> {
    await this.runtime.load();
  }

  /**
   * The prompt tokens a call with `messages` will report as `usage_metadata.input_tokens`: the
   * messages formatted with the model's chat template (BOS included) and counted by the model's
   * own tokenizer. Budgets use it (when a model offers it) to reserve the exact prompt instead of
   * a js-tiktoken estimate, which undercounts small-vocabulary local models several times over.
   *
   * @example
   * ```ts
   * const tokens = await model.countPromptTokens([new HumanMessage("hello world")]);
   * (await model.invoke([new HumanMessage("hello world")])).usage_metadata?.input_tokens === tokens; // true
   * ```
   */
  async countPromptTokens(messages: readonly BaseMessage[]): Promise<number> {
    return formatPrompt(await this.runtime.load(), messages).promptTokens.length;
  }

  /** Free the model (see {@link LlamaCppRuntime.dispose}); needed for the process to exit. */
  async dispose(): Promise<void> {
    await this.runtime.dispose();
  }

  async _generate(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    for await (const event of this.generateEvents(messages, options)) {
      if (event.type === "text") continue;
      const message = new AIMessage({
        content: event.text,
        usage_metadata: event.usage,
        response_metadata: { ...event.metadata },
      });
      return {
        generations: [{ text: event.text, message, generationInfo: { finish_reason: event.metadata.finish_reason } }],
        llmOutput: {},
      };
    }
    // generateEvents always ends with an "end" event; this line is unreachable.
    throw new Error(`LlamaCppChatModel: generation ended without a result (run ${runManager?.runId ?? "?"})`);
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    for await (const event of this.generateEvents(messages, options)) {
      if (event.type === "text") {
        yield new ChatGenerationChunk({ text: event.delta, message: new AIMessageChunk({ content: event.delta }) });
        await runManager?.handleLLMNewToken(event.delta);
        continue;
      }
      yield new ChatGenerationChunk({
        text: "",
        message: new AIMessageChunk({
          content: "",
          usage_metadata: event.usage,
          response_metadata: { ...event.metadata },
        }),
        generationInfo: { finish_reason: event.metadata.finish_reason },
      });
    }
  }

  /**
   * Structured output through a JSON-schema grammar: the model can only produce JSON of the
   * schema's shape, which is then parsed (and validated, for zod and standard schemas).
   * `config.method` is ignored (there is no tool calling); `includeRaw` is honoured.
   */
  override withStructuredOutput<RunOutput extends Record<string, unknown> = Record<string, unknown>>(
    outputSchema: InteropZodType<RunOutput> | SerializableSchema<RunOutput> | Record<string, unknown>,
    config?: StructuredOutputMethodOptions<false>,
  ): Runnable<BaseLanguageModelInput, RunOutput>;
  override withStructuredOutput<RunOutput extends Record<string, unknown> = Record<string, unknown>>(
    outputSchema: InteropZodType<RunOutput> | SerializableSchema<RunOutput> | Record<string, unknown>,
    config?: StructuredOutputMethodOptions<true>,
  ): Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }>;
  override withStructuredOutput<RunOutput extends Record<string, unknown> = Record<string, unknown>>(
    outputSchema: InteropZodType<RunOutput> | SerializableSchema<RunOutput> | Record<string, unknown>,
    config?: StructuredOutputMethodOptions<boolean>,
  ):
    | Runnable<BaseLanguageModelInput, RunOutput>
    | Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }> {
    const jsonSchema = jsonSchemaOf(outputSchema);
    const llm = this.withConfig({ jsonSchema } as Partial<LlamaCppChatModelCallOptions>);
    const contentParser = createContentParser<RunOutput>(outputSchema);
    const parser = RunnableLambda.from(async (message: BaseMessage): Promise<RunOutput> => {
      if ((message.response_metadata as { finish_reason?: unknown } | undefined)?.finish_reason === "length") {
        throw new LlamaCppOutputTruncatedError({ maxTokens: this.maxTokens, text: message.text });
      }
      return contentParser.invoke(message);
    });
    return assembleStructuredOutputPipeline<RunOutput>(
      llm,
      parser,
      config?.includeRaw,
      config?.name ?? "LlamaCppStructuredOutput",
    );
  }

  private settingsFor(options: Partial<LlamaCppChatModelCallOptions> | undefined): GenerationSettings {
    return parseConfig("LlamaCppChatModel call options", generationSettingsSchema, {
      maxTokens: options?.maxTokens ?? this.maxTokens,
      temperature: options?.temperature ?? this.temperature,
      seed: options?.seed ?? this.seed,
      topLogprobs: options?.topLogprobs ?? this.topLogprobs,
      logprobs: options?.logprobs ?? this.logprobs,
    });
  }

  /** The generation loop shared by `_generate` and `_streamResponseChunks`. */
  private async *generateEvents(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
  ): AsyncGenerator<GenerationEvent> {
    const settings = this.settingsFor(options);
    const grammar =
      options.jsonSchema === undefined ? undefined : await this.runtime.grammarForJsonSchema(options.jsonSchema);
    const { sequence, loaded, release } = await this.runtime.acquireSequence();
    try {
      const { model, module } = loaded;
      const { promptTokens, stopGenerationTriggers } = formatPrompt(loaded, messages);
      if (promptTokens.length + settings.maxTokens > sequence.contextSize) {
        throw new LlamaCppContextOverflowError({
          promptTokens: promptTokens.length,
          maxTokens: settings.maxTokens,
          contextSize: sequence.contextSize,
        });
      }

      const stopTexts = [
        ...(options.stop ?? []),
        ...stopGenerationTriggers.map(triggerText),
        ...(grammar?.stopGenerationTriggers ?? []).map(triggerText),
      ].filter((text): text is string => text !== undefined && text.length > 0);
      const holdBack = Math.max(0, ...stopTexts.map((text) => text.length - 1));
      const trimWhitespace = grammar?.trimWhitespaceSuffix ?? false;

      const generated: Token[] = [];
      const logprobEntries: TokenLogprob[] = [];
      const tokenEntropies: number[] = [];
      const tokenText = createTokenTextCache(model);
      let text = "";
      let emitted = 0;
      let finishReason: "stop" | "length" = "stop";
      // Every candidate is kept (topK 0, topP 1, minP 0), so a distribution spans the whole vocabulary.
      let vocabularySize = 0;

      const iterator = sequence.evaluateWithMetadata(
        promptTokens,
        { probabilities: settings.logprobs },
        {
          temperature: settings.temperature,
          ...(settings.seed === undefined ? {} : { seed: settings.seed }),
          topK: 0,
          topP: 1,
          minP: 0,
          ...(grammar === undefined
            ? {}
            : { grammarEvaluationState: new module.LlamaGrammarEvaluationState({ model, grammar }) }),
        },
      );
      for await (const output of iterator) {
        options.signal?.throwIfAborted();
        generated.push(output.token);
        if ("probabilities" in output && output.probabilities instanceof Map) {
          vocabularySize = Math.max(vocabularySize, output.probabilities.size);
          const record = describeToken(output.token, [...output.probabilities], settings, tokenText);
          logprobEntries.push(record.logprob);
          tokenEntropies.push(record.entropy);
        }
        text = model.detokenize(generated);
        const stopAt = firstStop(text, stopTexts);
        if (stopAt !== undefined) {
          text = text.slice(0, stopAt);
          break;
        }
        if (generated.length >= settings.maxTokens) {
          finishReason = "length";
          break;
        }
        const safeEnd = streamableEnd(text, holdBack, trimWhitespace);
        if (safeEnd > emitted) {
          yield { type: "text", delta: text.slice(emitted, safeEnd) };
          emitted = safeEnd;
        }
      }
      if (trimWhitespace) text = text.trimEnd();
      if (text.length > emitted) yield { type: "text", delta: text.slice(emitted) };

      const metadata: LlamaCppResponseMetadata = {
        model_name: this.modelName,
        model_provider: "llama-cpp",
        finish_reason: finishReason,
        entropySource: "exact",
      };
      if (settings.logprobs) {
        metadata.logprobs = { content: logprobEntries };
        metadata.tokenEntropies = tokenEntropies;
        metadata.meanEntropy =
          tokenEntropies.length === 0
            ? 0
            : tokenEntropies.reduce((sum, value) => sum + value, 0) / tokenEntropies.length;
        if (vocabularySize > 0) {
          metadata.maxEntropy = Math.log(vocabularySize);
          metadata.vocabularySize = vocabularySize;
        }
      }
      yield {
        type: "end",
        text,
        usage: {
          input_tokens: promptTokens.length,
          output_tokens: generated.length,
          total_tokens: promptTokens.length + generated.length,
        },
        metadata,
      };
    } finally {
      await release();
    }
  }
}

/** The prompt of a call: `messages` in the model's chat template, tokenized, and the template's stop triggers. */
function formatPrompt(
  { model, chatWrapper }: LoadedLlamaCpp,
  messages: readonly BaseMessage[],
): {
  promptTokens: Token[];
  stopGenerationTriggers: ReturnType<ChatWrapper["generateContextState"]>["stopGenerationTriggers"];
} {
  const chatHistory: ChatHistoryItem[] = [...messages.map(toChatHistoryItem), { type: "model", response: [] }];
  const { contextText, stopGenerationTriggers } = chatWrapper.generateContextState({ chatHistory });
  return { promptTokens: contextText.tokenize(model.tokenizer), stopGenerationTriggers };
}

/** A LangChain message as a node-llama-cpp chat history item (tool messages become user turns). */
function toChatHistoryItem(message: BaseMessage): ChatHistoryItem {
  const type = message.getType();
  if (type === "system" || type === "developer") return { type: "system", text: message.text };
  if (type === "ai") return { type: "model", response: [message.text] };
  if (type === "tool") return { type: "user", text: `Tool result:\n${message.text}` };
  return { type: "user", text: message.text };
}

/** The text of a stop trigger made only of text (triggers with special tokens end as end-of-generation tokens). */
function triggerText(trigger: unknown): string | undefined {
  if (typeof trigger === "string") return trigger;
  const parts = Array.isArray(trigger) ? trigger : (trigger as { values?: unknown } | null)?.values;
  if (!Array.isArray(parts) || !parts.every((part) => typeof part === "string")) return undefined;
  return parts.join("");
}

function firstStop(text: string, stopTexts: string[]): number | undefined {
  let first: number | undefined;
  for (const stop of stopTexts) {
    const index = text.indexOf(stop);
    if (index >= 0 && (first === undefined || index < first)) first = index;
  }
  return first;
}

/** How much of `text` can be streamed now: not a possible stop prefix, not a partial UTF-8 character. */
function streamableEnd(text: string, holdBack: number, trimWhitespace: boolean): number {
  let end = text.length - holdBack;
  while (end > 0 && text[end - 1] === "\uFFFD") end--;
  if (trimWhitespace) end = Math.min(end, text.trimEnd().length);
  return Math.max(0, end);
}

/** Detokenised text of single tokens, cached per generation. */
function createTokenTextCache(model: LlamaModel): (token: Token) => string {
  const cache = new Map<Token, string>();
  return (token) => {
    let text = cache.get(token);
    if (text === undefined) {
      text = model.detokenize([token]);
      cache.set(token, text);
    }
    return text;
  };
}

function topLogprob(token: string, logprob: number): TopLogprob {
  return { token, logprob, bytes: token.includes("\uFFFD") ? null : [...Buffer.from(token, "utf8")] };
}

/** The OpenAI-shaped record and the exact entropy of one generated token. */
function describeToken(
  token: Token,
  sampled: Array<[Token, number]>,
  settings: GenerationSettings,
  tokenText: (token: Token) => string,
): { logprob: TokenLogprob; entropy: number } {
  const distribution = untemperedDistribution(sampled, settings.temperature);
  distribution.sort((left, right) => right[1] - left[1]);
  const entropy = entropyOf(distribution.map(([, probability]) => probability));
  const logOf = (probability: number) => Math.log(Math.max(probability, Number.MIN_VALUE));
  const chosen = distribution.find(([candidate]) => candidate === token)?.[1] ?? 0;
  const top = distribution
    .slice(0, settings.topLogprobs)
    .map(([candidate, probability]) => topLogprob(tokenText(candidate), logOf(probability)));
  return { logprob: { ...topLogprob(tokenText(token), logOf(chosen)), top_logprobs: top }, entropy };
}

/** The JSON schema of a zod / standard / plain JSON schema, without `$schema` (llama.cpp grammars ignore it). */
function jsonSchemaOf(schema: unknown): Record<string, unknown> {
  const converted = (
    isInteropZodSchema(schema) || isSerializableSchema(schema) ? toJsonSchema(schema as never) : schema
  ) as Record<string, unknown>;
  const { $schema: _ignored, ...rest } = converted;
  return rest;
}

/**
 * The `response_metadata` of an answer of {@link LlamaCppChatModel}, typed.
 *
 * @example
 * ```ts
 * const answer = await model.invoke("Plan the task.");
 * const { meanEntropy, tokenEntropies, logprobs } = llamaCppMetadataOf(answer);
 * ```
 */
export function llamaCppMetadataOf(message: { response_metadata?: unknown }): LlamaCppResponseMetadata {
  return message.response_metadata as LlamaCppResponseMetadata;
}
