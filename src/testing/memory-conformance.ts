/**
 * The conformance suite every `StrategyMemory` backend runs (in-memory, vectra, any LangChain
 * VectorStore), with the same setup shape as the ledger suites: `{ name, create, destroy? }`, plus
 * what the backend keeps across `close()` and reopening.
 *
 * `create(context)` opens the memory at `context.key` with the suite's embedder (a deterministic
 * {@link ScriptedHashingEmbeddings}) and, when given, its `maxEntries` and clock; calling it again
 * with the same key after `close()` must reopen the same data (for backends that persist).
 * `destroy(memory, context)` removes what it stored (default: `memory.close()`). vitest is loaded
 * when the suite is described, not when `langchain-gavel/testing` is imported.
 */
import { entriesFromAuction } from "../memory/auction-entries.js";
import { StrategyMemoryError } from "../memory/errors.js";
import type { NewStrategyEntry, StrategyEntry, StrategyFilter, StrategyMemory } from "../memory/types.js";
import {
  type ConformanceContext,
  type ConformanceSetup,
  createBackendTracker,
  nextConformanceKey,
} from "./conformance.js";
import { ScriptedHashingEmbeddings } from "./scripted-embeddings.js";
import { loadVitest } from "./vitest.js";

/** What a memory backend is opened with. */
export interface StrategyMemoryConformanceContext extends ConformanceContext {
  /** Identifies the data: same key, same data. */
  readonly key: string;
  /** The embedder to use (deterministic, records its calls, can be told to fail). */
  readonly embeddings: ScriptedHashingEmbeddings;
  /** The bound the test sets, when it sets one. */
  readonly maxEntries?: number;
  /** The clock the test drives, when it drives one (epoch milliseconds). */
  readonly now?: () => number;
}

/** What survives `close()` and `create` with the same key: nothing (`false`), or the entries and, optionally, their catalog and outcomes. */
export type StrategyMemoryPersistence = false | { keepsSize: boolean; keepsOutcomes: boolean };

/**
 * How the memory suite opens and disposes of a backend: the ledger suites' setup, with the
 * memory's own context, plus what the backend keeps across close and reopen.
 *
 * @example
 * ```ts
 * const setup: StrategyMemoryConformanceSetup = {
 *   name: "in-memory",
 *   create: ({ embeddings, maxEntries, now }) => createInMemoryStrategyMemory({ embeddings, maxEntries, now }),
 * };
 * ```
 */
export interface StrategyMemoryConformanceSetup<Memory extends StrategyMemory = StrategyMemory>
  extends ConformanceSetup<Memory, StrategyMemoryConformanceContext> {
  /** What survives `close()` + `create` with the same key. Default `false`: nothing. */
  persistence?: StrategyMemoryPersistence;
}

/**
 * A clock a test sets by hand.
 *
 * @example
 * ```ts
 * const clock = createManualClock(100);
 * const memory = createInMemoryStrategyMemory({ embeddings, now: clock.now });
 * clock.set(200); // what memory sees as "now" from here on
 * ```
 */
export function createManualClock(start = 1_000): { now: () => number; set(time: number): void } {
  let time = start;
  return {
    now: () => time,
    set(next: number) {
      time = next;
    },
  };
}

const TASKS = {
  math: "Add two numbers and print the sum of the integers",
  sort: "Sort a list of names in alphabetical order",
  translate: "Translate a French sentence into English",
  weather: "Summarise the weather forecast for Paris tomorrow",
} as const;

/** One auction: `small` loses (or wins) against `large`. */
function auction(id: string, task: string, options: { kind?: string; winner?: string; createdAt?: number } = {}) {
  const { kind = "test", winner = "large", createdAt = 1 } = options;
  return entriesFromAuction({
    auctionId: id,
    task,
    kind,
    winner,
    createdAt,
    bids: [
      { agent: "small", plan: `small plan for ${id}`, cost: 1 },
      { agent: "large", plan: `large plan for ${id}`, cost: 10 },
    ],
  });
}

function single(id: string, task: string, extra: Partial<StrategyEntry> = {}): StrategyEntry {
  return {
    id,
    auctionId: id,
    task,
    kind: "test",
    agent: "solo",
    plan: "",
    role: "single",
    cost: 1,
    createdAt: 1,
    ...extra,
  };
}

/**
 * Describe the conformance tests of a `StrategyMemory` backend. Await it at the top level of a
 * test file.
 *
 * @param setup - `{ name, create, destroy?, persistence? }`: open a memory for a context, dispose
 *   of it, and what it keeps across close and reopen.
 * @returns Once the tests are registered.
 * @throws MissingPeerDependencyError when vitest is not installed.
 *
 * @example
 * ```ts
 * // tests/memory/vectra.test.ts
 * import { rm } from "node:fs/promises";
 * import { join } from "node:path";
 * import { describeStrategyMemoryConformance } from "langchain-gavel/testing";
 * import { createVectraStrategyMemory } from "langchain-gavel/vectra";
 *
 * await describeStrategyMemoryConformance({
 *   name: "vectra on disk",
 *   create: ({ key, embeddings, maxEntries, now }) =>
 *     createVectraStrategyMemory({ folder: join(root, key), embeddings, maxEntries, now }),
 *   destroy: async (memory, { key }) => {
 *     await memory.close();
 *     await rm(join(root, key), { recursive: true, force: true });
 *   },
 *   persistence: { keepsSize: true, keepsOutcomes: true },
 * });
 * ```
 */
export async function describeStrategyMemoryConformance<Memory extends StrategyMemory>(
  setup: StrategyMemoryConformanceSetup<Memory>,
): Promise<void> {
  const { afterEach, describe, expect, it } = await loadVitest();
  const backends = createBackendTracker(setup);
  const persistence = setup.persistence ?? false;

  describe(`StrategyMemory conformance: ${setup.name}`, () => {
    async function open(options: { maxEntries?: number; now?: () => number; key?: string } = {}) {
      const key = options.key ?? nextConformanceKey(setup.name);
      const embeddings = new ScriptedHashingEmbeddings();
      const context: StrategyMemoryConformanceContext = {
        key,
        embeddings,
        ...(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries }),
        ...(options.now === undefined ? {} : { now: options.now }),
      };
      const memory = await backends.open(context);
      return { memory, key, embeddings };
    }

    afterEach(async () => {
      await backends.disposeAll();
    });

    it("is empty at first: search and pairs return nothing", async () => {
      const { memory } = await open();
      expect(await memory.size()).toBe(0);
      expect(await memory.search({ text: TASKS.math })).toEqual([]);
      expect(await memory.contrastivePairs(TASKS.math)).toEqual([]);
    });

    it("ranks entries by similarity of their task to the query, best first", async () => {
      const { memory, embeddings } = await open();
      await memory.add([
        single("math", TASKS.math),
        single("sort", TASKS.sort),
        single("translate", TASKS.translate),
        single("weather", TASKS.weather),
      ]);
      expect(await memory.size()).toBe(4);

      const hits = await memory.search({ text: "print the sum of two integers", k: 4 });
      expect(hits.map((hit) => hit.entry.id)[0]).toBe("math");
      expect(hits).toHaveLength(4);
      for (let index = 1; index < hits.length; index += 1) {
        expect(hits[index - 1]?.score ?? 0).toBeGreaterThanOrEqual(hits[index]?.score ?? 0);
      }
      expect(hits[0]?.score).toBeGreaterThan(0.4);

      const top2 = await memory.search({ text: "names in alphabetical order", k: 2 });
      expect(top2.map((hit) => hit.entry.id)[0]).toBe("sort");
      expect(top2).toHaveLength(2);

      const byVector = await memory.search({ vector: embeddings.vectorOf(TASKS.translate), k: 1 });
      expect(byVector[0]?.entry).toEqual(single("translate", TASKS.translate));
      expect(byVector[0]?.score).toBeCloseTo(1, 4);
    });

    it("applies agent, kind and role filters before ranking", async () => {
      const { memory } = await open();
      await memory.add([
        ...auction("a-math", TASKS.math, { kind: "gsm8k" }),
        ...auction("a-sort", TASKS.sort, { kind: "coding", winner: "small" }),
        single("s-math", TASKS.math, { kind: "gsm8k", agent: "solo" }),
      ]);
      const bySmall = await memory.search({ text: TASKS.math, k: 10, filter: { agent: "small" } });
      expect(bySmall.map((hit) => hit.entry.id)).toEqual(["a-math:small", "a-sort:small"]);

      const coding = await memory.search({ text: TASKS.math, k: 10, filter: { kind: "coding" } });
      expect(coding.map((hit) => hit.entry.id).sort()).toEqual(["a-sort:large", "a-sort:small"]);

      const winners = await memory.search({ text: TASKS.math, k: 10, filter: { role: "winning" } });
      expect(winners.map((hit) => hit.entry.id)).toEqual(["a-math:large", "a-sort:small"]);

      const both = await memory.search({ text: TASKS.math, k: 10, filter: { kind: "gsm8k", role: "single" } });
      expect(both.map((hit) => hit.entry.id)).toEqual(["s-math"]);

      expect(await memory.search({ text: TASKS.math, filter: { agent: "nobody" } })).toEqual([]);
    });

    it("filters by whether the outcome is set (hasOutcome), as outcomes are recorded and entries replaced", async () => {
      const { memory } = await open();
      await memory.add([...auction("a-math", TASKS.math), single("s-math", TASKS.math, { outcome: 1 })]);
      const ids = async (filter: StrategyFilter) =>
        (await memory.search({ text: TASKS.math, k: 10, filter })).map((hit) => hit.entry.id).sort();
      expect(await ids({ hasOutcome: true })).toEqual(["s-math"]);
      expect(await ids({ hasOutcome: false })).toEqual(["a-math:large", "a-math:small"]);
      expect(await ids({ agent: "large", hasOutcome: true })).toEqual([]);

      expect(await memory.recordOutcome("a-math:large", 0)).toBe(true);
      expect(await ids({ agent: "large", hasOutcome: true })).toEqual(["a-math:large"]);
      expect(await ids({ agent: "large", hasOutcome: false })).toEqual([]);
      expect(await ids({ hasOutcome: false })).toEqual(["a-math:small"]);

      // Added again without an outcome: the replacement has none.
      await memory.add(auction("a-math", TASKS.math).filter((entry) => entry.agent === "large"));
      expect(await ids({ agent: "large", hasOutcome: true })).toEqual([]);
      expect(await ids({ hasOutcome: true })).toEqual(["s-math"]);
    });

    it("breaks score ties by id", async () => {
      const { memory } = await open();
      await memory.add([single("b", TASKS.sort), single("c", TASKS.sort), single("a", TASKS.sort)]);
      const hits = await memory.search({ text: TASKS.sort, k: 3 });
      expect(hits.map((hit) => hit.entry.id)).toEqual(["a", "b", "c"]);
    });

    it("returns (losing, winning) pairs from the most similar auctions", async () => {
      const { memory } = await open();
      await memory.add([
        ...auction("a-sort", TASKS.sort),
        ...auction("a-math", TASKS.math),
        ...auction("a-translate", TASKS.translate, { winner: "small" }),
        single("s-math", TASKS.math),
      ]);
      const pairs = await memory.contrastivePairs("the sum of two integers", { k: 2 });
      expect(pairs).toHaveLength(2);
      const first = pairs[0];
      expect(first?.auctionId).toBe("a-math");
      expect(first?.losing).toMatchObject({
        id: "a-math:small",
        role: "losing",
        auctionId: "a-math",
        plan: "small plan for a-math",
      });
      expect(first?.winning).toMatchObject({ id: "a-math:large", role: "winning", auctionId: "a-math" });
      for (const pair of pairs) {
        expect(pair.losing.auctionId).toBe(pair.auctionId);
        expect(pair.winning.auctionId).toBe(pair.auctionId);
      }
      expect((pairs[0]?.score ?? 0) >= (pairs[1]?.score ?? 0)).toBe(true);

      const all = await memory.contrastivePairs(TASKS.math);
      expect(all).toHaveLength(3);
      expect(new Set(all.map((pair) => pair.auctionId))).toEqual(new Set(["a-math", "a-sort", "a-translate"]));

      const lostBySmall = await memory.contrastivePairs(TASKS.math, { agent: "small" });
      expect(lostBySmall.map((pair) => pair.auctionId).sort()).toEqual(["a-math", "a-sort"]);
      expect(lostBySmall.every((pair) => pair.losing.agent === "small")).toBe(true);
    });

    it("skips empty plans and single entries in pairs, and filters pairs by kind", async () => {
      const { memory } = await open();
      const withEmptyPlan = auction("a-empty", TASKS.math).map((entry) => ({ ...entry, plan: "" }));
      await memory.add([
        ...withEmptyPlan,
        ...auction("a-gsm", TASKS.math, { kind: "gsm8k" }),
        ...auction("a-code", TASKS.math, { kind: "coding" }),
        single("s", TASKS.math),
      ]);
      const pairs = await memory.contrastivePairs(TASKS.math, { k: 8 });
      expect(pairs.map((pair) => pair.auctionId).sort()).toEqual(["a-code", "a-gsm"]);
      const gsm = await memory.contrastivePairs(TASKS.math, { kind: "gsm8k" });
      expect(gsm.map((pair) => pair.auctionId)).toEqual(["a-gsm"]);
    });

    it("finds pairs beyond the first window of similar entries", async () => {
      const { memory } = await open();
      // 150 similar single entries crowd the top; the only auction is less similar.
      const crowd = Array.from({ length: 150 }, (_, index) => single(`crowd-${index}`, `${TASKS.math} ${index}`));
      await memory.add([...crowd, ...auction("a-far", TASKS.sort)]);
      const pairs = await memory.contrastivePairs(TASKS.math, { k: 1 });
      expect(pairs.map((pair) => pair.auctionId)).toEqual(["a-far"]);
    });

    it("records outcomes, also on entries that had none", async () => {
      const { memory } = await open();
      await memory.add(auction("a-math", TASKS.math));
      expect((await memory.get("a-math:large"))?.outcome).toBeUndefined();
      expect(await memory.recordOutcome("a-math:large", 1)).toBe(true);
      expect(await memory.recordOutcome("a-math:small", 0)).toBe(true);
      expect((await memory.get("a-math:large"))?.outcome).toBe(1);
      const hits = await memory.search({ text: TASKS.math, k: 2 });
      expect(Object.fromEntries(hits.map((hit) => [hit.entry.id, hit.entry.outcome]))).toEqual({
        "a-math:large": 1,
        "a-math:small": 0,
      });
      expect(await memory.recordOutcome("missing", 1)).toBe(false);
      await expect(memory.recordOutcome("a-math:large", Number.NaN)).rejects.toThrow(StrategyMemoryError);
    });

    it("keeps entries as given: metadata round-trips and callers cannot change stored entries", async () => {
      const { memory } = await open();
      const entry = single("m", TASKS.math, {
        outcome: 0.5,
        metadata: { tokens: 12, tags: ["a", "b"], nested: { x: 1 } },
      });
      await memory.add([entry]);
      const stored = await memory.get("m");
      expect(stored).toEqual(entry);
      if (stored?.metadata) stored.metadata.tokens = 99;
      expect((await memory.get("m"))?.metadata).toEqual({ tokens: 12, tags: ["a", "b"], nested: { x: 1 } });
    });

    it("replaces an entry added again with the same id", async () => {
      const { memory } = await open();
      await memory.add([single("x", TASKS.math)]);
      await memory.add([single("x", TASKS.sort, { plan: "new plan" })]);
      expect(await memory.size()).toBe(1);
      expect((await memory.get("x"))?.plan).toBe("new plan");
      const hits = await memory.search({ text: TASKS.sort, k: 5 });
      expect(hits.map((hit) => hit.entry.id)).toEqual(["x"]);
      expect(hits[0]?.entry.task).toBe(TASKS.sort);
    });

    it("bounds itself, evicting whole auctions least recently used first", async () => {
      const clock = createManualClock(100);
      const { memory } = await open({ maxEntries: 6, now: clock.now });
      clock.set(101);
      await memory.add(auction("a1", TASKS.math, { createdAt: 1 }));
      clock.set(102);
      await memory.add(auction("a2", TASKS.sort, { createdAt: 2 }));
      clock.set(103);
      await memory.add(auction("a3", TASKS.translate, { createdAt: 3 }));
      // a1 is retrieved, so a2 becomes the least recently used.
      clock.set(104);
      const hits = await memory.search({ text: TASKS.math, k: 1 });
      expect(hits[0]?.entry.auctionId).toBe("a1");
      clock.set(105);
      await memory.add(auction("a4", TASKS.weather, { createdAt: 4 }));
      expect(await memory.size()).toBe(6);
      expect(await memory.get("a2:small")).toBeUndefined();
      expect(await memory.get("a2:large")).toBeUndefined();
      for (const id of ["a1:small", "a1:large", "a3:small", "a3:large", "a4:small", "a4:large"]) {
        expect(await memory.get(id)).toBeDefined();
      }

      // Contrastive pairs count as use too: a3 is kept, a1 (used at 104) goes next.
      clock.set(106);
      const pairs = await memory.contrastivePairs(TASKS.translate, { k: 1 });
      expect(pairs[0]?.auctionId).toBe("a3");
      clock.set(107);
      await memory.add([single("s5", TASKS.math, { createdAt: 5 })]);
      expect(await memory.size()).toBe(5);
      expect(await memory.get("a1:small")).toBeUndefined();
      expect(await memory.get("a3:small")).toBeDefined();
    });

    it("looks pairs up without touching the eviction order (markUsed: false) until markUsed says so", async () => {
      const clock = createManualClock(100);
      const { memory } = await open({ maxEntries: 6, now: clock.now });
      clock.set(101);
      await memory.add(auction("a1", TASKS.math, { createdAt: 1 }));
      clock.set(102);
      await memory.add(auction("a2", TASKS.sort, { createdAt: 2 }));
      clock.set(103);
      await memory.add(auction("a3", TASKS.translate, { createdAt: 3 }));
      // Looking a1's pairs up without using them leaves a1 the least recently used.
      clock.set(104);
      const pairs = await memory.contrastivePairs(TASKS.math, { k: 1, markUsed: false });
      expect(pairs[0]?.auctionId).toBe("a1");
      clock.set(105);
      await memory.add(auction("a4", TASKS.weather, { createdAt: 4 }));
      expect(await memory.get("a1:small")).toBeUndefined();
      expect(await memory.get("a2:small")).toBeDefined();
      // markUsed then counts them: a2 (looked up, marked) is kept and a3 goes next.
      clock.set(106);
      const [pair] = await memory.contrastivePairs(TASKS.sort, { k: 1, markUsed: false });
      expect(pair?.auctionId).toBe("a2");
      clock.set(107);
      await memory.markUsed?.([pair?.losing.id ?? "", pair?.winning.id ?? "", "no-such-id"]);
      clock.set(108);
      await memory.add(auction("a5", TASKS.math, { createdAt: 5 }));
      expect(await memory.get("a2:small")).toBeDefined();
      expect(await memory.get("a3:small")).toBeUndefined();
    });

    it("keeps at most maxEntries when one add brings more", async () => {
      const clock = createManualClock(10);
      const { memory } = await open({ maxEntries: 3, now: clock.now });
      await memory.add(
        Array.from({ length: 5 }, (_, index) => single(`s${index}`, `${TASKS.math} ${index}`, { createdAt: index })),
      );
      expect(await memory.size()).toBe(3);
      // Same last use: the oldest created go first.
      expect(await memory.get("s0")).toBeUndefined();
      expect(await memory.get("s1")).toBeUndefined();
      expect(await memory.get("s4")).toBeDefined();
    });

    it("stores every entry of 100 concurrent add calls", async () => {
      const { memory, key } = await open({ maxEntries: 1_000 });
      const batches: NewStrategyEntry[][] = Array.from({ length: 100 }, (_, index) =>
        index % 2 === 0
          ? auction(`c${index}`, `${TASKS.math} number ${index}`)
          : [single(`c${index}`, `${TASKS.sort} number ${index}`)],
      );
      await Promise.all(batches.map((batch) => memory.add(batch)));
      const ids = batches.flat().map((entry) => entry.id);
      expect(await memory.size()).toBe(ids.length);
      for (const id of ids) expect((await memory.get(id))?.id).toBe(id);
      const everything = await memory.search({ text: TASKS.math, k: 500 });
      expect(new Set(everything.map((hit) => hit.entry.id))).toEqual(new Set(ids));

      if (persistence !== false && persistence.keepsSize) {
        await memory.close();
        const { memory: reopened } = await open({ key, maxEntries: 1_000 });
        expect(await reopened.size()).toBe(ids.length);
        for (const id of ids) expect((await reopened.get(id))?.id).toBe(id);
      }
    });

    it("rejects invalid entries and queries with StrategyMemoryError", async () => {
      const { memory } = await open();
      const bad = { ...single("x", TASKS.math), role: "champion" } as unknown as StrategyEntry;
      await expect(memory.add([bad])).rejects.toMatchObject({ name: "StrategyMemoryError", reason: "invalid_entry" });
      const typo = { ...single("y", TASKS.math), outcom: 1 } as unknown as StrategyEntry;
      await expect(memory.add([typo])).rejects.toMatchObject({ reason: "invalid_entry" });
      await expect(memory.search({ text: "a", vector: [1, 0] })).rejects.toMatchObject({ reason: "invalid_query" });
      await expect(memory.search({})).rejects.toMatchObject({ reason: "invalid_query" });
      await expect(memory.search({ text: "a", k: 0 })).rejects.toMatchObject({ reason: "invalid_query" });
      await expect(memory.contrastivePairs("a", { k: -1 })).rejects.toMatchObject({ reason: "invalid_query" });
      expect(await memory.size()).toBe(0);
    });

    it("wraps embedder failures and stores nothing of a failed add", async () => {
      const { memory, embeddings } = await open();
      embeddings.failNext = new Error("model exploded");
      const failure = await memory.add([single("x", TASKS.math)]).catch((error: unknown) => error);
      expect(StrategyMemoryError.isInstance(failure)).toBe(true);
      expect(failure).toMatchObject({ reason: "embedder" });
      expect((failure as Error).cause).toMatchObject({ message: "model exploded" });
      expect(await memory.size()).toBe(0);
      await memory.add([single("x", TASKS.math)]);
      expect(await memory.size()).toBe(1);
    });

    it("uses a given vector instead of the embedder", async () => {
      const { memory, embeddings } = await open();
      await memory.add([{ ...single("v", "text that is never embedded"), vector: embeddings.vectorOf(TASKS.weather) }]);
      expect(embeddings.calls.flat()).not.toContain("text that is never embedded");
      const hits = await memory.search({ text: TASKS.weather, k: 1 });
      expect(hits[0]?.entry.id).toBe("v");
    });

    it("finishes pending writes on close, then refuses calls", async () => {
      const { memory } = await open();
      const pending = memory.add(auction("a", TASKS.math));
      await memory.close();
      await pending;
      await memory.close();
      await expect(memory.search({ text: "x" })).rejects.toMatchObject({
        name: "StrategyMemoryError",
        reason: "closed",
      });
      await expect(memory.add([])).rejects.toMatchObject({ reason: "closed" });
      await expect(memory.size()).rejects.toMatchObject({ reason: "closed" });
    });

    if (persistence !== false) {
      const { keepsSize, keepsOutcomes } = persistence;

      it("keeps its entries across close and reopen", async () => {
        const clock = createManualClock(500);
        const { memory, key } = await open({ now: clock.now });
        await memory.add([
          ...auction("a-math", TASKS.math),
          ...auction("a-sort", TASKS.sort),
          single("s", TASKS.weather, { metadata: { n: 1 } }),
        ]);
        await memory.recordOutcome("a-math:large", 1);
        await memory.close();

        const { memory: reopened } = await open({ key, now: clock.now });
        const hits = await reopened.search({ text: TASKS.math, k: 2 });
        expect(hits.map((hit) => hit.entry.id).sort()).toEqual(["a-math:large", "a-math:small"]);
        const pairs = await reopened.contrastivePairs(TASKS.sort, { k: 1 });
        expect(pairs[0]?.auctionId).toBe("a-sort");
        const weather = await reopened.search({ text: TASKS.weather, k: 1 });
        expect(weather[0]?.entry).toEqual(single("s", TASKS.weather, { metadata: { n: 1 } }));
        if (keepsOutcomes) {
          const large = (await reopened.search({ text: TASKS.math, k: 2, filter: { role: "winning" } }))[0];
          expect(large?.entry.outcome).toBe(1);
          const scored = await reopened.search({ text: TASKS.math, k: 5, filter: { hasOutcome: true } });
          expect(scored.map((hit) => hit.entry.id)).toEqual(["a-math:large"]);
        }
        if (keepsSize) {
          expect(await reopened.size()).toBe(5);
          expect((await reopened.get("a-math:large"))?.outcome).toBe(1);
        }
      });

      if (keepsSize) {
        it("keeps the eviction order across close and reopen", async () => {
          const clock = createManualClock(100);
          const { memory, key } = await open({ maxEntries: 4, now: clock.now });
          clock.set(101);
          await memory.add(auction("a1", TASKS.math));
          clock.set(102);
          await memory.add(auction("a2", TASKS.sort));
          clock.set(103);
          await memory.search({ text: TASKS.math, k: 1 });
          await memory.close();

          const { memory: reopened } = await open({ key, maxEntries: 4, now: clock.now });
          clock.set(104);
          await reopened.add(auction("a3", TASKS.translate));
          expect(await reopened.get("a1:small")).toBeDefined();
          expect(await reopened.get("a2:small")).toBeUndefined();
        });
      }
    }
  });
}
