/**
 * The conformance suites of the auction ledger, in two halves like the interface:
 *
 * - {@link describeLedgerWriterConformance} checks a {@link LedgerWriter} through what the writer
 *   itself answers, so a backend that has only the writer (a new PostgreSQL one, say) runs it
 *   before it has a single query. Its probe is the contract's uniqueness rule: recording an id
 *   again is refused exactly when the first write was stored, and an outcome is accepted exactly
 *   when its auction was stored. So "a failed batch wrote nothing" is checked by writing the same
 *   ids again and seeing them accepted, "a resolved write was stored" by seeing the same id refused.
 * - {@link describeLedgerReaderConformance} checks a {@link LedgerReader}: what a writer recorded
 *   reads back field by field, and every query's grouping, order and filters. It needs both halves
 *   (an {@link AuctionLedger}) on one backend, since its data is written through the writer.
 * - {@link describeAuctionLedgerConformance} runs both.
 *
 * Every test gets a fresh, empty backend from `create({ key })`, disposed of afterwards by
 * `destroy` (default `close()`). Times are passed explicitly, so no clock seam is needed. vitest is
 * loaded when a suite is described, not when `langchain-gavel/testing` is imported.
 */
import { LedgerError, type LedgerOperation } from "../ledger/errors.js";
import { hashTask } from "../ledger/task-hash.js";
import type { AuctionInput, AuctionLedger, ChargeInput, LedgerWriter } from "../ledger/types.js";
import type { AuctionOutcome, BidResult, MechanismName } from "../market/types.js";
import {
  type ConformanceContext,
  type ConformanceSetup,
  createBackendTracker,
  nextConformanceKey,
  seededRandom,
} from "./conformance.js";
import { loadVitest } from "./vitest.js";

/**
 * How the ledger suites open and dispose of a backend: `create({ key })` returns a fresh, empty
 * ledger (the key is unique in the run, e.g. a file or schema name); `destroy(ledger, { key })`
 * closes it and removes what it stored (default `ledger.close()`).
 *
 * @example
 * ```ts
 * const setup: LedgerConformanceSetup<SqliteLedger> = {
 *   name: "SQLite :memory:",
 *   create: () => createSqliteLedger({ path: ":memory:" }),
 * };
 * ```
 */
export type LedgerConformanceSetup<Ledger extends LedgerWriter = LedgerWriter> = ConformanceSetup<
  Ledger,
  ConformanceContext
>;

/** One bid of {@link createSampleOutcome}. */
export interface SampleBid {
  bidder: string;
  amount: number;
  tokens?: number;
  meta?: Record<string, unknown>;
}

/**
 * A cleared auction outcome to record in tests, without running a mechanism: the `winners`
 * highest amounts win (ties by bidder id) and each pays the next amount (second-price style), or
 * the reserve price when no bid is left.
 *
 * @example
 * ```ts
 * const outcome = createSampleOutcome({ bids: [{ bidder: "small", amount: 0.4 }, { bidder: "large", amount: 0.9 }] });
 * outcome.winners; // ["large"]
 * outcome.clearingPrice; // 0.4
 * await ledger.recordAuction({ kind: "route", outcome });
 * ```
 */
export function createSampleOutcome({
  bids,
  winners = 1,
  mechanism = "second_price",
  seed = 7,
  reservePrice = 0,
}: {
  bids: readonly SampleBid[];
  winners?: number;
  mechanism?: MechanismName;
  seed?: number;
  reservePrice?: number;
}): AuctionOutcome {
  const ranked = [...bids].sort((left, right) => right.amount - left.amount || left.bidder.localeCompare(right.bidder));
  const price = ranked[winners]?.amount ?? reservePrice;
  const results: BidResult[] = ranked.map((bid, index) => {
    const won = index < winners;
    const result: BidResult = {
      bidder: bid.bidder,
      amount: bid.amount,
      won,
      rank: index + 1,
      price: won ? price : 0,
      reason: won ? "won" : "outranked",
      detail: won ? `${bid.bidder} bid highest and pays ${price}.` : `${bid.bidder} was outranked.`,
    };
    if (bid.tokens !== undefined) result.tokens = bid.tokens;
    if (bid.meta !== undefined) result.meta = bid.meta;
    return result;
  });
  return {
    mechanism,
    winners: results.filter((result) => result.won).map((result) => result.bidder),
    results,
    clearingPrice: results.some((result) => result.won) ? price : 0,
    seed,
    reservePrice,
  };
}

function auction(id: string, createdAt: number, bids: Record<string, number>, extra: Partial<AuctionInput> = {}) {
  const outcome = createSampleOutcome({ bids: Object.entries(bids).map(([bidder, amount]) => ({ bidder, amount })) });
  return { id, kind: "route", createdAt, outcome, ...extra } satisfies AuctionInput;
}

function charge(extra: Partial<ChargeInput> & Pick<ChargeInput, "model">): ChargeInput {
  return { kind: "settle", inputTokens: 100, outputTokens: 10, usd: 0.001, at: 1_000, ...extra };
}

/** An outcome whose bids name the same bidder twice: a write every backend must refuse whole. */
function tornOutcome(): AuctionOutcome {
  const outcome = createSampleOutcome({ bids: [{ bidder: "twin", amount: 1 }] });
  const [first] = outcome.results;
  if (first === undefined) throw new Error("sample outcome has no results");
  outcome.results.push({ ...first, rank: 2 });
  return outcome;
}

/** What a rejected promise rejected with. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to reject, but it resolved");
}

/** True when `error` is a `LedgerError` for `operation`. */
function isLedgerError(error: unknown, operation: LedgerOperation): boolean {
  return LedgerError.isInstance(error) && error.operation === operation;
}

/**
 * Describe the conformance tests of a {@link LedgerWriter}. Await it at the top level of a test
 * file. It reads nothing back (a backend with only the writer runs it): every check goes through
 * what the writer answers. Ids it resolved to are refused when recorded again (so they were
 * stored), ids of a refused write or batch are accepted afterwards (so nothing of it was stored),
 * and an outcome is accepted only for a stored auction.
 *
 * @param setup - `{ name, create, destroy? }`: a fresh, empty writer per test, and how to dispose of it.
 * @returns Once the tests are registered.
 * @throws MissingPeerDependencyError when vitest is not installed.
 *
 * @example
 * ```ts
 * // tests/postgres-ledger.int.test.ts of a backend that has only the writer so far
 * import { describeLedgerWriterConformance } from "langchain-gavel/testing";
 * import { createPostgresLedgerWriter } from "../src/index.js";
 *
 * await describeLedgerWriterConformance({
 *   name: "PostgreSQL",
 *   create: async ({ key }) => createPostgresLedgerWriter({ connectionString: process.env.PG_URL, schema: key }),
 *   destroy: async (writer, { key }) => {
 *     await writer.close();
 *     await dropSchema(key);
 *   },
 * });
 * ```
 */
export async function describeLedgerWriterConformance<Ledger extends LedgerWriter>(
  setup: LedgerConformanceSetup<Ledger>,
): Promise<void> {
  const { afterEach, beforeEach, describe, expect, it } = await loadVitest();
  const backends = createBackendTracker(setup);

  describe(`LedgerWriter conformance: ${setup.name}`, () => {
    let ledger: Ledger;
    beforeEach(async () => {
      ledger = await backends.open({ key: nextConformanceKey(setup.name) });
    });
    afterEach(async () => {
      await backends.disposeAll();
    });

    describe("auctions", () => {
      it("resolves to the given id, or to a fresh id when none is given", async () => {
        const outcome = createSampleOutcome({ bids: [{ bidder: "a", amount: 1 }] });
        expect(await ledger.recordAuction({ id: "given", kind: "route", outcome })).toBe("given");
        const first = await ledger.recordAuction({ kind: "demo", outcome });
        const second = await ledger.recordAuction({ kind: "demo", outcome });
        for (const id of [first, second]) {
          expect(typeof id).toBe("string");
          expect(id.length).toBeGreaterThan(0);
        }
        expect(new Set(["given", first, second]).size).toBe(3);
      });

      it("stores what it resolved: the same id again is refused with a LedgerError, a generated one too", async () => {
        await ledger.recordAuction(auction("dup", 1, { a: 1, b: 2 }));
        expect(
          isLedgerError(await rejectionOf(ledger.recordAuction(auction("dup", 2, { c: 3 }))), "recordAuction"),
        ).toBe(true);
        const generated = await ledger.recordAuction({ kind: "demo", outcome: auction("x", 1, { a: 1 }).outcome });
        await expect(ledger.recordAuction(auction(generated, 3, { a: 1 }))).rejects.toSatisfy((error: unknown) =>
          isLedgerError(error, "recordAuction"),
        );
      });

      it("accepts every optional field, and an auction with none", async () => {
        const outcome = createSampleOutcome({
          bids: [
            {
              bidder: "small",
              amount: 0.4,
              tokens: 120,
              meta: { plan: "use a calculator", nested: { steps: [1, 2] } },
            },
            { bidder: "large", amount: 0.9, tokens: 300 },
          ],
          seed: 42,
          reservePrice: 0.1,
        });
        await ledger.recordAuction({
          id: "full",
          kind: "route",
          createdAt: 1_700_000_000_000,
          outcome,
          scope: { kind: "run", id: "run-1" },
          task: "What is 2 + 2?",
          values: { large: 2.5, small: 1.25 },
          metadata: { round: 1, tags: ["math"] },
        });
        await ledger.recordAuction({ ...auction("hashed", 1, { a: 1 }), taskHash: "abc123" });
        await ledger.recordAuction({ id: "bare", kind: "custom-kind", outcome: auction("bare", 1, { a: 1 }).outcome });
        const nobody = createSampleOutcome({ bids: [{ bidder: "a", amount: 1 }], winners: 0 });
        await ledger.recordAuction({ id: "nobody", kind: "debate", createdAt: 5, outcome: nobody });
        // Stored: each of them takes an outcome.
        for (const auctionId of ["full", "hashed", "bare", "nobody"]) {
          await ledger.recordOutcome({ auctionId, correct: true, recordedAt: 9 });
        }
      });

      it("writes an auction and its bids atomically: a refused auction leaves nothing", async () => {
        const error = await rejectionOf(ledger.recordAuction({ id: "torn", kind: "route", outcome: tornOutcome() }));
        expect(isLedgerError(error, "recordAuction")).toBe(true);
        await expect(ledger.recordOutcome({ auctionId: "torn", correct: true })).rejects.toSatisfy((caught: unknown) =>
          isLedgerError(caught, "recordOutcome"),
        );
        expect(await ledger.recordAuction(auction("torn", 1, { a: 1 }))).toBe("torn");
      });

      it("writes a batch in order, all or nothing", async () => {
        const good = Array.from({ length: 50 }, (_, index) => auction(`batch-${index}`, index, { a: index, b: 1 }));
        expect(await ledger.recordAuctions(good)).toEqual(good.map((input) => input.id));

        const bad = [
          auction("fresh-1", 100, { a: 1 }),
          auction("batch-3", 101, { a: 1 }),
          auction("fresh-2", 102, { a: 1 }),
        ];
        expect(isLedgerError(await rejectionOf(ledger.recordAuctions(bad)), "recordAuctions")).toBe(true);
        const twice = [auction("fresh-3", 100, { a: 1 }), auction("fresh-3", 101, { a: 1 })];
        expect(isLedgerError(await rejectionOf(ledger.recordAuctions(twice)), "recordAuctions")).toBe(true);
        const torn = [auction("fresh-4", 100, { a: 1 }), { id: "fresh-5", kind: "route", outcome: tornOutcome() }];
        expect(isLedgerError(await rejectionOf(ledger.recordAuctions(torn)), "recordAuctions")).toBe(true);
        // None of the refused batches' new ids was stored.
        const retry = ["fresh-1", "fresh-2", "fresh-3", "fresh-4", "fresh-5"].map((id) => auction(id, 200, { a: 1 }));
        expect(await ledger.recordAuctions(retry)).toEqual(retry.map((input) => input.id));
      });

      it("accepts empty batches", async () => {
        expect(await ledger.recordAuctions([])).toEqual([]);
        expect(await ledger.recordCharges([])).toEqual([]);
      });

      it("stores every one of many concurrent writes", async () => {
        const inputs = Array.from({ length: 40 }, (_, index) => auction(`concurrent-${index}`, index, { a: 1, b: 2 }));
        const ids = await Promise.all(inputs.map((input) => ledger.recordAuction(input)));
        expect(ids).toEqual(inputs.map((input) => input.id));
        const again = await Promise.allSettled(inputs.map((input) => ledger.recordAuction(input)));
        expect(again.every((result) => result.status === "rejected")).toBe(true);
      });
    });

    describe("charges", () => {
      it("resolves to the given ids or fresh ones, a batch in order", async () => {
        expect(await ledger.recordCharge(charge({ id: "c-0", model: "m" }))).toBe("c-0");
        const ids = await ledger.recordCharges([
          charge({ id: "c-1", model: "m" }),
          charge({ model: "m" }),
          charge({ id: "c-3", model: "m" }),
        ]);
        expect(ids).toHaveLength(3);
        expect(ids[0]).toBe("c-1");
        expect(ids[2]).toBe("c-3");
        expect(new Set(["c-0", ...ids]).size).toBe(4);
      });

      it("stores what it resolved: the same charge id again is refused", async () => {
        const id = await ledger.recordCharge(charge({ model: "m" }));
        expect(isLedgerError(await rejectionOf(ledger.recordCharge(charge({ id, model: "m" }))), "recordCharge")).toBe(
          true,
        );
      });

      it("records every kind and field, and a charge linked to an auction recorded later", async () => {
        const kinds = ["reserve", "settle", "release", "refuse"] as const;
        const ids = await ledger.recordCharges(
          kinds.map((kind, index) =>
            charge({
              kind,
              model: "large",
              agent: "planner",
              scope: { kind: "run", id: "r1" },
              estimated: index % 2 === 0,
              auctionId: "later",
              reservationId: "res-1",
              label: "plan",
              at: index,
              metadata: { n: index },
            }),
          ),
        );
        expect(ids).toHaveLength(4);
        expect(await ledger.recordAuction(auction("later", 10, { a: 1 }))).toBe("later");
      });

      it("refuses invalid charges with a LedgerError and writes none of the batch", async () => {
        const negative = charge({ id: "negative", model: "m", inputTokens: -5 });
        expect(isLedgerError(await rejectionOf(ledger.recordCharge(negative)), "recordCharge")).toBe(true);
        const unknownKind = { ...charge({ model: "m" }), kind: "refund" } as unknown as ChargeInput;
        const batch = [charge({ id: "c-ok", model: "ok", at: 1 }), unknownKind];
        expect(isLedgerError(await rejectionOf(ledger.recordCharges(batch)), "recordCharges")).toBe(true);
        // Neither was stored: their ids are free.
        expect(
          await ledger.recordCharges([charge({ id: "c-ok", model: "ok" }), charge({ id: "negative", model: "m" })]),
        ).toEqual(["c-ok", "negative"]);
      });
    });

    describe("outcomes", () => {
      it("records an outcome of a recorded auction, and a second one replacing it", async () => {
        await ledger.recordAuction(auction("graded", 1, { a: 1 }));
        await ledger.recordOutcome({ auctionId: "graded", correct: false, recordedAt: 5, label: "first try" });
        await ledger.recordOutcome({
          auctionId: "graded",
          correct: true,
          score: 0.75,
          label: "regraded",
          recordedAt: 9,
          metadata: { checker: "exact" },
        });
        await ledger.recordOutcome({ auctionId: "graded", score: 0.3 });
      });

      it("refuses an outcome for an auction that is not recorded", async () => {
        const error = await rejectionOf(ledger.recordOutcome({ auctionId: "ghost", correct: true }));
        expect(isLedgerError(error, "recordOutcome")).toBe(true);
      });
    });

    describe("budgets", () => {
      it("records budget definitions, the same scope again replacing the first", async () => {
        await ledger.recordBudget({ scope: { kind: "run", id: "r1" }, limits: { maxTokens: 1000 }, definedAt: 1 });
        await ledger.recordBudget({ scope: { kind: "global", id: "*" }, limits: { maxUsd: 5 }, label: "all" });
        await ledger.recordBudget({ scope: { kind: "run", id: "r1" }, limits: { maxTokens: 2000, maxUsd: 1 } });
      });

      it("records snapshots, an empty one too", async () => {
        const account = {
          scope: "global" as const,
          scopeId: "*",
          limits: { maxUsd: 5 },
          spentTokens: 10,
          spentUsd: 0.1,
          reservedTokens: 0,
          reservedUsd: 0,
        };
        await ledger.recordBudgetSnapshot({ accounts: [account], takenAt: 10 });
        await ledger.recordBudgetSnapshot({
          accounts: [{ ...account, scope: "run", scopeId: "r1", limits: { maxTokens: 500 } }, account],
          label: "end",
        });
        await ledger.recordBudgetSnapshot({ accounts: [] });
      });
    });

    it("refuses every write after close, and closing twice is harmless", async () => {
      await ledger.close();
      await ledger.close();
      const outcome = auction("late", 1, { a: 1 }).outcome;
      const account = {
        scope: "global" as const,
        scopeId: "*",
        limits: {},
        spentTokens: 0,
        spentUsd: 0,
        reservedTokens: 0,
        reservedUsd: 0,
      };
      const calls = [
        ledger.recordAuction({ kind: "route", outcome }),
        ledger.recordAuctions([{ kind: "route", outcome }]),
        ledger.recordCharge(charge({ model: "m" })),
        ledger.recordCharges([charge({ model: "m" })]),
        ledger.recordOutcome({ auctionId: "late", correct: true }),
        ledger.recordBudget({ scope: { kind: "global", id: "*" }, limits: { maxTokens: 1 } }),
        ledger.recordBudgetSnapshot({ accounts: [account] }),
      ];
      for (const call of calls) expect(LedgerError.isInstance(await rejectionOf(call))).toBe(true);
    });
  });
}

/**
 * Describe the conformance tests of a {@link LedgerReader}: everything a writer recorded reads back
 * field by field, and every query groups, orders and filters as documented. Await it at the top
 * level of a test file. The data is written through the same backend's writer, so the backend must
 * have both halves (an {@link AuctionLedger}); run {@link describeLedgerWriterConformance} too (or
 * {@link describeAuctionLedgerConformance}, both).
 *
 * @param setup - `{ name, create, destroy? }`: a fresh, empty ledger per test, and how to dispose of it.
 * @returns Once the tests are registered.
 * @throws MissingPeerDependencyError when vitest is not installed.
 *
 * @example
 * ```ts
 * // tests/my-ledger.test.ts
 * import { describeLedgerReaderConformance, describeLedgerWriterConformance } from "langchain-gavel/testing";
 * import { createMyLedger } from "../src/index.js";
 *
 * const setup = { name: "my ledger", create: () => createMyLedger({ inMemory: true }) };
 * await describeLedgerWriterConformance(setup);
 * await describeLedgerReaderConformance(setup);
 * ```
 */
export async function describeLedgerReaderConformance<Ledger extends AuctionLedger>(
  setup: LedgerConformanceSetup<Ledger>,
): Promise<void> {
  const { afterEach, beforeEach, describe, expect, it } = await loadVitest();
  const backends = createBackendTracker(setup);
  const open = () => backends.open({ key: nextConformanceKey(setup.name) });

  describe(`LedgerReader conformance: ${setup.name}`, () => {
    let ledger: Ledger;
    beforeEach(async () => {
      ledger = await open();
    });
    afterEach(async () => {
      await backends.disposeAll();
    });

    describe("auctions and bids", () => {
      it("reads back an auction with every field and its bids in rank order", async () => {
        const outcome = createSampleOutcome({
          bids: [
            {
              bidder: "small",
              amount: 0.4,
              tokens: 120,
              meta: { plan: "use a calculator", nested: { steps: [1, 2] } },
            },
            { bidder: "large", amount: 0.9, tokens: 300 },
            { bidder: "medium", amount: 0.6 },
          ],
          seed: 42,
          reservePrice: 0.1,
        });
        const id = await ledger.recordAuction({
          id: "auction-1",
          kind: "route",
          createdAt: 1_700_000_000_000,
          outcome,
          scope: { kind: "run", id: "run-1" },
          task: "What is 2 + 2?",
          values: { large: 2.5, small: 1.25 },
          metadata: { round: 1, tags: ["math"] },
        });
        expect(id).toBe("auction-1");

        const record = await ledger.getAuction("auction-1");
        expect(record).toEqual({
          id: "auction-1",
          createdAt: 1_700_000_000_000,
          kind: "route",
          mechanism: "second_price",
          scope: { kind: "run", id: "run-1" },
          task: "What is 2 + 2?",
          taskHash: hashTask("What is 2 + 2?"),
          clearingPrice: 0.6,
          seed: 42,
          reservePrice: 0.1,
          winners: ["large"],
          bidCount: 3,
          metadata: { round: 1, tags: ["math"] },
          bids: [
            {
              bidder: "large",
              amount: 0.9,
              value: 2.5,
              tokens: 300,
              won: true,
              rank: 1,
              price: 0.6,
              reason: "won",
              detail: "large bid highest and pays 0.6.",
            },
            {
              bidder: "medium",
              amount: 0.6,
              won: false,
              rank: 2,
              price: 0,
              reason: "outranked",
              detail: "medium was outranked.",
            },
            {
              bidder: "small",
              amount: 0.4,
              value: 1.25,
              tokens: 120,
              won: false,
              rank: 3,
              price: 0,
              reason: "outranked",
              detail: "small was outranked.",
              meta: { plan: "use a calculator", nested: { steps: [1, 2] } },
            },
          ],
          charges: [],
        });
      });

      it("generates distinct ids when none is given", async () => {
        const outcome = createSampleOutcome({ bids: [{ bidder: "a", amount: 1 }] });
        const first = await ledger.recordAuction({ kind: "demo", outcome });
        const second = await ledger.recordAuction({ kind: "demo", outcome });
        expect(first).not.toBe(second);
        expect((await ledger.getAuction(first))?.bids).toHaveLength(1);
        expect((await ledger.getAuction(second))?.bids).toHaveLength(1);
      });

      it("keeps an explicit task hash and stores an auction without task or scope", async () => {
        await ledger.recordAuction({ ...auction("hashed", 1, { a: 1 }), taskHash: "abc123" });
        await ledger.recordAuction(auction("bare", 2, { a: 1 }));
        const hashed = await ledger.getAuction("hashed");
        expect(hashed?.taskHash).toBe("abc123");
        expect(hashed?.task).toBeUndefined();
        const bare = await ledger.getAuction("bare");
        expect(bare?.scope).toBeUndefined();
        expect(bare?.taskHash).toBeUndefined();
      });

      it("stores an auction nobody won", async () => {
        const outcome = createSampleOutcome({ bids: [{ bidder: "a", amount: 1 }], winners: 0 });
        await ledger.recordAuction({ id: "empty", kind: "debate", createdAt: 5, outcome });
        const record = await ledger.getAuction("empty");
        expect(record?.winners).toEqual([]);
        expect(record?.clearingPrice).toBe(0);
        expect(record?.bids.map((bid) => bid.won)).toEqual([false]);
      });

      it("returns undefined for an unknown auction", async () => {
        expect(await ledger.getAuction("nope")).toBeUndefined();
      });

      it("keeps the first of two auctions recorded with the same id", async () => {
        await ledger.recordAuction(auction("dup", 1, { a: 1, b: 2 }));
        const error = await ledger.recordAuction(auction("dup", 2, { c: 3 })).catch((caught: unknown) => caught);
        expect(LedgerError.isInstance(error)).toBe(true);
        expect((error as LedgerError).operation).toBe("recordAuction");
        const record = await ledger.getAuction("dup");
        expect(record?.createdAt).toBe(1);
        expect(record?.bids.map((bid) => bid.bidder)).toEqual(["b", "a"]);
      });

      it("writes an auction and its bids atomically (a bad bid leaves no auction)", async () => {
        const outcome = createSampleOutcome({ bids: [{ bidder: "twin", amount: 1 }] });
        const [first] = outcome.results;
        if (first === undefined) throw new Error("sample outcome has no results");
        outcome.results.push({ ...first, rank: 2 }); // the same bidder twice
        await expect(ledger.recordAuction({ id: "torn", kind: "route", outcome })).rejects.toSatisfy((error: unknown) =>
          LedgerError.isInstance(error),
        );
        expect(await ledger.getAuction("torn")).toBeUndefined();
        expect(await ledger.recentAuctions()).toEqual([]);
      });

      it("writes a batch of auctions all or nothing", async () => {
        const good = Array.from({ length: 50 }, (_, index) => auction(`batch-${index}`, index, { a: index, b: 1 }));
        expect(await ledger.recordAuctions(good)).toEqual(good.map((input) => input.id));
        expect(await ledger.recentAuctions({ limit: 100 })).toHaveLength(50);

        const bad = [
          auction("fresh-1", 100, { a: 1 }),
          auction("batch-3", 101, { a: 1 }),
          auction("fresh-2", 102, { a: 1 }),
        ];
        const error = await ledger.recordAuctions(bad).catch((caught: unknown) => caught);
        expect(LedgerError.isInstance(error)).toBe(true);
        expect((error as LedgerError).operation).toBe("recordAuctions");
        expect(await ledger.getAuction("fresh-1")).toBeUndefined();
        expect(await ledger.getAuction("fresh-2")).toBeUndefined();
        expect(await ledger.recentAuctions({ limit: 100 })).toHaveLength(50);
      });
    });

    describe("charges", () => {
      it("links charges to their auction, oldest first, even when recorded before it", async () => {
        const early = await ledger.recordCharge(
          charge({ model: "small", agent: "planner", auctionId: "a1", at: 10, label: "plan", reservationId: "r1" }),
        );
        await ledger.recordAuction(auction("a1", 20, { small: 1, large: 2 }));
        await ledger.recordCharge(
          charge({ model: "large", auctionId: "a1", at: 30, estimated: true, metadata: { n: 1 } }),
        );
        await ledger.recordCharge(charge({ model: "large", auctionId: "other", at: 15 }));

        const record = await ledger.getAuction("a1");
        expect(record?.charges).toEqual([
          {
            id: early,
            kind: "settle",
            model: "small",
            agent: "planner",
            scope: { kind: "global", id: "*" },
            inputTokens: 100,
            outputTokens: 10,
            usd: 0.001,
            estimated: false,
            auctionId: "a1",
            reservationId: "r1",
            label: "plan",
            at: 10,
          },
          {
            id: expect.any(String),
            kind: "settle",
            model: "large",
            scope: { kind: "global", id: "*" },
            inputTokens: 100,
            outputTokens: 10,
            usd: 0.001,
            estimated: true,
            auctionId: "a1",
            at: 30,
            metadata: { n: 1 },
          },
        ]);
      });

      it("rejects invalid charges with a LedgerError and writes none of the batch", async () => {
        const negative = charge({ model: "m", inputTokens: -5 });
        await expect(ledger.recordCharge(negative)).rejects.toSatisfy((error: unknown) =>
          LedgerError.isInstance(error),
        );
        const unknownKind = { ...charge({ model: "m" }), kind: "refund" } as unknown as ChargeInput;
        const error = await ledger
          .recordCharges([charge({ model: "ok", at: 1 }), unknownKind])
          .catch((caught: unknown) => caught);
        expect((error as LedgerError).operation).toBe("recordCharges");
        expect(await ledger.spend()).toEqual([]);
      });
    });

    describe("spend", () => {
      beforeEach(async () => {
        await ledger.recordCharges([
          charge({ model: "small", agent: "alice", scope: { kind: "run", id: "r1" }, at: 100, usd: 0.01 }),
          charge({
            model: "small",
            agent: "bob",
            scope: { kind: "run", id: "r1" },
            at: 200,
            usd: 0.02,
            estimated: true,
          }),
          charge({
            model: "large",
            agent: "alice",
            scope: { kind: "run", id: "r2" },
            at: 300,
            usd: 0.5,
            inputTokens: 1000,
          }),
          charge({ model: "large", at: 400, usd: 0.25, outputTokens: 500 }),
          // Not spend: reservations, releases and refusals are the event trail.
          charge({ kind: "reserve", model: "large", at: 150, usd: 9 }),
          charge({ kind: "release", model: "large", at: 160, usd: 9 }),
          charge({ kind: "refuse", model: "small", at: 170, usd: 9 }),
        ]);
      });

      it("groups settled spend by model, most expensive first", async () => {
        const rows = await ledger.spend({ by: "model" });
        expect(rows.map((row) => row.key)).toEqual(["large", "small"]);
        const [large, small] = rows;
        expect(large).toMatchObject({
          by: "model",
          calls: 2,
          inputTokens: 1100,
          outputTokens: 510,
          totalTokens: 1610,
          estimatedCalls: 0,
          estimatedShare: 0,
          firstAt: 300,
          lastAt: 400,
        });
        expect(large?.usd).toBeCloseTo(0.75, 12);
        expect(small).toMatchObject({
          calls: 2,
          inputTokens: 200,
          outputTokens: 20,
          estimatedCalls: 1,
          estimatedShare: 0.5,
        });
        expect(small?.usd).toBeCloseTo(0.03, 12);
      });

      it("defaults to grouping by model", async () => {
        expect(await ledger.spend()).toEqual(await ledger.spend({ by: "model" }));
      });

      it("groups by agent, with null for calls made by no agent", async () => {
        const rows = await ledger.spend({ by: "agent" });
        const byKey = new Map(rows.map((row) => [row.key, row]));
        expect([...byKey.keys()].sort()).toEqual(["alice", "bob", null].sort());
        expect(byKey.get("alice")?.calls).toBe(2);
        expect(byKey.get(null)?.usd).toBeCloseTo(0.25, 12);
      });

      it("groups by scope as kind:id", async () => {
        const rows = await ledger.spend({ by: "scope" });
        const byKey = new Map(rows.map((row) => [row.key, row.calls]));
        expect(Object.fromEntries(byKey)).toEqual({ "run:r1": 2, "run:r2": 1, "global:*": 1 });
      });

      it("filters by time: since inclusive, until exclusive", async () => {
        const rows = await ledger.spend({ by: "model", since: 200, until: 400 });
        expect(rows.map((row) => [row.key, row.calls])).toEqual([
          ["large", 1],
          ["small", 1],
        ]);
        expect(await ledger.spend({ since: 401 })).toEqual([]);
      });
    });

    it("spend totals equal the sum of settled charges (25 seeded random event trails)", async () => {
      const random = seededRandom(20_250_601);
      const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
      const natural = (max: number) => Math.floor(random() * (max + 1));
      for (let run = 0; run < 25; run += 1) {
        const events = Array.from({ length: natural(30) }, () => ({
          kind: pick(["reserve", "settle", "release", "refuse"] as const),
          model: pick(["m1", "m2", "m3"]),
          inputTokens: natural(10_000),
          outputTokens: natural(10_000),
          cents: natural(1_000),
          estimated: random() < 0.5,
        }));
        const fresh = await open();
        await fresh.recordCharges(
          events.map(({ cents, ...event }, index) => ({ ...event, usd: cents / 100, at: index })),
        );
        const settled = events.filter((event) => event.kind === "settle");
        const rows = await fresh.spend({ by: "model" });
        const sum = (pickValue: (row: (typeof rows)[number]) => number) =>
          rows.reduce((total, row) => total + pickValue(row), 0);
        const context = `run ${run}: ${JSON.stringify(events)}`;
        expect(
          sum((row) => row.calls),
          context,
        ).toBe(settled.length);
        expect(
          sum((row) => row.inputTokens),
          context,
        ).toBe(settled.reduce((total, event) => total + event.inputTokens, 0));
        expect(
          sum((row) => row.outputTokens),
          context,
        ).toBe(settled.reduce((total, event) => total + event.outputTokens, 0));
        expect(
          sum((row) => row.estimatedCalls),
          context,
        ).toBe(settled.filter((event) => event.estimated).length);
        expect(
          sum((row) => row.usd),
          context,
        ).toBeCloseTo(
          settled.reduce((total, event) => total + event.cents / 100, 0),
          6,
        );
      }
    });

    describe("auction overhead", () => {
      const run1 = { kind: "run", id: "r1" } as const;
      beforeEach(async () => {
        // r1 is on the auctions (as the router records it); r2 is on the charges (as the debate does).
        await ledger.recordAuctions([
          auction("a1", 100, { small: 0.5, large: 0.4 }, { scope: run1 }),
          auction("a2", 200, { small: 0.5, large: 0.6 }, { scope: run1 }),
          auction("d1", 300, { alice: 1, bob: 2 }, { kind: "debate" }),
        ]);
        const run2 = { scope: { kind: "run", id: "r2" } as const };
        await ledger.recordCharges([
          charge({
            model: "small",
            label: "plan",
            auctionId: "a1",
            at: 100,
            inputTokens: 30,
            outputTokens: 10,
            usd: 1,
          }),
          charge({
            model: "large",
            label: "plan",
            auctionId: "a1",
            at: 100,
            inputTokens: 30,
            outputTokens: 20,
            usd: 2,
          }),
          charge({
            model: "small",
            label: "jury",
            auctionId: "a1",
            at: 100,
            inputTokens: 50,
            outputTokens: 10,
            usd: 1,
          }),
          charge({
            model: "small",
            label: "answer",
            auctionId: "a1",
            at: 101,
            inputTokens: 100,
            outputTokens: 100,
            usd: 4,
          }),
          charge({
            model: "large",
            label: "refine",
            auctionId: "a2",
            at: 200,
            inputTokens: 40,
            outputTokens: 10,
            usd: 3,
          }),
          charge({
            model: "large",
            label: "answer",
            auctionId: "a2",
            at: 201,
            inputTokens: 50,
            outputTokens: 50,
            usd: 9,
          }),
          charge({ model: "small", label: "debate.intent", auctionId: "d1", at: 300, outputTokens: 0, ...run2 }),
          charge({ model: "small", label: "debate.message", auctionId: "d1", at: 301, outputTokens: 300, ...run2 }),
          // In neither set: counted as other, out of the share.
          charge({ model: "small", label: "TokenBudgetMiddleware", at: 400, inputTokens: 7, outputTokens: 3, usd: 5 }),
          charge({ model: "small", at: 401, inputTokens: 1, outputTokens: 1, usd: 0 }),
          // Not settled: never counted.
          charge({ kind: "reserve", model: "small", label: "plan", auctionId: "a1", at: 100, usd: 9 }),
        ]);
      });

      it("splits answer and overhead tokens and USD per run, oldest run first", async () => {
        const rows = await ledger.overhead();
        expect(rows.map((row) => row.key)).toEqual(["r1", "r2", null]);
        expect(rows[0]).toEqual({
          by: "run",
          key: "r1",
          auctions: 2,
          calls: 6,
          answerTokens: 300,
          overheadTokens: 200,
          otherTokens: 0,
          totalTokens: 500,
          overheadShare: 0.4,
          answerUsd: 13,
          overheadUsd: 7,
          otherUsd: 0,
          overheadUsdShare: 7 / 20,
          overheadByLabel: { plan: 90, jury: 60, refine: 50 },
          estimatedCalls: 0,
          firstAt: 100,
          lastAt: 201,
        });
        expect(rows[1]).toMatchObject({ key: "r2", answerTokens: 400, overheadTokens: 100, overheadShare: 0.2 });
        expect(rows[2]).toMatchObject({
          key: null,
          auctions: 0,
          calls: 2,
          otherTokens: 12,
          otherUsd: 5,
          overheadShare: 0,
        });
      });

      it("groups by auction and by model", async () => {
        const byAuction = await ledger.overhead({ by: "auction" });
        expect(byAuction.map((row) => [row.key, row.overheadTokens, row.answerTokens])).toEqual([
          ["a1", 150, 200],
          ["a2", 50, 100],
          ["d1", 100, 400],
          [null, 0, 0],
        ]);
        const byModel = await ledger.overhead({ by: "model" });
        expect(byModel.map((row) => [row.key, row.overheadTokens, row.answerTokens, row.auctions])).toEqual([
          ["small", 200, 600, 2],
          ["large", 100, 100, 2],
        ]);
      });

      it("filters by auction kind and by time", async () => {
        const debates = await ledger.overhead({ kind: "debate" });
        expect(debates.map((row) => [row.key, row.overheadShare])).toEqual([["r2", 0.2]]);
        const answersOfA1 = await ledger.overhead({ by: "auction", since: 101, until: 200 });
        expect(answersOfA1.map((row) => [row.key, row.answerTokens, row.overheadTokens])).toEqual([["a1", 200, 0]]);
      });

      it("returns no rows for an empty range", async () => {
        expect(await ledger.overhead({ since: 10_000 })).toEqual([]);
      });
    });

    describe("win rates", () => {
      beforeEach(async () => {
        await ledger.recordAuctions([
          auction("w1", 100, { small: 3, large: 2 }), // small wins, pays 2
          auction("w2", 200, { small: 1, large: 5 }), // large wins, pays 1
          auction("w3", 300, { small: 4, large: 1, medium: 2 }), // small wins, pays 2
          auction("w4", 400, { large: 9, medium: 1 }, { kind: "debate" }), // large wins, pays 1
        ]);
      });

      it("counts auctions entered, wins, win rate and mean price paid per bidder", async () => {
        const rows = await ledger.winRates();
        expect(rows).toEqual([
          { bidder: "large", auctions: 4, wins: 2, winRate: 0.5, meanPricePaid: 1, totalPaid: 2 },
          { bidder: "small", auctions: 3, wins: 2, winRate: 2 / 3, meanPricePaid: 2, totalPaid: 4 },
          { bidder: "medium", auctions: 2, wins: 0, winRate: 0, meanPricePaid: null, totalPaid: 0 },
        ]);
      });

      it("filters by auction kind and time", async () => {
        const debate = await ledger.winRates({ kind: "debate" });
        expect(debate.map((row) => [row.bidder, row.wins])).toEqual([
          ["large", 1],
          ["medium", 0],
        ]);
        const early = await ledger.winRates({ since: 100, until: 300 });
        expect(early.map((row) => [row.bidder, row.auctions, row.wins])).toEqual([
          ["large", 2, 1],
          ["small", 2, 1],
        ]);
      });
    });

    describe("outcomes", () => {
      it("attaches an outcome to its auction and replaces it on a second record", async () => {
        await ledger.recordAuction(auction("graded", 1, { a: 1 }));
        await ledger.recordOutcome({ auctionId: "graded", correct: false, recordedAt: 5, label: "first try" });
        await ledger.recordOutcome({
          auctionId: "graded",
          correct: true,
          score: 0.75,
          label: "regraded",
          recordedAt: 9,
          metadata: { checker: "exact" },
        });
        expect((await ledger.getAuction("graded"))?.outcome).toEqual({
          auctionId: "graded",
          correct: true,
          score: 0.75,
          label: "regraded",
          recordedAt: 9,
          metadata: { checker: "exact" },
        });
      });

      it("stores an outcome with a score and no verdict", async () => {
        await ledger.recordAuction(auction("scored", 1, { a: 1 }));
        await ledger.recordOutcome({ auctionId: "scored", score: 0.3, recordedAt: 2 });
        expect((await ledger.getAuction("scored"))?.outcome).toEqual({
          auctionId: "scored",
          score: 0.3,
          recordedAt: 2,
        });
      });

      it("leaves no outcome behind a refused one", async () => {
        await ledger.recordOutcome({ auctionId: "ghost", correct: true }).catch(() => undefined);
        await ledger.recordAuction(auction("ghost", 1, { a: 1 }));
        expect((await ledger.getAuction("ghost"))?.outcome).toBeUndefined();
      });
    });

    describe("recent auctions", () => {
      it("lists the newest first with settled spend and outcome, honouring limit and kind", async () => {
        await ledger.recordAuctions([
          auction("r1", 100, { a: 1, b: 2 }),
          auction("r2", 300, { a: 1 }, { kind: "debate" }),
          auction("r3", 200, { a: 1 }),
          auction("r4", 300, { b: 1 }), // same time as r2, recorded later: listed first
        ]);
        await ledger.recordCharges([
          charge({ model: "m", auctionId: "r3", usd: 0.5, inputTokens: 7, outputTokens: 3 }),
          charge({ model: "m", auctionId: "r3", usd: 0.25, inputTokens: 1, outputTokens: 1 }),
          charge({ kind: "reserve", model: "m", auctionId: "r3", usd: 4 }),
        ]);
        await ledger.recordOutcome({ auctionId: "r3", correct: true, recordedAt: 400 });

        const all = await ledger.recentAuctions();
        expect(all.map((row) => row.id)).toEqual(["r4", "r2", "r3", "r1"]);
        const r3 = all.find((row) => row.id === "r3");
        expect(r3?.usd).toBeCloseTo(0.75, 12);
        expect(r3?.tokens).toBe(12);
        expect(r3?.outcome).toEqual({ auctionId: "r3", correct: true, recordedAt: 400 });
        expect(all.find((row) => row.id === "r1")).toMatchObject({ usd: 0, tokens: 0, bidCount: 2, winners: ["b"] });
        expect(all.find((row) => row.id === "r1")?.outcome).toBeUndefined();

        expect((await ledger.recentAuctions({ limit: 2 })).map((row) => row.id)).toEqual(["r4", "r2"]);
        expect((await ledger.recentAuctions({ kind: "debate" })).map((row) => row.id)).toEqual(["r2"]);
      });

      it("rejects a limit that is not a positive integer", async () => {
        await expect(ledger.recentAuctions({ limit: 0 })).rejects.toSatisfy((error: unknown) =>
          LedgerError.isInstance(error),
        );
        await expect(ledger.recentAuctions({ limit: 1.5 })).rejects.toSatisfy((error: unknown) =>
          LedgerError.isInstance(error),
        );
      });
    });

    describe("budgets", () => {
      it("stores one definition per scope, the latest replacing the earlier", async () => {
        await ledger.recordBudget({ scope: { kind: "run", id: "r1" }, limits: { maxTokens: 1000 }, definedAt: 1 });
        await ledger.recordBudget({
          scope: { kind: "global", id: "*" },
          limits: { maxUsd: 5 },
          definedAt: 2,
          label: "all",
        });
        await ledger.recordBudget({
          scope: { kind: "run", id: "r1" },
          limits: { maxTokens: 2000, maxUsd: 1 },
          definedAt: 3,
        });
        expect(await ledger.budgets()).toEqual([
          { scope: { kind: "global", id: "*" }, limits: { maxUsd: 5 }, label: "all", definedAt: 2 },
          { scope: { kind: "run", id: "r1" }, limits: { maxTokens: 2000, maxUsd: 1 }, definedAt: 3 },
        ]);
      });

      it("returns the latest snapshot with all its accounts", async () => {
        expect(await ledger.latestBudgetSnapshot()).toBeUndefined();
        const account = {
          scope: "global" as const,
          scopeId: "*",
          limits: { maxUsd: 5 },
          spentTokens: 10,
          spentUsd: 0.1,
          reservedTokens: 0,
          reservedUsd: 0,
        };
        await ledger.recordBudgetSnapshot({ accounts: [account], takenAt: 10 });
        const run = {
          ...account,
          scope: "run" as const,
          scopeId: "r1",
          limits: { maxTokens: 500 },
          reservedTokens: 50,
        };
        await ledger.recordBudgetSnapshot({
          accounts: [run, { ...account, spentTokens: 60 }],
          takenAt: 20,
          label: "end",
        });
        expect(await ledger.latestBudgetSnapshot()).toEqual({
          takenAt: 20,
          label: "end",
          accounts: [{ ...account, spentTokens: 60 }, run],
        });
      });

      it("stores an empty snapshot", async () => {
        await ledger.recordBudgetSnapshot({ accounts: [], takenAt: 1 });
        expect(await ledger.latestBudgetSnapshot()).toEqual({ takenAt: 1, accounts: [] });
      });
    });
    it("refuses every query after close", async () => {
      await ledger.close();
      const calls = [
        ledger.spend(),
        ledger.overhead(),
        ledger.winRates(),
        ledger.getAuction("x"),
        ledger.recentAuctions(),
        ledger.budgets(),
        ledger.latestBudgetSnapshot(),
      ];
      for (const call of calls) expect(LedgerError.isInstance(await rejectionOf(call))).toBe(true);
    });
  });
}

/**
 * Describe both ledger suites, writer and reader, for a backend that has both halves.
 * Await it at the top level of a test file.
 *
 * @param setup - `{ name, create, destroy? }`: a fresh, empty ledger per test, and how to dispose of it.
 * @returns Once the tests of both suites are registered.
 * @throws MissingPeerDependencyError when vitest is not installed.
 *
 * @example
 * ```ts
 * // tests/ledger/sqlite.test.ts
 * import { createSqliteLedger } from "langchain-gavel/sqlite";
 * import { describeAuctionLedgerConformance } from "langchain-gavel/testing";
 *
 * await describeAuctionLedgerConformance({
 *   name: "SQLite :memory:",
 *   create: () => createSqliteLedger({ path: ":memory:" }),
 * });
 * ```
 */
export async function describeAuctionLedgerConformance<Ledger extends AuctionLedger>(
  setup: LedgerConformanceSetup<Ledger>,
): Promise<void> {
  await describeLedgerWriterConformance(setup);
  await describeLedgerReaderConformance(setup);
}
