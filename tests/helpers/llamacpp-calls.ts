/**
 * Every model call of a run over local llama.cpp models, as the callbacks saw it: which agent made it
 * and for what (read from the call's metadata), its prompt and output cap, and what came back — text,
 * reported usage and the adapter's response metadata (token entropies, log-probabilities).
 */
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { BaseMessage, UsageMetadata } from "@langchain/core/messages";
import type { LLMResult } from "@langchain/core/outputs";
import type { LlamaCppResponseMetadata } from "../../adapters/llamacpp/index.js";

/** One model call seen by the callbacks. */
export interface ObservedCall {
  /** `metadata.gavel_agent` of the call. */
  agent: string;
  /** What the call was for: the metadata value named by the recorder's `kindKey`. */
  kind: string;
  prompt: string;
  maxTokens: unknown;
  text: string;
  usage: UsageMetadata;
  metadata: LlamaCppResponseMetadata;
}

/** Records every model call of a run; `kindKey` names the metadata field that says what a call is for. */
export class LocalModelCallRecorder extends BaseCallbackHandler {
  name = "local-model-call-recorder";
  readonly calls: ObservedCall[] = [];
  readonly #started = new Map<string, Pick<ObservedCall, "agent" | "kind" | "prompt" | "maxTokens">>();

  constructor(private readonly kindKey: string) {
    super();
  }

  override handleChatModelStart(
    _llm: unknown,
    messages: BaseMessage[][],
    runId: string,
    _parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): void {
    this.#started.set(runId, {
      agent: String(metadata?.gavel_agent),
      kind: String(metadata?.[this.kindKey]),
      prompt: (messages[0] ?? []).map((message) => message.text).join("\n"),
      maxTokens: (extraParams?.invocation_params as { maxTokens?: unknown } | undefined)?.maxTokens,
    });
  }

  override handleLLMEnd(output: LLMResult, runId: string): void {
    const generation = output.generations[0]?.[0] as
      | { text: string; message?: { response_metadata?: unknown; usage_metadata?: UsageMetadata } }
      | undefined;
    const started = this.#started.get(runId);
    if (!generation?.message?.usage_metadata || started === undefined) return;
    this.calls.push({
      ...started,
      text: generation.text,
      usage: generation.message.usage_metadata,
      metadata: generation.message.response_metadata as LlamaCppResponseMetadata,
    });
  }

  /** The calls of one kind, optionally of one agent. */
  of(kind: string, agent?: string): ObservedCall[] {
    return this.calls.filter((call) => call.kind === kind && (agent === undefined || call.agent === agent));
  }

  /** Every call of one agent. */
  byAgent(agent: string): ObservedCall[] {
    return this.calls.filter((call) => call.agent === agent);
  }
}
