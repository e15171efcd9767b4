/**
 * `RecordedChatModel`: a LangChain chat model that replays what a real model answered on a known
 * prompt, from canonical recorded outcomes (RouterBench ships with the package). One model per
 * recorded model name (`createRecordedPool`), so router code runs unchanged over real outcomes.
 *
 * A call is matched to a recorded prompt by the `prompt_id` in the call's `metadata` (or the
 * `promptId` call option), else by the exact text of the last human message. It answers with the
 * recorded `response`, reports `usage_metadata` (recorded tokens, or counted with js-tiktoken and
 * flagged `estimatedUsage: true` in `response_metadata`) and the recorded `cost_usd` in
 * `response_metadata.cost_usd`. A (prompt, model) pair with no record throws `RecordedUnavailableError`:
 * a recorded model never answers "wrong" or "free" for a prompt it did not see.
 */
import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { BaseChatModelCallOptions, BaseChatModelParams } from "@langchain/core/language_models/chat_models";
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BaseMessage } from "@langchain/core/messages";
import { AIMessage, HumanMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { countMessageTokens, countTextTokens } from "../../budget/index.js";
import { GavelError } from "../../errors.js";
import type { OutcomeIndex, OutcomeRecord } from "../data/outcomes.js";

/** The recorded outcomes hold no answer of this model for this prompt (or the prompt is unknown). */
export class RecordedUnavailableError extends GavelError {
  override readonly name = "RecordedUnavailableError";
  readonly model: string;
  /** The prompt id, when the prompt is known. */
  readonly promptId: string | undefined;
  /** Why: the prompt is unknown, or the model has no record for it. */
  readonly reason: "unknown_prompt" | "no_record";

  constructor(details: { model: string; promptId: string | undefined; reason: "unknown_prompt" | "no_record" }) {
    const { model, promptId, reason } = details;
    super(
      reason === "unknown_prompt"
        ? `Recorded model "${model}": the prompt is not in the recorded outcomes (pass metadata.prompt_id or the exact recorded text).`
        : `Recorded model "${model}" has no recorded answer for prompt "${promptId}": it is unavailable for it.`,
    );
    this.model = model;
    this.promptId = promptId;
    this.reason = reason;
  }
}

/** Looks recorded prompts up by text; shared by every model of a pool. */
export interface RecordedPromptLookup {
  index: OutcomeIndex;
  /** Prompt id by exact prompt text. */
  idByText: ReadonlyMap<string, string>;
  /** Counted prompt tokens by prompt id (filled lazily). */
  promptTokens: Map<string, number>;
  /** Counted response tokens by `prompt id \u0000 model` (filled lazily): a replayed answer is counted once. */
  outputTokens: Map<string, number>;
}

/** Build the text → prompt id lookup of an index (the first id wins when two prompts share a text). */
export function createPromptLookup(index: OutcomeIndex): RecordedPromptLookup {
  const idByText = new Map<string, string>();
  for (const promptId of index.promptIds) {
    const text = index.promptInfo(promptId)?.prompt;
    if (text !== undefined && !idByText.has(text)) idByText.set(text, promptId);
  }
  return { index, idByText, promptTokens: new Map(), outputTokens: new Map() };
}

/** Constructor fields of {@link RecordedChatModel}. */
export interface RecordedChatModelFields extends BaseChatModelParams {
  /** The recorded model name, as in the outcomes' `model` field. */
  model: string;
  /** The recorded outcomes. */
  index: OutcomeIndex;
  /** A lookup shared across a pool (built from `index` when omitted). */
  lookup?: RecordedPromptLookup;
}

/** Call options: name the recorded prompt directly. */
export interface RecordedChatModelCallOptions extends BaseChatModelCallOptions {
  promptId?: string;
}

/**
 * A chat model that replays one recorded model's real answers.
 * @throws RecordedUnavailableError (at call time) for an unknown prompt or a (prompt, model) pair with no record.
 * @example
 * ```ts
 * const index = await loadOutcomeIndex();
 * const gpt4 = new RecordedChatModel({ model: "gpt-4-1106-preview", index });
 * const reply = await gpt4.invoke("ignored", { metadata: { prompt_id: "arc-challenge.test.1108" } });
 * console.log(reply.content, reply.usage_metadata, reply.response_metadata.cost_usd);
 * ```
 */
export class RecordedChatModel extends BaseChatModel<RecordedChatModelCallOptions> {
  static override lc_name(): string {
    return "RecordedChatModel";
  }

  readonly model: string;
  readonly lookup: RecordedPromptLookup;

  constructor(fields: RecordedChatModelFields) {
    super(fields);
    this.model = fields.model;
    this.lookup = fields.lookup ?? createPromptLookup(fields.index);
  }

  _llmType(): string {
    return "recorded";
  }

  override getLsParams(options: this["ParsedCallOptions"]) {
    return {
      ls_provider: "recorded",
      ls_model_name: this.model,
      ls_model_type: "chat" as const,
      ls_stop: options?.stop,
    };
  }

  /** Reads `metadata.prompt_id` into the `promptId` call option (metadata does not always reach `_generate`). */
  override invoke(
    input: Parameters<BaseChatModel<RecordedChatModelCallOptions>["invoke"]>[0],
    options?: Partial<RecordedChatModelCallOptions>,
  ) {
    const metadataId = options?.metadata?.prompt_id;
    if (options?.promptId === undefined && typeof metadataId === "string") {
      return super.invoke(input, { ...options, promptId: metadataId });
    }
    return super.invoke(input, options);
  }

  async _generate(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    const metadataId = (runManager as { metadata?: Record<string, unknown> } | undefined)?.metadata?.prompt_id;
    const promptId =
      options?.promptId ?? (typeof metadataId === "string" ? metadataId : undefined) ?? this.#idOf(messages);
    const record = this.#record(promptId);
    const message = this.#toMessage(record, messages);
    return { generations: [{ text: message.text, message }] };
  }

  #idOf(messages: BaseMessage[]): string | undefined {
    const lastHuman = [...messages].reverse().find((message) => HumanMessage.isInstance(message));
    return lastHuman === undefined ? undefined : this.lookup.idByText.get(lastHuman.text);
  }

  #record(promptId: string | undefined): OutcomeRecord {
    if (promptId === undefined || this.lookup.index.promptInfo(promptId) === undefined) {
      throw new RecordedUnavailableError({ model: this.model, promptId, reason: "unknown_prompt" });
    }
    const cell = this.lookup.index.outcome(promptId, this.model);
    if (cell === "unavailable")
      throw new RecordedUnavailableError({ model: this.model, promptId, reason: "no_record" });
    return cell;
  }

  #toMessage(record: OutcomeRecord, messages: BaseMessage[]): AIMessage {
    const content = record.response ?? "";
    const recorded = record.input_tokens !== undefined && record.output_tokens !== undefined;
    const inputTokens = recordedPromptTokens(this.lookup, record);
    const outputTokens = record.output_tokens ?? recordedOutputTokens(this.lookup, record);
    return new AIMessage({
      content,
      usage_metadata: {
        input_tokens: inputTokens,
        output_tokens: outputTokens,
        total_tokens: inputTokens + outputTokens,
      },
      response_metadata: {
        model_name: this.model,
        finish_reason: "stop",
        prompt_id: record.prompt_id,
        cost_usd: record.cost_usd,
        correct: record.correct,
        estimatedUsage: !recorded,
        messagesSent: messages.length,
      },
    });
  }
}

/**
 * The tokens of a record's prompt as `RecordedChatModel` reports them (recorded, else counted once per
 * prompt with js-tiktoken and kept in the lookup).
 */
export function recordedPromptTokens(lookup: RecordedPromptLookup, record: OutcomeRecord): number {
  if (record.input_tokens !== undefined) return record.input_tokens;
  let tokens = lookup.promptTokens.get(record.prompt_id);
  if (tokens === undefined) {
    tokens = countMessageTokens([new HumanMessage(record.prompt)], record.model);
    lookup.promptTokens.set(record.prompt_id, tokens);
  }
  return tokens;
}

/** The tokens of a record's response as `RecordedChatModel` reports them (recorded, else counted once and kept). */
export function recordedOutputTokens(lookup: RecordedPromptLookup, record: OutcomeRecord): number {
  if (record.output_tokens !== undefined) return record.output_tokens;
  const key = `${record.prompt_id}\u0000${record.model}`;
  let tokens = lookup.outputTokens.get(key);
  if (tokens === undefined) {
    tokens = countTextTokens(record.response ?? "", record.model);
    lookup.outputTokens.set(key, tokens);
  }
  return tokens;
}

/**
 * One `RecordedChatModel` per recorded model name, sharing one prompt lookup.
 * @example
 * ```ts
 * const pool = createRecordedPool({ index: await loadOutcomeIndex() });
 * const reply = await pool["zero-one-ai/Yi-34B-Chat"]?.invoke(promptText);
 * ```
 */
export function createRecordedPool({ index }: { index: OutcomeIndex }): Record<string, RecordedChatModel> {
  const lookup = createPromptLookup(index);
  return Object.fromEntries(index.models.map((model) => [model, new RecordedChatModel({ model, index, lookup })]));
}
