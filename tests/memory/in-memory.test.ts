import { createInMemoryStrategyMemory } from "../../src/memory/matrix-memory.js";
import { describeStrategyMemoryConformance } from "./conformance.js";

for (const kernel of ["wasm", "js"] as const) {
  describeStrategyMemoryConformance({
    name: `in-memory (${kernel} kernel)`,
    async create({ embeddings, maxEntries, now }) {
      return createInMemoryStrategyMemory({
        embeddings,
        kernel,
        ...(maxEntries === undefined ? {} : { maxEntries }),
        ...(now === undefined ? {} : { now }),
      });
    },
    async destroy() {},
    persistence: false,
  });
}
