/**
 * What every conformance suite of `langchain-gavel/testing` shares: the one setup shape a backend
 * author passes (`{ name, create, destroy }`, the way LangGraph's checkpointer validation takes an
 * initializer), the keys that tell one backend's data from another's, and the lazy loading of
 * vitest.
 *
 * vitest is an optional peer of langchain-gavel, needed by the suites only. It is imported when a
 * suite is described, never when `langchain-gavel/testing` is imported, so the entry point (and its
 * `ScriptedChatModel`) loads in any process: a plain Node script, a Jest run, an app without vitest.
 * That is why the suites are async: a test file awaits them at its top level, and vitest collects
 * the tests they register (a test file's top-level await finishes before collection ends). The
 * loading lives in `./vitest.ts`, which no declaration file reaches, so the types of
 * `langchain-gavel/testing` do not need vitest either.
 */
/**
 * What a suite hands to `create`: at least a key, unique within the test run, that names the data
 * of one backend instance (a file name, a schema, a folder). Calling `create` again with the same
 * key after `close()` must reach the same data, for backends that persist.
 */
export interface ConformanceContext {
  /** Unique in the run; safe in file and folder names (letters, digits, `-`). */
  readonly key: string;
}

/**
 * How a suite opens and disposes of the backend under test: the same shape for every suite.
 *
 * @typeParam Backend - What `create` returns (a `LedgerWriter`, an `AuctionLedger`, a `StrategyMemory`).
 * @typeParam Context - What `create` is given; `{ key }` for the ledger suites, more for the memory suite.
 *
 * @example
 * ```ts
 * import { rmSync } from "node:fs";
 * import { join } from "node:path";
 * import { describeAuctionLedgerConformance } from "langchain-gavel/testing";
 * import { createSqliteLedger } from "langchain-gavel/sqlite";
 *
 * await describeAuctionLedgerConformance({
 *   name: "SQLite file",
 *   create: ({ key }) => createSqliteLedger({ path: join(folder, `${key}.db`) }),
 *   destroy: async (ledger, { key }) => {
 *     await ledger.close();
 *     rmSync(join(folder, `${key}.db`), { force: true });
 *   },
 * });
 * ```
 */
export interface ConformanceSetup<Backend, Context extends ConformanceContext = ConformanceContext> {
  /** Shown in the describe block, e.g. `"SQLite :memory:"`. */
  name: string;
  /** A backend on fresh, empty data for `context.key` (or on the data an earlier one left at the same key). */
  create(context: Context): Backend | Promise<Backend>;
  /**
   * Called once for every backend the suite created, after its test: close it and remove what it
   * stored. The suite may have closed it already, so closing must be harmless the second time.
   * Default: `backend.close()`.
   */
  destroy?(backend: Backend, context: Context): void | Promise<void>;
}

let keyCounter = 0;

/** A key unique in this process (and across processes sharing a folder): the suite's name, the pid, a counter. */
export function nextConformanceKey(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 40);
  keyCounter += 1;
  return `${slug || "backend"}-${process.pid}-${Date.now().toString(36)}-${keyCounter}`;
}

/**
 * A small seeded pseudo-random generator (mulberry32): the suites draw their random cases from it,
 * so a failure replays with the same seed and the package needs no property-testing library.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Anything a suite can dispose of by default. */
interface Closable {
  close(): Promise<void> | void;
}

/**
 * The backends one test opened, disposed of after it (newest first, so a backend reopened on the
 * same key is closed before the first one's data is removed). Every disposal runs; their failures
 * are thrown together.
 */
export function createBackendTracker<Backend extends Closable, Context extends ConformanceContext>(
  setup: ConformanceSetup<Backend, Context>,
): { open(context: Context): Promise<Backend>; disposeAll(): Promise<void> } {
  const opened: Array<{ backend: Backend; context: Context }> = [];
  const destroy = setup.destroy ?? ((backend: Backend) => backend.close());
  return {
    async open(context) {
      const backend = await setup.create(context);
      opened.push({ backend, context });
      return backend;
    },
    async disposeAll() {
      const errors: unknown[] = [];
      for (const { backend, context } of opened.splice(0).reverse()) {
        try {
          await destroy(backend, context);
        } catch (error) {
          errors.push(error);
        }
      }
      if (errors.length > 0)
        throw new AggregateError(errors, `${setup.name}: ${errors.length} backend(s) failed to dispose`);
    },
  };
}
