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
export type {
  OpenAILogprobs,
  TokenLogprob,
  TopLogprob,
} from "./distribution.js";
export {
  LlamaCppContextOverflowError,
  LlamaCppModelLoadError,
  LlamaCppOutputTruncatedError,
} from "./errors.js";
export {
  type TinyLlamaGgufInfo,
  type TinyLlamaGgufOptions,
  tinyLlamaGgufOptionsSchema,
  writeTinyLlamaGguf,
} from "./gguf-writer.js";
export {
  createLlamaCppRuntime,
  type LlamaCppRuntime,
  type LlamaCppRuntimeOptions,
  type LoadedLlamaCpp,
  llamaCppRuntimeOptionsSchema,
  type NodeLlamaCppModule,
} from "./runtime.js";
