import { createInMemoryStrategyMemory } from "../../src/memory/matrix-memory.js";
import { describeStrategyMemoryConformance } from "../../src/testing.js";

for (const kernel of ["wasm", "js"] as const) {
  await describeStrategyMemoryConformance({
    name: `in-memory (${kernel} kernel)`,
    async create({ embeddings, maxEntries, now }) {
      return createInMemoryStrategyMemory({
        embeddings,
        kernel,
        ...(maxEntries === undefined ? {} : { maxEntries }),
        ...(now === undefined ? {} : { now }),
      });
    },
    persistence: false,
  });
}
