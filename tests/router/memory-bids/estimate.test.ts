import { describe, expect, it } from "vitest";
import type { StrategyEntry, StrategySearchHit } from "../../../src/memory/types.js";
import {
  embedderIdOf,
  estimateMembers,
  MemoryEmbedderMismatchError,
  priceTierPrior,
} from "../../../src/router/memory-bids/index.js";
import { EMBEDDER, entry, hit, PRICE } from "./helpers.js";

const settings = { priorStrength: 2, expectedOutputTokens: 100, priors: { a: 0.5 } };

describe("estimateMembers", () => {
  it("weights called outcomes by similarity, smooths them with the prior, and ignores what is not evidence", () => {
    const hits = new Map<string, StrategySearchHit[]>([
      [
        "a",
        [
          hit(0.9, entry("a", { id: "1", outcome: 1, cost: 0.002 })),
          hit(0.5, entry("a", { id: "2", outcome: 0, cost: 0.004 })),
          hit(-0.2, entry("a", { id: "3", outcome: 1, cost: 0.1 })), // negative similarity: weight 0
          hit(
            0.8,
            entry("a", { id: "4", outcome: 1, metadata: { gavel: "outcome", embedder: EMBEDDER, called: false } }),
          ),
          hit(0.8, entry("a", { id: "5" })), // called, outcome not yet known
        ],
      ],
    ]);
    const [a] = estimateMembers({
      hits,
      members: [{ name: "a", price: PRICE }],
      promptTokens: 900,
      settings,
      embedderId: EMBEDDER,
    });
    const n = 0.9 + 0.5;
    const value = (0.9 + 2 * 0.5) / (n + 2);
    const coldCost = (900 + 100) / 1e6;
    expect(a).toBeDefined();
    expect(a?.evidence).toBeCloseTo(n, 12);
    expect(a?.neighbours).toBe(3);
    expect(a?.prior).toBe(0.5);
    expect(a?.value).toBeCloseTo(value, 12);
    expect(a?.spread).toBeCloseTo(Math.sqrt((value * (1 - value)) / (n + 2)), 12);
    expect(a?.expectedCostUsd).toBeCloseTo((0.9 * 0.002 + 0.5 * 0.004 + coldCost) / (n + 1), 15);
    expect(a?.normalisedCost).toBe(1);
    expect(a?.score).toBe(a?.value);
  });

  it("gives a member without evidence its price-tier prior and its price-based cost, normalised over this request", () => {
    const cheap = { inputPerMillion: 0.2, outputPerMillion: 0.2 };
    const dear = { inputPerMillion: 10, outputPerMillion: 30 };
    const rows = estimateMembers({
      hits: new Map(),
      members: [
        { name: "cheap", price: cheap },
        { name: "dear", price: dear },
      ],
      promptTokens: 1000,
      settings: { priorStrength: 32, expectedOutputTokens: 256 },
      embedderId: EMBEDDER,
    });
    const [cheapRow, dearRow] = rows;
    const dearCost = (1000 * 10 + 256 * 30) / 1e6;
    const cheapCost = (1000 * 0.2 + 256 * 0.2) / 1e6;
    expect(cheapRow?.evidence).toBe(0);
    expect(cheapRow?.prior).toBe(priceTierPrior(cheap));
    expect(cheapRow?.value).toBeCloseTo(priceTierPrior(cheap), 12);
    expect(dearRow?.value).toBeGreaterThan(cheapRow?.value as number);
    expect(dearRow?.expectedCostUsd).toBeCloseTo(dearCost, 15);
    expect(dearRow?.normalisedCost).toBe(1);
    expect(cheapRow?.normalisedCost).toBeCloseTo(cheapCost / dearCost, 12);
    const prior = priceTierPrior(cheap);
    expect(cheapRow?.spread).toBeCloseTo(Math.sqrt((prior * (1 - prior)) / 32), 12);
  });

  it("normalises to 0 when every member is free", () => {
    const free = { inputPerMillion: 0, outputPerMillion: 0 };
    const rows = estimateMembers({
      hits: new Map(),
      members: [
        { name: "x", price: free },
        { name: "y", price: free },
      ],
      promptTokens: 10,
      settings,
      embedderId: EMBEDDER,
    });
    expect(rows.map((row) => row.normalisedCost)).toEqual([0, 0]);
  });

  it("never reads entry.kind: a kind that throws on access, or any dataset name, gives the same estimate", () => {
    const base = [
      entry("a", { id: "1", outcome: 1, cost: 0.001 }),
      entry("a", { id: "2", outcome: 0, cost: 0.003 }),
      entry("b", { id: "3", outcome: 1, cost: 0.01 }),
    ];
    const estimateWith = (kindOf: (stored: StrategyEntry) => StrategyEntry) => {
      const hits = new Map<string, StrategySearchHit[]>([
        ["a", [hit(0.7, kindOf(base[0] as StrategyEntry)), hit(0.4, kindOf(base[1] as StrategyEntry))]],
        ["b", [hit(0.6, kindOf(base[2] as StrategyEntry))]],
      ]);
      return estimateMembers({
        hits,
        members: [
          { name: "a", price: PRICE },
          { name: "b", price: { inputPerMillion: 5, outputPerMillion: 15 } },
        ],
        promptTokens: 50,
        settings,
        embedderId: EMBEDDER,
      });
    };
    const arc = estimateWith((stored) => ({ ...stored, kind: "arc-challenge" }));
    const mbpp = estimateWith((stored) => ({ ...stored, kind: "mbpp" }));
    const trap = estimateWith(
      (stored) =>
        new Proxy(stored, {
          get(target, property, receiver) {
            if (property === "kind") throw new Error("memory bids read entry.kind");
            return Reflect.get(target, property, receiver);
          },
        }),
    );
    expect(mbpp).toEqual(arc);
    expect(trap).toEqual(arc);
    expect(arc[0]?.evidence).toBeCloseTo(1.1, 12);
  });

  it("refuses a hit written with another embedder, naming both ids and the fix", () => {
    const hits = new Map([
      [
        "a",
        [
          hit(
            0.9,
            entry("a", {
              id: "1",
              outcome: 1,
              metadata: { gavel: "outcome", embedder: "OpenAIEmbeddings", called: true },
            }),
          ),
        ],
      ],
    ]);
    const run = () =>
      estimateMembers({
        hits,
        members: [{ name: "a", price: PRICE }],
        promptTokens: 1,
        settings,
        embedderId: EMBEDDER,
      });
    expect(run).toThrow(MemoryEmbedderMismatchError);
    try {
      run();
    } catch (error) {
      expect(MemoryEmbedderMismatchError.isInstance(error)).toBe(true);
      const mismatch = error as MemoryEmbedderMismatchError;
      expect(mismatch.expected).toBe(EMBEDDER);
      expect(mismatch.found).toBe("OpenAIEmbeddings");
      expect(mismatch.message).toContain('"OpenAIEmbeddings"');
      expect(mismatch.message).toContain(`"${EMBEDDER}"`);
      expect(mismatch.message).toMatch(/Fix: .*same embedder|Fix: .*embedder that wrote the memory/);
      expect(mismatch.message).toContain("new memory");
    }
  });
});

describe("embedderIdOf", () => {
  it("reads a string id, else the class name", () => {
    class OpenAIEmbeddings {
      async embedDocuments(texts: string[]) {
        return texts.map(() => [1]);
      }
    }
    expect(embedderIdOf({ id: "hashing-64" })).toBe("hashing-64");
    expect(embedderIdOf(new OpenAIEmbeddings())).toBe("OpenAIEmbeddings");
    expect(embedderIdOf(Object.assign(new OpenAIEmbeddings(), { id: 7 }))).toBe("OpenAIEmbeddings");
  });
});
