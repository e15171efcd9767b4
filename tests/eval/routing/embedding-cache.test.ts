import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { OutputConflictError } from "../../../src/eval/outputs.js";
import { createHashingEmbeddings, embedWithCache } from "../../../src/eval/routing/embedding.js";

describe("embedWithCache", () => {
  const embedder = createHashingEmbeddings();

  it("reuses its own cache file and refuses, untouched, a file at the cache path that is not a cache", async () => {
    const cacheDirectory = mkdtempSync(join(tmpdir(), "gavel-embed-cache-"));
    const first = await embedWithCache({ embedder, texts: ["a cat", "a dog"], embedderId: "mine", cacheDirectory });
    const cacheFile = join(cacheDirectory, "mine.json");
    expect(Object.keys(JSON.parse(readFileSync(cacheFile, "utf8")))).toHaveLength(2);
    // Its own file: read back (a third text is added, the file rewritten).
    const again = await embedWithCache({
      embedder,
      texts: ["a cat", "a bird"],
      embedderId: "mine",
      cacheDirectory,
    });
    expect(again[0]).toEqual(first[0]);
    expect(Object.keys(JSON.parse(readFileSync(cacheFile, "utf8")))).toHaveLength(3);

    for (const foreign of ["my notes\n", '{"settings": {"theme": "dark"}}\n', "[1, 2, 3]\n"]) {
      writeFileSync(cacheFile, foreign);
      const attempt = embedWithCache({ embedder, texts: ["a fish"], embedderId: "mine", cacheDirectory });
      await expect(attempt).rejects.toSatisfy((error: unknown) => OutputConflictError.isInstance(error));
      await expect(embedWithCache({ embedder, texts: ["a fish"], embedderId: "mine", cacheDirectory })).rejects.toThrow(
        `${cacheFile}: exists and is not a Gavel embedding cache`,
      );
      expect(readFileSync(cacheFile, "utf8")).toBe(foreign);
    }
  });
});
