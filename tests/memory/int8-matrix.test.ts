import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mulberry32Float } from "../../src/market/random.js";
import { MatrixStore } from "../../src/memory/matrix-store.js";
import type { StrategyEntry } from "../../src/memory/types.js";
import { selectTop, VectorMatrix } from "../../src/memory/vector-matrix.js";

/** A random unit vector with Gaussian coordinates (the shape of real embeddings' directions). */
function gaussianUnit(random: () => number, dimensions: number): Float32Array {
  const vector = new Float32Array(dimensions);
  let squares = 0;
  for (let index = 0; index < dimensions; index += 1) {
    const value = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    vector[index] = value;
    squares += value * value;
  }
  for (let index = 0; index < dimensions; index += 1) vector[index] = (vector[index] ?? 0) / Math.sqrt(squares);
  return vector;
}

/** `base` plus noise of size `spread`, not normalised (the matrix normalises). */
function near(base: Float32Array, random: () => number, spread: number): Float32Array {
  return base.map((value) => value + spread * (random() * 2 - 1));
}

function matrices(dimensions: number, capacity = 4): Record<"wasm" | "js", VectorMatrix> {
  return {
    wasm: new VectorMatrix({ dimensions, precision: "int8", kernel: "wasm", initialCapacity: capacity }),
    js: new VectorMatrix({ dimensions, precision: "int8", kernel: "js", initialCapacity: capacity }),
  };
}

describe("VectorMatrix, int8 precision", () => {
  it("the WebAssembly kernel and the JavaScript loop give bit-identical scores (all rows, listed rows, after moves)", () => {
    // 37-d: rows padded to 48 bytes; 103 rows: the four-row loop plus a remainder of 3; capacity 4: the buffer grows.
    for (const dimensions of [37, 512]) {
      const random = mulberry32Float(dimensions);
      const { wasm, js } = matrices(dimensions);
      for (let row = 0; row < 103; row += 1) {
        const vector = gaussianUnit(random, dimensions).map((value) => value * (1 + row));
        wasm.append(vector);
        js.append(vector);
      }
      for (const row of [5, 50, 0]) expect(wasm.remove(row)).toBe(js.remove(row));
      const list = Int32Array.from([99, 0, 7, 7, 42, 3, 1]);
      for (let query = 0; query < 5; query += 1) {
        const vector = gaussianUnit(random, dimensions);
        const all = Array.from(wasm.scores(vector));
        expect(all).toEqual(Array.from(js.scores(vector)));
        expect(all).toHaveLength(100);
        const listed = Array.from(wasm.scores(vector, list));
        expect(listed).toEqual(Array.from(js.scores(vector, list)));
        expect(listed).toEqual(Array.from(list, (row) => all[row]));
      }
    }
  });

  it("property: wasm and js agree on any vectors, zero vectors included", () => {
    const vectorOf = fc.array(fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true }), {
      minLength: 19,
      maxLength: 19,
    });
    fc.assert(
      fc.property(fc.array(vectorOf, { minLength: 1, maxLength: 13 }), vectorOf, (rows, query) => {
        const { wasm, js } = matrices(19);
        for (const row of rows) {
          wasm.append(row);
          js.append(row);
        }
        const scores = Array.from(wasm.scores(query));
        expect(scores).toEqual(Array.from(js.scores(query)));
        for (const score of scores) expect(Math.abs(score)).toBeLessThanOrEqual(1 + 1e-6);
      }),
      { numRuns: 60 },
    );
  });

  it("stores a quarter of the bytes; an identical vector scores 1; a zero vector scores 0", () => {
    const float = new VectorMatrix({ dimensions: 512 });
    const int8 = new VectorMatrix({ dimensions: 512, precision: "int8" });
    expect(float.bytesPerRow).toBe(2048);
    expect(int8.bytesPerRow).toBe(516);
    const random = mulberry32Float(3);
    const vector = gaussianUnit(random, 512);
    int8.append(vector);
    int8.append(new Float32Array(512));
    int8.append(vector.map((value) => value * 3));
    const scores = int8.scores(vector);
    expect(scores[0]).toBeCloseTo(1, 6);
    expect(scores[1]).toBe(0);
    expect(scores[2]).toBe(scores[0]);
    expect(int8.sameVector(0, 2)).toBe(true);
    expect(int8.sameVector(0, 1)).toBe(false);
    const stored = int8.vector(0);
    let norm = 0;
    let dot = 0;
    for (let index = 0; index < 512; index += 1) {
      norm += (stored[index] ?? 0) ** 2;
      dot += (stored[index] ?? 0) * (vector[index] ?? 0);
    }
    expect(Math.sqrt(norm)).toBeCloseTo(1, 5);
    expect(dot).toBeGreaterThan(0.999);
  });

  // Measured (seed 11): mean |Δcos| 0.00037, max 0.0022 over 100,000 pairs; top-8 overlap 99.7% / 99.4% below.
  it("cosine error against float32 on random 512-d unit vectors: mean |Δcos| < 0.001, max < 0.005", () => {
    const random = mulberry32Float(11);
    const rows = 2_000;
    const float = new VectorMatrix({ dimensions: 512 });
    const int8 = new VectorMatrix({ dimensions: 512, precision: "int8" });
    for (let row = 0; row < rows; row += 1) {
      const vector = gaussianUnit(random, 512);
      float.append(vector);
      int8.append(vector);
    }
    let largest = 0;
    let sum = 0;
    for (let query = 0; query < 50; query += 1) {
      const vector = gaussianUnit(random, 512);
      const exact = Float32Array.from(float.scores(vector));
      const approximate = int8.scores(vector);
      for (let row = 0; row < rows; row += 1) {
        const error = Math.abs((approximate[row] ?? 0) - (exact[row] ?? 0));
        largest = Math.max(largest, error);
        sum += error;
      }
    }
    expect(sum / (rows * 50)).toBeLessThan(0.001);
    expect(largest).toBeLessThan(0.005);
  });

  it("top-8 overlap with float32: ≥ 95% for random queries and for queries among clustered neighbours", () => {
    const random = mulberry32Float(21);
    const float = new VectorMatrix({ dimensions: 512 });
    const int8 = new VectorMatrix({ dimensions: 512, precision: "int8" });
    // 200 topics of 25 paraphrases each: neighbours the way embedded requests have them.
    const topics = Array.from({ length: 200 }, () => gaussianUnit(random, 512));
    for (const topic of topics) {
      for (let paraphrase = 0; paraphrase < 25; paraphrase += 1) {
        const vector = near(topic, random, 0.08 + paraphrase * 0.004);
        float.append(vector);
        int8.append(vector);
      }
    }
    const byIndex = (a: number, b: number) => a - b;
    const overlap = (query: Float32Array) => {
      const exact = new Set(selectTop(Float32Array.from(float.scores(query)), 8, byIndex));
      return selectTop(int8.scores(query), 8, byIndex).filter((row) => exact.has(row)).length / 8;
    };
    let randomOverlap = 0;
    let topicOverlap = 0;
    for (let query = 0; query < 40; query += 1) {
      randomOverlap += overlap(gaussianUnit(random, 512));
      topicOverlap += overlap(near(topics[query] as Float32Array, random, 0.08));
    }
    expect(randomOverlap / 40).toBeGreaterThanOrEqual(0.95);
    expect(topicOverlap / 40).toBeGreaterThanOrEqual(0.95);
  });
});

describe("MatrixStore, filtered search (int8 and float32)", () => {
  function entry(id: number, agent: string, role: StrategyEntry["role"] = "losing"): StrategyEntry {
    return {
      id: `e${id}`,
      auctionId: `a${Math.floor(id / 4)}`,
      task: "t",
      kind: `kind-${id % 3}`,
      agent,
      plan: "",
      role,
      cost: 0,
      createdAt: id,
    };
  }

  for (const precision of ["int8", "float32"] as const) {
    it(`${precision}: a search filtered by agent returns what filtering every row would, through upserts that change agents and removals that move rows`, () => {
      const random = mulberry32Float(precision.length);
      const store = new MatrixStore({ precision, capacity: 8 });
      const agents = ["m0", "m1", "m2", "m3", "m4"];
      const live = new Set<number>();
      // Most entries of an auction share its vector (as the members called on one request do).
      const auctionVectors = new Map<number, Float32Array>();
      const vectorFor = (id: number) => {
        const auction = Math.floor(id / 4);
        if (random() < 0.1) return gaussianUnit(random, 64);
        let vector = auctionVectors.get(auction);
        if (vector === undefined) {
          vector = gaussianUnit(random, 64);
          auctionVectors.set(auction, vector);
        }
        return vector;
      };
      for (let step = 0; step < 600; step += 1) {
        const id = Math.floor(random() * 200);
        if (random() < 0.25 && live.has(id)) {
          expect(store.remove(`e${id}`)).toBe(true);
          live.delete(id);
          continue;
        }
        const agent = agents[Math.floor(random() * agents.length)] as string;
        const role = random() < 0.5 ? "winning" : "losing";
        store.upsert({ entry: entry(id, agent, role), vector: vectorFor(id), lastUsedAt: step });
        live.add(id);
      }
      expect(store.size).toBe(live.size);
      for (let query = 0; query < 6; query += 1) {
        const vector = gaussianUnit(random, 64);
        const everything = store.search(vector, store.size, {});
        for (const filter of [
          { agent: "m1" },
          { agent: "m3", role: "winning" as const },
          { agent: "m2", kind: "kind-1" },
          { agent: "nobody" },
        ]) {
          const expected = everything
            .filter(
              ({ entry }) =>
                entry.agent === filter.agent &&
                (filter.role === undefined || entry.role === filter.role) &&
                (filter.kind === undefined || entry.kind === filter.kind),
            )
            .slice(0, 32);
          const hits = store.search(vector, 32, filter);
          expect(hits.map((hit) => [hit.entry.id, hit.score])).toEqual(
            expected.map((hit) => [hit.entry.id, hit.score]),
          );
        }
        // The repeated query was scored once for every row, and the filtered searches read from it.
        expect((store as unknown as { sharedScores?: Float32Array }).sharedScores).toBeDefined();
        // A write invalidates it: the next search with the same query scores the rows again.
        const id = [...live][0] as number;
        store.upsert({ entry: entry(id, "m1"), vector: gaussianUnit(random, 64), lastUsedAt: 1_000 });
        const fresh = store.search(vector, store.size, {});
        expect((store as unknown as { sharedScores?: Float32Array }).sharedScores).toBeUndefined();
        expect(store.search(vector, 32, { agent: "m1" }).map((hit) => [hit.entry.id, hit.score])).toEqual(
          fresh
            .filter((hit) => hit.entry.agent === "m1")
            .slice(0, 32)
            .map((hit) => [hit.entry.id, hit.score]),
        );
      }
    });
  }

  it("int8 and float32 stores return the same filtered neighbours when they are distinct", () => {
    const random = mulberry32Float(5);
    const int8 = new MatrixStore({ precision: "int8" });
    const float = new MatrixStore({ precision: "float32" });
    const topic = gaussianUnit(random, 512);
    for (let id = 0; id < 400; id += 1) {
      // Closer to the topic as the id grows, in clear steps.
      const vector = near(topic, random, 0.02).map((value, index) => value + (400 - id) * 0.0004 * ((index % 7) - 3));
      const record = { entry: entry(id, `m${id % 4}`), vector, lastUsedAt: 0 };
      int8.upsert(record);
      float.upsert(record);
    }
    for (const agent of ["m0", "m3"]) {
      const ids = (store: MatrixStore) => store.search(topic, 8, { agent }).map((hit) => hit.entry.id);
      expect(ids(int8)).toEqual(ids(float));
      expect(ids(int8).every((id) => Number(id.slice(1)) % 4 === Number(agent.slice(1)))).toBe(true);
    }
  });
});
