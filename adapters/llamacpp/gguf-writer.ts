/**
 * A GGUF writer for a tiny random-weight llama model, with no dependency.
 *
 * No LLM weights can be downloaded in CI or in a sandbox, yet the local-inference path
 * (node-llama-cpp → llama.cpp) should be exercised for real. This file writes a valid GGUF v3
 * file for the `llama` architecture: a SentencePiece-style vocabulary (`<unk>`, `<s>`, `</s>`, the
 * ChatML control tokens, 256 byte tokens and a few hundred `▁`-prefixed pieces), a ChatML chat
 * template, and F32 tensors filled with seeded random values. llama.cpp loads it like any model:
 * the text it produces is gibberish, but the token log-probabilities, the entropies and
 * grammar-constrained (JSON-schema) output are real.
 *
 * Layout of a GGUF v3 file (little-endian):
 * 1. header: magic `GGUF`, version `3` (u32), tensor count (u64), metadata count (u64);
 * 2. metadata: key (u64 length + UTF-8), value type (u32), value;
 * 3. tensor infos: name, dimension count (u32), dimensions (u64 each, `ne[0]` first = the
 *    innermost, contiguous dimension), ggml type (u32), offset in the data section (u64);
 * 4. padding to `general.alignment` (32), then the tensor data, each tensor aligned to 32.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { parseConfig } from "../../src/errors.js";
import { mulberry32Float } from "../../src/market/random.js";

/** Alignment of the data section and of every tensor in it (the GGUF default). */
export const GGUF_ALIGNMENT = 32;

/** The ChatML chat template (Jinja) written into `tokenizer.chat_template`. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** llama.cpp token types (`tokenizer.ggml.token_type`). */
const TokenType = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

/** GGUF metadata value types. */
const ValueType = { uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9 } as const;

/** ggml tensor type of every tensor written here. */
const GGML_TYPE_F32 = 0;
/** `general.file_type` for "all tensors F32". */
const FILE_TYPE_ALL_F32 = 0;

/** The SentencePiece word-boundary marker. */
const SPACE_MARKER = "\u2581";

const COMMON_WORDS = [
  "the",
  "and",
  "of",
  "to",
  "a",
  "in",
  "is",
  "it",
  "that",
  "for",
  "on",
  "with",
  "as",
  "was",
  "be",
  "by",
  "this",
  "are",
  "or",
  "not",
  "from",
  "at",
  "an",
  "but",
  "we",
  "you",
  "they",
  "can",
  "will",
  "all",
  "one",
  "two",
  "three",
  "answer",
  "plan",
  "step",
  "first",
  "then",
  "finally",
  "use",
  "check",
  "compute",
  "write",
  "code",
  "test",
  "model",
  "token",
  "cost",
  "value",
  "yes",
  "no",
  "true",
  "false",
  "null",
  "number",
  "score",
  "name",
  "reason",
  "result",
  "hello",
  "world",
];

const JSON_PIECES = ['{"', '":', '",', '"}', '":"', '","', "{", "}", "[", "]", '"', ":", ",", "{}", "[]", '""'];

/**
 * Options of {@link writeTinyLlamaGguf} and {@link buildTinyLlamaGguf}.
 *
 * @example
 * ```ts
 * const options = tinyLlamaGgufOptionsSchema.parse({ seed: 7 });
 * [options.name, options.embeddingLength, options.contextLength]; // ["gavel-tiny-llama", 64, 512]
 * tinyLlamaGgufOptionsSchema.safeParse({ headCount: 0 }).success; // false
 * ```
 */
export const tinyLlamaGgufOptionsSchema = z
  .object({
    /** Seed of the random weights. Same seed, same file, byte for byte. */
    seed: z.number().int().nonnegative().default(1),
    /** `general.name`. */
    name: z.string().min(1).default("gavel-tiny-llama"),
    /** Hidden size (`llama.embedding_length`). Must be a multiple of `headCount`. */
    embeddingLength: z.number().int().positive().default(64),
    /** Number of transformer blocks (`llama.block_count`). */
    blockCount: z.number().int().positive().default(2),
    /** Attention heads (`llama.attention.head_count`). */
    headCount: z.number().int().positive().default(4),
    /** Key/value heads (`llama.attention.head_count_kv`); must divide `headCount`. */
    headCountKv: z.number().int().positive().default(4),
    /** Hidden size of the feed-forward network (`llama.feed_forward_length`). */
    feedForwardLength: z.number().int().positive().default(128),
    /** Training context length (`llama.context_length`). */
    contextLength: z.number().int().positive().default(512),
    /** Extra vocabulary pieces, appended after the built-in ones (duplicates are skipped). */
    extraPieces: z.array(z.string().min(1)).default([]),
    /**
     * Standard deviation of the output projection. Larger makes the next-token distributions
     * peakier (lower entropy); smaller makes them flatter.
     */
    outputScale: z.number().positive().default(0.25),
  })
  .strict()
  .refine((options) => options.embeddingLength % options.headCount === 0, {
    message: "embeddingLength must be a multiple of headCount",
    path: ["embeddingLength"],
  })
  .refine((options) => options.headCount % options.headCountKv === 0, {
    message: "headCountKv must divide headCount",
    path: ["headCountKv"],
  });

/** Options of {@link buildTinyLlamaGguf} (every field optional). */
export type TinyLlamaGgufOptions = z.input<typeof tinyLlamaGgufOptionsSchema>;

/** What was written: the vocabulary and the dimensions, for tests that need them. */
export interface TinyLlamaGgufInfo {
  /** Every token text, by id. */
  tokens: string[];
  /** Vocabulary size (`tokens.length`). */
  vocabularySize: number;
  /** Special token ids. */
  specialTokens: { unknown: number; bos: number; eos: number; padding: number; imStart: number; imEnd: number };
  /** The dimensions actually used. */
  dimensions: {
    embeddingLength: number;
    blockCount: number;
    headCount: number;
    headCountKv: number;
    feedForwardLength: number;
    contextLength: number;
  };
  /** Size of the file in bytes. */
  byteLength: number;
}

/**
 * Build the bytes of a tiny random-weight llama GGUF in memory.
 *
 * @param options - Seed, dimensions and extra vocabulary pieces (all optional).
 * @returns The file bytes and a description of its vocabulary and dimensions.
 * @throws ConfigError when an option is invalid (for example a hidden size that is not a
 *   multiple of the head count).
 * @example
 * ```ts
 * const { bytes, info } = buildTinyLlamaGguf({ seed: 7 });
 * console.log(bytes.byteLength, info.vocabularySize);
 * ```
 */
export function buildTinyLlamaGguf(options: TinyLlamaGgufOptions = {}): { bytes: Uint8Array; info: TinyLlamaGgufInfo } {
  const config = parseConfig("tiny llama GGUF options", tinyLlamaGgufOptionsSchema, options);
  const { embeddingLength, blockCount, headCount, headCountKv, feedForwardLength, contextLength } = config;
  const vocabulary = buildVocabulary(config.extraPieces);
  const vocabularySize = vocabulary.tokens.length;
  const headDimension = embeddingLength / headCount;
  const keyValueLength = headDimension * headCountKv;

  const metadata: MetadataEntry[] = [
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: config.name }],
    ["general.alignment", { type: "uint32", value: GGUF_ALIGNMENT }],
    ["general.file_type", { type: "uint32", value: FILE_TYPE_ALL_F32 }],
    ["llama.context_length", { type: "uint32", value: contextLength }],
    ["llama.embedding_length", { type: "uint32", value: embeddingLength }],
    ["llama.block_count", { type: "uint32", value: blockCount }],
    ["llama.feed_forward_length", { type: "uint32", value: feedForwardLength }],
    ["llama.attention.head_count", { type: "uint32", value: headCount }],
    ["llama.attention.head_count_kv", { type: "uint32", value: headCountKv }],
    ["llama.rope.dimension_count", { type: "uint32", value: headDimension }],
    ["llama.rope.freq_base", { type: "float32", value: 10_000 }],
    ["llama.attention.layer_norm_rms_epsilon", { type: "float32", value: 1e-5 }],
    ["llama.vocab_size", { type: "uint32", value: vocabularySize }],
    ["tokenizer.ggml.model", { type: "string", value: "llama" }],
    ["tokenizer.ggml.tokens", { type: "stringArray", value: vocabulary.tokens }],
    ["tokenizer.ggml.scores", { type: "float32Array", value: vocabulary.scores }],
    ["tokenizer.ggml.token_type", { type: "int32Array", value: vocabulary.types }],
    ["tokenizer.ggml.unknown_token_id", { type: "uint32", value: vocabulary.special.unknown }],
    ["tokenizer.ggml.bos_token_id", { type: "uint32", value: vocabulary.special.bos }],
    ["tokenizer.ggml.eos_token_id", { type: "uint32", value: vocabulary.special.eos }],
    ["tokenizer.ggml.eot_token_id", { type: "uint32", value: vocabulary.special.imEnd }],
    ["tokenizer.ggml.padding_token_id", { type: "uint32", value: vocabulary.special.padding }],
    ["tokenizer.ggml.add_bos_token", { type: "bool", value: true }],
    ["tokenizer.ggml.add_eos_token", { type: "bool", value: false }],
    // ChatML text follows control tokens directly ("<|im_start|>user"), so no implicit leading space.
    ["tokenizer.ggml.add_space_prefix", { type: "bool", value: false }],
    ["tokenizer.chat_template", { type: "string", value: CHATML_TEMPLATE }],
  ];

  const random = createNormalRandom(config.seed);
  const linear =
    (inputs: number, outputs: number): TensorSpec["values"] =>
    () =>
      randomValues(random, inputs * outputs, 1 / Math.sqrt(inputs));
  const ones =
    (length: number): TensorSpec["values"] =>
    () =>
      new Float32Array(length).fill(1);

  // Dimensions are listed ne[0] first: the input (contiguous) dimension of a weight matrix.
  const tensors: TensorSpec[] = [
    {
      name: "token_embd.weight",
      dimensions: [embeddingLength, vocabularySize],
      values: () => randomValues(random, embeddingLength * vocabularySize, 1),
    },
    { name: "output_norm.weight", dimensions: [embeddingLength], values: ones(embeddingLength) },
    {
      name: "output.weight",
      dimensions: [embeddingLength, vocabularySize],
      values: () => randomValues(random, embeddingLength * vocabularySize, config.outputScale),
    },
  ];
  for (let block = 0; block < blockCount; block++) {
    const prefix = `blk.${block}`;
    tensors.push(
      { name: `${prefix}.attn_norm.weight`, dimensions: [embeddingLength], values: ones(embeddingLength) },
      {
        name: `${prefix}.attn_q.weight`,
        dimensions: [embeddingLength, embeddingLength],
        values: linear(embeddingLength, embeddingLength),
      },
      {
        name: `${prefix}.attn_k.weight`,
        dimensions: [embeddingLength, keyValueLength],
        values: linear(embeddingLength, keyValueLength),
      },
      {
        name: `${prefix}.attn_v.weight`,
        dimensions: [embeddingLength, keyValueLength],
        values: linear(embeddingLength, keyValueLength),
      },
      {
        name: `${prefix}.attn_output.weight`,
        dimensions: [embeddingLength, embeddingLength],
        values: linear(embeddingLength, embeddingLength),
      },
      { name: `${prefix}.ffn_norm.weight`, dimensions: [embeddingLength], values: ones(embeddingLength) },
      {
        name: `${prefix}.ffn_gate.weight`,
        dimensions: [embeddingLength, feedForwardLength],
        values: linear(embeddingLength, feedForwardLength),
      },
      {
        name: `${prefix}.ffn_up.weight`,
        dimensions: [embeddingLength, feedForwardLength],
        values: linear(embeddingLength, feedForwardLength),
      },
      {
        name: `${prefix}.ffn_down.weight`,
        dimensions: [feedForwardLength, embeddingLength],
        values: linear(feedForwardLength, embeddingLength),
      },
    );
  }

  const bytes = encodeGguf(metadata, tensors);
  return {
    bytes,
    info: {
      tokens: vocabulary.tokens,
      vocabularySize,
      specialTokens: vocabulary.special,
      dimensions: { embeddingLength, blockCount, headCount, headCountKv, feedForwardLength, contextLength },
      byteLength: bytes.byteLength,
    },
  };
}

/**
 * Write a tiny random-weight llama GGUF (a few hundred KB) to `path`, creating its folder.
 * Load it with node-llama-cpp (or {@link LlamaCppChatModel}) like any GGUF model: its output is
 * gibberish by design, its log-probabilities and entropies are real.
 *
 * @param options - `path` plus the options of {@link buildTinyLlamaGguf}.
 * @returns What was written (vocabulary, special token ids, dimensions, size).
 * @throws ConfigError when an option is invalid.
 * @example
 * ```ts
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { writeTinyLlamaGguf } from "./adapters/llamacpp/gguf-writer.js";
 *
 * const path = join(tmpdir(), "tiny-llama.gguf");
 * const info = await writeTinyLlamaGguf({ path, seed: 42 });
 * console.log(`${info.vocabularySize} tokens, ${info.byteLength} bytes at ${path}`);
 * ```
 */
export async function writeTinyLlamaGguf(options: TinyLlamaGgufOptions & { path: string }): Promise<TinyLlamaGgufInfo> {
  const { path, ...rest } = options;
  const { bytes, info } = buildTinyLlamaGguf(rest);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  return info;
}

// ---------------------------------------------------------------------------------------------
// Vocabulary

interface Vocabulary {
  tokens: string[];
  scores: number[];
  types: number[];
  special: TinyLlamaGgufInfo["specialTokens"];
}

function buildVocabulary(extraPieces: string[]): Vocabulary {
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  const seen = new Set<string>();
  const add = (text: string, type: number, score: number) => {
    if (seen.has(text)) return;
    seen.add(text);
    tokens.push(text);
    types.push(type);
    scores.push(score);
  };

  add("<unk>", TokenType.unknown, 0);
  add("<s>", TokenType.control, 0);
  add("</s>", TokenType.control, 0);
  add("<|im_start|>", TokenType.control, 0);
  add("<|im_end|>", TokenType.control, 0);
  for (let byte = 0; byte < 256; byte++) {
    add(`<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`, TokenType.byte, 0);
  }

  // Normal pieces. SentencePiece merges the pair whose merged piece has the highest score first,
  // so longer pieces get higher scores.
  const printable: string[] = [];
  for (let code = 0x21; code <= 0x7e; code++) printable.push(String.fromCharCode(code));
  const pieces = [
    SPACE_MARKER,
    ...printable,
    ...printable.map((character) => SPACE_MARKER + character),
    ...COMMON_WORDS.map((word) => SPACE_MARKER + word),
    ...COMMON_WORDS,
    ...JSON_PIECES,
    ...JSON_PIECES.map((piece) => SPACE_MARKER + piece),
    ...extraPieces,
  ];
  pieces.forEach((piece, index) => {
    add(piece, TokenType.normal, [...piece].length - index / 10_000);
  });

  return {
    tokens,
    scores,
    types,
    special: { unknown: 0, bos: 1, eos: 2, padding: 0, imStart: 3, imEnd: 4 },
  };
}

// ---------------------------------------------------------------------------------------------
// Random weights (seeded: mulberry32 + Box-Muller)

function createNormalRandom(seed: number): () => number {
  const uniform = mulberry32Float(seed);
  return () => {
    const first = Math.max(uniform(), Number.EPSILON);
    const second = uniform();
    return Math.sqrt(-2 * Math.log(first)) * Math.cos(2 * Math.PI * second);
  };
}

function randomValues(random: () => number, length: number, standardDeviation: number): Float32Array {
  const values = new Float32Array(length);
  for (let index = 0; index < length; index++) values[index] = random() * standardDeviation;
  return values;
}

// ---------------------------------------------------------------------------------------------
// Encoding

type MetadataValue =
  | { type: "string"; value: string }
  | { type: "uint32"; value: number }
  | { type: "float32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "stringArray"; value: string[] }
  | { type: "float32Array"; value: number[] }
  | { type: "int32Array"; value: number[] };

type MetadataEntry = [key: string, value: MetadataValue];

interface TensorSpec {
  name: string;
  /** ne[0] first. */
  dimensions: number[];
  /** Produces the F32 values (called once, in order, so the random stream is stable). */
  values: () => Float32Array;
}

/** A growable little-endian byte buffer. */
class ByteWriter {
  private buffer = new Uint8Array(1 << 16);
  private view = new DataView(this.buffer.buffer);
  length = 0;

  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.length + extra) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }

  uint32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }

  int32(value: number): void {
    this.reserve(4);
    this.view.setInt32(this.length, value, true);
    this.length += 4;
  }

  uint64(value: number): void {
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt(value), true);
    this.length += 8;
  }

  float32(value: number): void {
    this.reserve(4);
    this.view.setFloat32(this.length, value, true);
    this.length += 4;
  }

  uint8(value: number): void {
    this.reserve(1);
    this.view.setUint8(this.length, value);
    this.length += 1;
  }

  bytes(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  string(text: string): void {
    const encoded = new TextEncoder().encode(text);
    this.uint64(encoded.length);
    this.bytes(encoded);
  }

  padTo(alignment: number): void {
    while (this.length % alignment !== 0) this.uint8(0);
  }

  result(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

function writeMetadataValue(writer: ByteWriter, entry: MetadataValue): void {
  switch (entry.type) {
    case "string":
      writer.uint32(ValueType.string);
      writer.string(entry.value);
      return;
    case "uint32":
      writer.uint32(ValueType.uint32);
      writer.uint32(entry.value);
      return;
    case "float32":
      writer.uint32(ValueType.float32);
      writer.float32(entry.value);
      return;
    case "bool":
      writer.uint32(ValueType.bool);
      writer.uint8(entry.value ? 1 : 0);
      return;
    case "stringArray":
      writer.uint32(ValueType.array);
      writer.uint32(ValueType.string);
      writer.uint64(entry.value.length);
      for (const text of entry.value) writer.string(text);
      return;
    case "float32Array":
      writer.uint32(ValueType.array);
      writer.uint32(ValueType.float32);
      writer.uint64(entry.value.length);
      for (const value of entry.value) writer.float32(value);
      return;
    case "int32Array":
      writer.uint32(ValueType.array);
      writer.uint32(ValueType.int32);
      writer.uint64(entry.value.length);
      for (const value of entry.value) writer.int32(value);
      return;
  }
}

function encodeGguf(metadata: MetadataEntry[], tensors: TensorSpec[]): Uint8Array {
  const writer = new ByteWriter();
  writer.bytes(new TextEncoder().encode("GGUF"));
  writer.uint32(3);
  writer.uint64(tensors.length);
  writer.uint64(metadata.length);
  for (const [key, value] of metadata) {
    writer.string(key);
    writeMetadataValue(writer, value);
  }

  const alignedSize = (elements: number) => Math.ceil((elements * 4) / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
  let offset = 0;
  for (const tensor of tensors) {
    writer.string(tensor.name);
    writer.uint32(tensor.dimensions.length);
    for (const dimension of tensor.dimensions) writer.uint64(dimension);
    writer.uint32(GGML_TYPE_F32);
    writer.uint64(offset);
    offset += alignedSize(tensor.dimensions.reduce((product, dimension) => product * dimension, 1));
  }

  writer.padTo(GGUF_ALIGNMENT);
  for (const tensor of tensors) {
    const values = tensor.values();
    writer.bytes(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    writer.padTo(GGUF_ALIGNMENT);
  }
  return writer.result();
}
