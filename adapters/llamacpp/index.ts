/**
 * Local GGUF models through node-llama-cpp (optional peer dependency, loaded on first use), and
 * a writer of tiny random-weight llama GGUF files for tests.
 */
export {
  DEFAULT_LLAMACPP_MAX_TOKENS,
  DEFAULT_LLAMACPP_TOP_LOGPROBS,
  LlamaCppChatModel,
  type LlamaCppChatModelCallOptions,
  type LlamaCppChatModelFields,
  type LlamaCppResponseMetadata,
  llamaCppMetadataOf,
} from "./chat-model.js";
export {
  entropyOf,
  type OpenAILogprobs,
  type TokenLogprob,
  type TopLogprob,
  untemperedDistribution,
} from "./distribution.js";
export {
  LlamaCppContextOverflow,
  LlamaCppModelLoadError,
  LlamaCppOutputTruncated,
} from "./errors.js";
export {
  buildTinyLlamaGguf,
  CHATML_TEMPLATE,
  GGUF_ALIGNMENT,
  type TinyLlamaGgufInfo,
  type TinyLlamaGgufOptions,
  TinyLlamaGgufOptionsSchema,
  writeTinyLlamaGguf,
} from "./gguf-writer.js";
export {
  LlamaCppRuntime,
  type LlamaCppRuntimeOptions,
  LlamaCppRuntimeOptionsSchema,
  type LoadedLlamaCpp,
  type NodeLlamaCppModule,
} from "./runtime.js";
