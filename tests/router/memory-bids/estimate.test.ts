import { describe, expect, it } from "vitest";
import type { StrategyEntry, StrategySearchHit } from "../../../src/memory/types.js";
import {
  DEFAULT_ESTIMATE_SHAPE,
  embedderIdOf,
  estimateMembers,
  estimateShape,
  MemoryEmbedderMismatchError,
  priceTierPrior,
} from "../../../src/router/memory-bids/index.js";
import { auctionRouterOptionsSchema, resolveSettings } from "../../../src/router/options.js";
import { ScriptedChatModel } from "../../../src/testing/scripted-chat-model.js";
import { EMBEDDER, entry, hit, PRICE } from "./helpers.js";

const settings = { priorStrength: 2, expectedOutputTokens: 100, priors: { a: 0.5 } };

describe("estimateMembers", () => {
  it("weights called outcomes by similarity, smooths them with the prior, and ignores what is not evidence", () => {
    // Single scale: the local neighbourhood holds every hit and the regional mean is the prior itself.
    const single = { ...settings, priorStrength: Number.POSITIVE_INFINITY, localNeighbours: 32, localStrength: 2 };
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
      settings: single,
      embedderId: EMBEDDER,
    });
    const n = 0.9 + 0.5;
    const value = (0.9 + 2 * 0.5) / (n + 2);
    const coldCost = (900 + 100) / 1e6;
    expect(a).toBeDefined();
    expect(a?.evidence).toBeCloseTo(n, 12);
    expect(a?.neighbours).toBe(3);
    expect(a?.prior).toBe(0.5);
    expect(a?.regional).toBe(0.5);
    expect(a?.value).toBeCloseTo(value, 12);
    expect(a?.spread).toBeCloseTo(Math.sqrt((value * (1 - value)) / (n + 2)), 12);
    expect(a?.expectedCostUsd).toBeCloseTo((0.9 * 0.002 + 0.5 * 0.004 + coldCost) / (n + 1), 15);
    expect(a?.normalisedCost).toBe(1);
    expect(a?.score).toBe(a?.value);
  });

  it("two scales: the k_local most similar smoothed toward the regional mean of every hit, itself smoothed toward the prior", () => {
    // α_r = priorStrength = 1, α_l = localStrength = 2, kernel w = s².
    const shaped = { ...settings, priorStrength: 1, localNeighbours: 2, localStrength: 2, similarityPower: 2 };
    // Given out of order: the estimate ranks by similarity itself.
    const hits = new Map<string, StrategySearchHit[]>([
      [
        "a",
        [
          hit(0.4, entry("a", { id: "3", outcome: 1, cost: 0.5 })),
          hit(0.9, entry("a", { id: "1", outcome: 1, cost: 0.002 })),
          hit(0.2, entry("a", { id: "4", outcome: 0, cost: 0.5 })),
          hit(0.6, entry("a", { id: "2", outcome: 0, cost: 0.004 })),
        ],
      ],
    ]);
    const [a] = estimateMembers({
      hits,
      members: [{ name: "a", price: PRICE }],
      promptTokens: 900,
      settings: shaped,
      embedderId: EMBEDDER,
    });
    // Kernel w = s²: 0.81, 0.36 (local), 0.16, 0.04 (regional only).
    const wide = 0.81 + 0.36 + 0.16 + 0.04;
    const regional = (0.81 + 0.16 + 1 * 0.5) / (wide + 1);
    const n = 0.81 + 0.36;
    const value = (0.81 + 2 * regional) / (n + 2);
    const coldCost = (900 + 100) / 1e6;
    expect(a?.regional).toBeCloseTo(regional, 12);
    expect(a?.evidence).toBeCloseTo(n, 12);
    expect(a?.neighbours).toBe(2);
    expect(a?.value).toBeCloseTo(value, 12);
    expect(a?.spread).toBeCloseTo(Math.sqrt((value * (1 - value)) / (n + 2)), 12);
    expect(a?.expectedCostUsd).toBeCloseTo((0.81 * 0.002 + 0.36 * 0.004 + coldCost) / (n + 1), 15);
  });

  it("the regional mean carries a member's record beyond its local neighbours", () => {
    // Same local neighbours, different wider neighbourhoods: a member strong around this request reads higher.
    const around = (outcome: number) =>
      new Map<string, StrategySearchHit[]>([
        [
          "a",
          [
            hit(0.9, entry("a", { id: "1", outcome: 1 })),
            ...Array.from({ length: 20 }, (_, position) => hit(0.5, entry("a", { id: `w${position}`, outcome }))),
          ],
        ],
      ]);
    const estimate = (hits: Map<string, StrategySearchHit[]>) =>
      estimateMembers({
        hits,
        members: [{ name: "a", price: PRICE }],
        promptTokens: 10,
        settings: { ...settings, priorStrength: 2, localNeighbours: 1, localStrength: 2 },
        embedderId: EMBEDDER,
      })[0];
    const strong = estimate(around(1));
    const weak = estimate(around(0));
    expect(strong?.evidence).toBeCloseTo(0.9, 12);
    expect(weak?.evidence).toBeCloseTo(0.9, 12);
    expect(strong?.regional).toBeCloseTo((10.9 + 2 * 0.5) / (10.9 + 2), 12);
    expect(weak?.regional).toBeCloseTo((0.9 + 2 * 0.5) / (10.9 + 2), 12);
    expect(strong?.value).toBeGreaterThan((weak?.value as number) + 0.3);
  });

  it("defaults to the tuned shape: the nearest 96 local, α_l = 8, plain similarity", () => {
    expect(DEFAULT_ESTIMATE_SHAPE).toEqual({ localNeighbours: 96, localStrength: 8, similarityPower: 1 });
    const hits = new Map<string, StrategySearchHit[]>([
      [
        "a",
        Array.from({ length: 120 }, (_, position) =>
          hit(0.5, entry("a", { id: `${position}`, outcome: position % 2 })),
        ),
      ],
    ]);
    const [a] = estimateMembers({
      hits,
      members: [{ name: "a", price: PRICE }],
      promptTokens: 10,
      settings: { priorStrength: 32, expectedOutputTokens: 100, priors: { a: 0.9 } },
      embedderId: EMBEDDER,
    });
    // 120 hits of similarity 0.5, half right: regional over all 120, local over the nearest 96.
    const regional = (30 + 32 * 0.9) / (60 + 32);
    expect(a?.neighbours).toBe(96);
    expect(a?.evidence).toBeCloseTo(48, 12);
    expect(a?.regional).toBeCloseTo(regional, 12);
    expect(a?.value).toBeCloseTo((24 + 8 * regional) / (48 + 8), 12);
  });

  it("refuses a bad estimate shape, naming the field", () => {
    const run = (shape: Record<string, number>) => () =>
      estimateMembers({
        hits: new Map(),
        members: [{ name: "a", price: PRICE }],
        promptTokens: 1,
        settings: { ...settings, ...shape },
        embedderId: EMBEDDER,
      });
    expect(run({ localNeighbours: 0 })).toThrow(/localNeighbours/);
    expect(run({ localStrength: -1 })).toThrow(/localStrength/);
    expect(run({ priorStrength: -1 })).toThrow(/priorStrength/);
    expect(run({ similarityPower: 0 })).toThrow(/similarityPower/);
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
      settings: { priorStrength: 32, expectedOutputTokens: 256, localStrength: 32 },
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

describe("AuctionRouter memoryBids: the estimate's shape", () => {
  const pool = [
    {
      name: "a",
      model: new ScriptedChatModel({ replies: ["A"] }),
      price: { inputPerMillion: 1, outputPerMillion: 1 },
    },
  ];

  it("passes localNeighbours, localStrength and similarityPower to the estimate, defaults left to it", () => {
    const shaped = resolveSettings(
      auctionRouterOptionsSchema.parse({
        pool,
        memoryBids: { localNeighbours: 16, localStrength: 4, similarityPower: 2 },
      }),
    );
    expect(estimateShape(shaped.memoryBids)).toEqual({ localNeighbours: 16, localStrength: 4, similarityPower: 2 });
    const plain = resolveSettings(auctionRouterOptionsSchema.parse({ pool }));
    expect(plain.memoryBids.neighbours).toBe(96);
    expect(estimateShape(plain.memoryBids)).toEqual(DEFAULT_ESTIMATE_SHAPE);
  });

  it("refuses a bad shape naming the memoryBids field", () => {
    const issues = (memoryBids: Record<string, number>) =>
      auctionRouterOptionsSchema.safeParse({ pool, memoryBids }).error?.issues.map((issue) => issue.path.join("."));
    expect(issues({ localNeighbours: 0 })).toContain("memoryBids.localNeighbours");
    expect(issues({ localStrength: -1 })).toContain("memoryBids.localStrength");
    expect(issues({ similarityPower: 0 })).toContain("memoryBids.similarityPower");
  });
});
