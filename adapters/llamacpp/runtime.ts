/**
 * `LlamaCppRuntime`: one loaded GGUF model (llama.cpp binding, model, context with N sequences
 * and the model's chat wrapper), loaded lazily on first use and shared by every chat model that
 * holds it. node-llama-cpp is imported dynamically here and nowhere else, so a user who never
 * runs a local model never loads it.
 *
 * Concurrency: the context has `concurrency` sequences. A call borrows a free sequence for its
 * whole generation and gives it back cleared; when all are busy, calls wait in FIFO order.
 * llama.cpp batches the sequences that generate at the same time into one evaluation.
 */

import { access, constants } from "node:fs/promises";
import type { ChatWrapper, Llama, LlamaContext, LlamaContextSequence, LlamaGrammar, LlamaModel } from "node-llama-cpp";
import { z } from "zod";
import { functionSchema, parseConfig } from "../../src/errors.js";
import { importPeer } from "../../src/peers.js";
import { LlamaCppModelLoadError } from "./errors.js";

/** The node-llama-cpp module, as returned by `import("node-llama-cpp")`. */
export type NodeLlamaCppModule = typeof import("node-llama-cpp");

/**
 * Options of {@link LlamaCppRuntime}.
 *
 * @example
 * ```ts
 * llamaCppRuntimeOptionsSchema.parse({ modelPath: "./models/qwen2.5-0.5b-instruct-q4_k_m.gguf" });
 * // { modelPath: "./models/qwen2.5-0.5b-instruct-q4_k_m.gguf", concurrency: 2, gpu: "auto" }
 * llamaCppRuntimeOptionsSchema.safeParse({ modelPath: "" }).success; // false
 * ```
 */
export const llamaCppRuntimeOptionsSchema = z
  .object({
    /** Path of the GGUF model file. */
    modelPath: z.string().min(1),
    /** Context window per sequence, in tokens. Default: the model's training context, at most 4096. */
    contextSize: z.number().int().positive().optional(),
    /** Number of sequences, i.e. calls that generate at the same time; more wait. Default 2. */
    concurrency: z.number().int().positive().default(2),
    /** CPU threads of llama.cpp. Default: node-llama-cpp's choice. Use 1 for tiny models on a busy CPU. */
    threads: z.number().int().positive().optional(),
    /** GPU backend: `false` (CPU only), `"auto"`, or a named backend. Default `"auto"`. */
    gpu: z.union([z.literal(false), z.enum(["auto", "metal", "cuda", "vulkan"])]).default("auto"),
    /** An already created `Llama` (from `getLlama()`), to share one binding between runtimes. Not disposed by `dispose()`. */
    llama: z.custom<Llama>((value) => typeof value === "object" && value !== null).optional(),
    /** Loads the node-llama-cpp module. Default: `() => import("node-llama-cpp")`. A seam for tests. */
    loadModule: functionSchema<() => Promise<NodeLlamaCppModule>>().optional(),
  })
  .strict();

/** Options of {@link LlamaCppRuntime} (`modelPath` required, everything else optional). */
export type LlamaCppRuntimeOptions = z.input<typeof llamaCppRuntimeOptionsSchema>;

/** Everything a generation needs, once loaded. */
export interface LoadedLlamaCpp {
  module: NodeLlamaCppModule;
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  chatWrapper: ChatWrapper;
}

const DEFAULT_MAX_CONTEXT_SIZE = 4096;

/**
 * A lazily loaded local GGUF model that several {@link LlamaCppChatModel}s (and concurrent calls)
 * can share. Call `dispose()` when done so the process can exit.
 *
 * @example
 * ```ts
 * const runtime = createLlamaCppRuntime({ modelPath: "./models/qwen2.5-0.5b-instruct-q4_k_m.gguf", concurrency: 4 });
 * const planner = new LlamaCppChatModel({ runtime, maxTokens: 128 });
 * const answerer = new LlamaCppChatModel({ runtime, maxTokens: 512, temperature: 0.7, seed: 1 });
 * // ... use both; then:
 * await runtime.dispose();
 * ```
 */
export class LlamaCppRuntime {
  /** The validated options. */
  readonly options: z.output<typeof llamaCppRuntimeOptionsSchema>;
  private loading: Promise<LoadedLlamaCpp> | undefined;
  private readonly freeSequences: LlamaContextSequence[] = [];
  private readonly waiting: Array<(sequence: LlamaContextSequence) => void> = [];
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();

  constructor(options: LlamaCppRuntimeOptions) {
    this.options = parseConfig("LlamaCppRuntime options", llamaCppRuntimeOptionsSchema, options);
  }

  /** The loaded model, loading it on the first call (concurrent first calls share one load). */
  load(): Promise<LoadedLlamaCpp> {
    if (this.loading === undefined) {
      this.loading = this.loadOnce();
      // A failed load may be retried (for example after the file was written).
      this.loading.catch(() => {
        this.loading = undefined;
      });
    }
    return this.loading;
  }

  /**
   * Borrow a sequence of its own for one generation. Waits (FIFO) while all `concurrency`
   * sequences are busy. Call `release()` exactly once when done (it clears the sequence).
   */
  async acquireSequence(): Promise<{
    sequence: LlamaContextSequence;
    loaded: LoadedLlamaCpp;
    release: () => Promise<void>;
  }> {
    const loaded = await this.load();
    const sequence =
      this.freeSequences.pop() ?? (await new Promise<LlamaContextSequence>((resolve) => this.waiting.push(resolve)));
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await sequence.clearHistory().catch(() => undefined);
      const next = this.waiting.shift();
      if (next) next(sequence);
      else this.freeSequences.push(sequence);
    };
    return { sequence, loaded, release };
  }

  /** The grammar for a JSON schema, created once per distinct schema. */
  grammarForJsonSchema(schema: Record<string, unknown>): Promise<LlamaGrammar> {
    const key = JSON.stringify(schema);
    let grammar = this.grammars.get(key);
    if (grammar === undefined) {
      grammar = this.load().then(({ llama }) => llama.createGrammarForJsonSchema(schema as never));
      this.grammars.set(key, grammar);
      grammar.catch(() => this.grammars.delete(key));
    }
    return grammar;
  }

  /** Free the context and the model (and the binding, unless it was passed in). Idempotent. */
  async dispose(): Promise<void> {
    const loading = this.loading;
    this.loading = undefined;
    this.freeSequences.length = 0;
    this.grammars.clear();
    if (loading === undefined) return;
    const loaded = await loading.catch(() => undefined);
    if (loaded === undefined) return;
    await loaded.context.dispose();
    await loaded.model.dispose();
    if (this.options.llama === undefined) await loaded.llama.dispose();
  }

  private async loadOnce(): Promise<LoadedLlamaCpp> {
    const { modelPath, contextSize, concurrency, threads, gpu } = this.options;
    const module = await importNodeLlamaCpp(this.options.loadModule);
    try {
      await access(modelPath, constants.R_OK);
    } catch (error) {
      throw new LlamaCppModelLoadError({ modelPath, reason: "not_found" }, { cause: error });
    }
    const llama = this.options.llama ?? (await module.getLlama({ gpu, logLevel: module.LlamaLogLevel.error }));
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath });
    } catch (error) {
      if (this.options.llama === undefined) await llama.dispose();
      throw new LlamaCppModelLoadError({ modelPath, reason: "load_failed" }, { cause: error });
    }
    const context = await model.createContext({
      sequences: concurrency,
      contextSize: contextSize ?? Math.min(model.trainContextSize, DEFAULT_MAX_CONTEXT_SIZE),
      ...(threads === undefined ? {} : { threads }),
    });
    for (let index = 0; index < concurrency; index++) this.freeSequences.push(context.getSequence());
    const chatWrapper = module.resolveChatWrapper(model);
    return { module, llama, model, context, chatWrapper };
  }
}

/**
 * Create a {@link LlamaCppRuntime}: one local GGUF model, loaded on first use, shared by several
 * `LlamaCppChatModel`s and concurrent calls.
 *
 * @example
 * ```ts
 * const runtime = createLlamaCppRuntime({ modelPath: "./models/qwen2.5-0.5b-instruct-q4_k_m.gguf", concurrency: 4 });
 * const model = new LlamaCppChatModel({ runtime, maxTokens: 128 });
 * ```
 */
export function createLlamaCppRuntime(options: LlamaCppRuntimeOptions): LlamaCppRuntime {
  return new LlamaCppRuntime(options);
}

/** Import node-llama-cpp (an optional peer), turning "not installed" into a `MissingPeerDependencyError`. */
function importNodeLlamaCpp(loadModule: (() => Promise<NodeLlamaCppModule>) | undefined): Promise<NodeLlamaCppModule> {
  return importPeer("node-llama-cpp", "langchain-gavel/llamacpp", loadModule ?? (() => import("node-llama-cpp")));
}
