/**
 * The GGUF writer, checked by an independent reader (node-llama-cpp's pure-JS GGUF parser, no
 * native binary): header, metadata, vocabulary, tensor dimensions (ne[0] first) and alignment.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readGgufFileInfo } from "node-llama-cpp";
import { afterAll, describe, expect, it } from "vitest";
import {
  buildTinyLlamaGguf,
  CHATML_TEMPLATE,
  GGUF_ALIGNMENT,
  writeTinyLlamaGguf,
} from "../../adapters/llamacpp/gguf-writer.js";
import { ConfigError } from "../../src/errors.js";

const folder = mkdtempSync(join(tmpdir(), "gavel-gguf-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe("writeTinyLlamaGguf", () => {
  it("writes a GGUF v3 llama model that an independent parser reads back", async () => {
    const path = join(folder, "model.gguf");
    const info = await writeTinyLlamaGguf({
      path,
      seed: 3,
      embeddingLength: 32,
      blockCount: 3,
      headCount: 4,
      headCountKv: 2,
      feedForwardLength: 48,
    });
    const bytes = readFileSync(path);
    expect(bytes.subarray(0, 4).toString("latin1")).toBe("GGUF");
    expect(bytes.readUInt32LE(4)).toBe(3);
    expect(bytes.byteLength).toBe(info.byteLength);

    const file = await readGgufFileInfo(path, { logWarnings: false });
    const metadata = file.metadata as unknown as Record<string, Record<string, unknown>>;
    const llama = metadata.llama as Record<string, unknown> & {
      attention: Record<string, unknown>;
      rope: Record<string, unknown>;
    };
    expect(metadata.general?.architecture).toBe("llama");
    expect(llama.embedding_length).toBe(32);
    expect(llama.block_count).toBe(3);
    expect(llama.feed_forward_length).toBe(48);
    expect(llama.attention.head_count).toBe(4);
    expect(llama.attention.head_count_kv).toBe(2);
    expect(llama.rope.dimension_count).toBe(8);
    const tokenizer = metadata.tokenizer as { ggml: Record<string, unknown>; chat_template: string };
    expect(tokenizer.ggml.model).toBe("llama");
    expect(tokenizer.chat_template).toBe(CHATML_TEMPLATE);
    const tokens = tokenizer.ggml.tokens as string[];
    expect(tokens).toEqual(info.tokens);
    expect(tokens.slice(0, 5)).toEqual(["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]);
    expect(tokens).toContain("<0x00>");
    expect(tokens).toContain("<0xFF>");
    for (const piece of ["{", "}", '"', ":", "\u2581the"]) expect(tokens).toContain(piece);
    expect((tokenizer.ggml.token_type as number[]).filter((type) => type === 6)).toHaveLength(256);

    const tensors = new Map((file.tensorInfo ?? []).map((tensor) => [tensor.name, tensor]));
    expect(tensors.size).toBe(3 + 9 * 3);
    expect(tensors.get("token_embd.weight")?.dimensions.map(Number)).toEqual([32, info.vocabularySize]);
    expect(tensors.get("output.weight")?.dimensions.map(Number)).toEqual([32, info.vocabularySize]);
    expect(tensors.get("blk.2.attn_k.weight")?.dimensions.map(Number)).toEqual([32, 16]);
    expect(tensors.get("blk.0.ffn_down.weight")?.dimensions.map(Number)).toEqual([48, 32]);
    expect(tensors.get("blk.0.ffn_up.weight")?.dimensions.map(Number)).toEqual([32, 48]);
    for (const tensor of tensors.values()) {
      expect(Number(tensor.offset) % GGUF_ALIGNMENT).toBe(0);
      expect(tensor.ggmlType).toBe(0);
    }
  });

  it("is deterministic per seed", () => {
    const first = buildTinyLlamaGguf({ seed: 5, extraPieces: ["gavel"] });
    const second = buildTinyLlamaGguf({ seed: 5, extraPieces: ["gavel"] });
    const other = buildTinyLlamaGguf({ seed: 6, extraPieces: ["gavel"] });
    expect(Buffer.from(second.bytes).equals(Buffer.from(first.bytes))).toBe(true);
    expect(Buffer.from(other.bytes).equals(Buffer.from(first.bytes))).toBe(false);
    expect(first.info.tokens).toContain("gavel");
    expect(first.bytes.byteLength % GGUF_ALIGNMENT).toBe(0);
  });

  it("rejects inconsistent dimensions, naming the field", () => {
    const error = (() => {
      try {
        buildTinyLlamaGguf({ embeddingLength: 30, headCount: 4 });
      } catch (caught) {
        return caught;
      }
    })();
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as ConfigError).fields).toContain("embeddingLength");
    expect(() => buildTinyLlamaGguf({ seed: 1, blocks: 2 } as never)).toThrow(/blocks/);
  });
});
