import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createVectraStrategyMemory } from "../../adapters/vectra/memory.js";
import { mulberry32Float } from "../../src/market/random.js";
import { agentNeighbourSearchOf, createInMemoryStrategyMemory } from "../../src/memory/matrix-memory.js";
import { type HitFields, hitFieldsOf } from "../../src/memory/matrix-store.js";
import type { NewStrategyEntry, StrategyEntry, StrategyMemory } from "../../src/memory/types.js";
import { ScriptedHashingEmbeddings } from "../../src/testing.js";

const DIMENSIONS = 16;
const AGENTS = ["a", "b", "c"];
const root = await mkdtemp(join(tmpdir(), "gavel-hit-fields-"));
afterAll(() => rm(root, { recursive: true, force: true }));

/**
 * Auctions of 1–3 agents sharing one vector; metadata varies so that every per-row field takes
 * several values: called or not, an answer or none, another embedder, costs that are negative,
 * outcomes missing.
 */
function entries(auctions: number, seed: number, prefix = "auction"): NewStrategyEntry[] {
  const random = mulberry32Float(seed);
  const out: NewStrategyEntry[] = [];
  for (let auction = 0; auction < auctions; auction += 1) {
    const vector = Array.from({ length: DIMENSIONS }, () => random() * 2 - 1);
    const agents = AGENTS.slice(0, 1 + Math.floor(random() * 3));
    for (const agent of agents) {
      const roll = random();
      const entry: NewStrategyEntry = {
        id: `${prefix}-${auction}:${agent}`,
        auctionId: `${prefix}-${auction}`,
        task: `request ${auction}`,
        kind: "",
        agent,
        plan: "",
        role: agents.length === 1 ? "single" : "losing",
        cost: roll < 0.1 ? -0.5 : random(),
        createdAt: auction,
        metadata: {
          gavel: "outcome",
          embedder: roll < 0.05 ? "other-embedder" : "hashing-16",
          called: roll > 0.2,
          ...(roll > 0.5 ? { answer: `answer ${Math.floor(random() * 3)}` } : {}),
        },
        vector,
      };
      if (roll > 0.15) entry.outcome = random() < 0.5 ? 1 : 0;
      out.push(entry);
    }
  }
  return out;
}

/** What the fields must say of `entry` (the definitions of `HitFields`). */
function expectedFields(entry: StrategyEntry) {
  const outcome = entry.outcome;
  const evidence = entry.metadata?.called === true && typeof outcome === "number" && Number.isFinite(outcome);
  const embedder = entry.metadata?.embedder;
  const answer = entry.metadata?.answer;
  return {
    outcome: evidence ? outcome : Number.NaN,
    cost: Number.isFinite(entry.cost) ? Math.max(0, entry.cost) : 0,
    embedder: typeof embedder === "string" ? embedder : undefined,
    answer: typeof answer === "string" ? answer : undefined,
    auctionId: entry.auctionId,
  };
}

/**
 * Batch-searches every agent for `queries` vectors and checks each hit's fields against its entry,
 * and each entry against what `memory.get` returns now (the fields follow the current entry).
 * Returns how many hits were checked.
 */
async function checkFields(memory: StrategyMemory, seed: number): Promise<number> {
  const batch = agentNeighbourSearchOf(memory);
  if (batch === undefined) throw new Error("not a matrix memory");
  const random = mulberry32Float(seed);
  let checked = 0;
  for (let query = 0; query < 5; query += 1) {
    const vector = Array.from({ length: DIMENSIONS }, () => random() * 2 - 1);
    const found = batch(vector, AGENTS, 40);
    for (const [position, hits] of found.entries()) {
      const fields = hitFieldsOf(hits) as HitFields;
      expect(fields).toBeDefined();
      expect(fields.agent).toBe(AGENTS[position]);
      for (const [index, hit] of hits.entries()) {
        expect(fields.entries[index]).toBe(hit.entry);
        expect(hit.entry).toEqual(await memory.get(hit.entry.id));
        const expected = expectedFields(hit.entry);
        expect({
          outcome: fields.outcome[index],
          cost: fields.cost[index],
          embedder: fields.embedder[index],
          answer: fields.answer[index],
          auctionId: fields.auctionId[index],
        }).toEqual(expected);
        checked += 1;
      }
    }
  }
  return checked;
}

describe("per-row hit fields of the matrix store (what memory bids read instead of the entries)", () => {
  it("match every hit's entry after adds, updates, recordOutcome and evictions (in-memory, int8)", async () => {
    const memory = createInMemoryStrategyMemory({
      embeddings: new ScriptedHashingEmbeddings({ dimensions: DIMENSIONS }),
      precision: "int8",
      maxEntries: 300,
    });
    await memory.add(entries(120, 3));
    expect(await checkFields(memory, 1)).toBeGreaterThan(100);

    // Updates: the same ids again with other metadata, costs and outcomes (and one agent changed).
    const updated = entries(60, 99).map((entry) => ({ ...entry, agent: entry.agent === "a" ? "b" : entry.agent }));
    await memory.add(updated);
    expect(await checkFields(memory, 2)).toBeGreaterThan(100);

    // recordOutcome on called and uncalled entries, with and without an outcome before.
    const ids = entries(120, 3).map((entry) => entry.id);
    for (const [index, id] of ids.entries()) {
      if (index % 3 === 0) expect(await memory.recordOutcome(id, index % 2)).toBe(true);
    }
    expect(await checkFields(memory, 3)).toBeGreaterThan(100);

    // Evictions: more auctions than maxEntries holds, so rows are removed and the last rows move.
    await memory.add(entries(150, 5, "later"));
    expect(await memory.size()).toBeLessThanOrEqual(300);
    expect(await memory.get(`${ids[0]}`)).toBeUndefined();
    expect(await checkFields(memory, 4)).toBeGreaterThan(100);
    await memory.close();
  });

  it("match every hit's entry in a vectra folder, before and after it is reopened", async () => {
    const folder = join(root, "vectra");
    const embeddings = new ScriptedHashingEmbeddings({ dimensions: DIMENSIONS });
    const first = await createVectraStrategyMemory({ folder, embeddings, maxEntries: 250 });
    await first.add(entries(80, 11));
    const ids = entries(80, 11).map((entry) => entry.id);
    for (const [index, id] of ids.entries()) if (index % 4 === 1) await first.recordOutcome(id, 1);
    await first.add(entries(90, 13, "later"));
    const before = await checkFields(first, 6);
    await first.close();

    const reopened = await createVectraStrategyMemory({ folder, embeddings, maxEntries: 250 });
    expect(await checkFields(reopened, 6)).toBe(before);
    await reopened.close();
  });
});
