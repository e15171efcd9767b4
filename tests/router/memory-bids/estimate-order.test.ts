import { describe, expect, it } from "vitest";
import { mulberry32Float } from "../../../src/market/random.js";
import type { StrategySearchHit } from "../../../src/memory/types.js";
import { estimateMembers, MemoryEmbedderMismatchError } from "../../../src/router/memory-bids/index.js";
import { EMBEDDER, entry, hit, PRICE } from "./helpers.js";

/** 40 hits of "m", most similar first: outcomes, costs, some not called, some with another agent. */
function sortedHits(seed: number): StrategySearchHit[] {
  const random = mulberry32Float(seed);
  const hits = Array.from({ length: 40 }, (_, index) =>
    hit(
      Math.fround(random() * 0.9),
      entry(index % 9 === 4 ? "other" : "m", {
        id: `e${index}`,
        outcome: random() < 0.6 ? 1 : 0,
        cost: random() / 100,
        metadata: { gavel: "outcome", embedder: EMBEDDER, called: index % 7 !== 3 },
      }),
    ),
  );
  return hits.sort((left, right) => right.score - left.score);
}

const settings = { priorStrength: 32, expectedOutputTokens: 256 };

function estimate(hits: readonly StrategySearchHit[], localNeighbours?: number) {
  return estimateMembers({
    hits: new Map([["m", hits]]),
    members: [{ name: "m", price: PRICE }],
    promptTokens: 100,
    settings: { ...settings, ...(localNeighbours === undefined ? {} : { localNeighbours }) },
    embedderId: EMBEDDER,
  });
}

describe("estimateMembers and the order of hits", () => {
  it("gives the same estimate whatever order the hits come in (a backend that does not sort)", () => {
    for (const seed of [1, 2, 3]) {
      const sorted = sortedHits(seed);
      const random = mulberry32Float(seed + 100);
      const shuffled = [...sorted].sort(() => random() - 0.5);
      for (const localNeighbours of [undefined, 5, 12]) {
        expect(estimate(shuffled, localNeighbours)).toEqual(estimate(sorted, localNeighbours));
      }
    }
  });

  it("counts only the k_local most similar evidence rows as local", () => {
    const sorted = sortedHits(4);
    const [narrow] = estimate(sorted, 5);
    const [wide] = estimate(sorted);
    expect(narrow?.neighbours).toBe(5);
    expect(wide?.neighbours).toBeGreaterThan(5);
    // The evidence n is the summed similarity of the five nearest called hits of "m".
    const nearest = sorted
      .filter((item) => item.entry.agent === "m" && item.entry.metadata?.called === true)
      .slice(0, 5)
      .reduce((sum, item) => sum + item.score, 0);
    expect(narrow?.evidence).toBeCloseTo(nearest, 12);
  });

  it("refuses an entry of another embedder even after hits out of order", () => {
    const hits = [...sortedHits(5)].reverse();
    hits.push(
      hit(0.5, entry("m", { id: "foreign", outcome: 1, metadata: { embedder: "other-embedder", called: true } })),
    );
    expect(() => estimate(hits)).toThrow(MemoryEmbedderMismatchError);
  });
});
