import { describe, expect, it } from "vitest";
import { createInMemoryStrategyMemory } from "../../src/memory/matrix-memory.js";
import { describeStrategyMemoryConformance, ScriptedHashingEmbeddings } from "../../src/testing.js";

// The whole memory contract with int8 rows: the suite's scores and orderings hold within int8's error.
for (const kernel of ["wasm", "js"] as const) {
  await describeStrategyMemoryConformance({
    name: `in-memory, int8 precision (${kernel} kernel)`,
    async create({ embeddings, maxEntries, now }) {
      return createInMemoryStrategyMemory({
        embeddings,
        kernel,
        precision: "int8",
        ...(maxEntries === undefined ? {} : { maxEntries }),
        ...(now === undefined ? {} : { now }),
      });
    },
    persistence: false,
  });
}

describe("createInMemoryStrategyMemory precision option", () => {
  it("refuses an unknown precision, naming the field", () => {
    expect(() =>
      createInMemoryStrategyMemory({ embeddings: new ScriptedHashingEmbeddings(), precision: "int4" as never }),
    ).toThrow(/precision/);
  });
});
