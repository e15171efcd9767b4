/**
 * A backend with only the writer runs the writer suite: this in-memory `LedgerWriter` has no query
 * at all, and passes `describeLedgerWriterConformance`, so the suite needs no reader. It is also
 * the smallest picture of the writer contract (unique ids, all-or-nothing batches, outcomes only for
 * stored auctions, refusal after close) for the author of a new backend.
 */
import { LedgerError, type LedgerOperation } from "../../src/ledger/errors.js";
import type { AuctionInput, ChargeInput, LedgerWriter } from "../../src/ledger/types.js";
import { describeLedgerWriterConformance } from "../../src/testing.js";

const CHARGE_KINDS = new Set(["reserve", "settle", "release", "refuse"]);

function createArrayLedgerWriter(): LedgerWriter {
  const auctions = new Map<string, AuctionInput>();
  const charges = new Map<string, ChargeInput>();
  const outcomes = new Set<string>();
  let next = 0;
  let closed = false;

  function check(operation: LedgerOperation, ok: boolean, message: string): void {
    if (closed) throw new LedgerError(operation, "the ledger is closed");
    if (!ok) throw new LedgerError(operation, message);
  }

  /** Validate every input first, then store them all: a batch is all or nothing. */
  function writeAuctions(operation: LedgerOperation, inputs: readonly AuctionInput[]): string[] {
    const ids = inputs.map((input) => input.id ?? `auction-${next++}`);
    check(operation, new Set(ids).size === ids.length, "an id appears twice in the batch");
    inputs.forEach((input, index) => {
      const bidders = input.outcome.results.map((result) => result.bidder);
      check(operation, !auctions.has(ids[index] as string), `auction ${ids[index]} is already recorded`);
      check(operation, new Set(bidders).size === bidders.length, "a bidder appears twice");
    });
    inputs.forEach((input, index) => {
      auctions.set(ids[index] as string, input);
    });
    return ids;
  }

  function writeCharges(operation: LedgerOperation, inputs: readonly ChargeInput[]): string[] {
    const ids = inputs.map((input) => input.id ?? `charge-${next++}`);
    check(operation, new Set(ids).size === ids.length, "an id appears twice in the batch");
    inputs.forEach((input, index) => {
      check(operation, !charges.has(ids[index] as string), `charge ${ids[index]} is already recorded`);
      check(operation, CHARGE_KINDS.has(input.kind), `unknown charge kind ${input.kind}`);
      const amounts = [input.inputTokens, input.outputTokens, input.usd];
      check(
        operation,
        amounts.every((amount) => amount >= 0),
        "negative amount",
      );
    });
    inputs.forEach((input, index) => {
      charges.set(ids[index] as string, input);
    });
    return ids;
  }

  return {
    async recordAuction(input) {
      return writeAuctions("recordAuction", [input])[0] as string;
    },
    async recordAuctions(inputs) {
      return writeAuctions("recordAuctions", inputs);
    },
    async recordCharge(input) {
      return writeCharges("recordCharge", [input])[0] as string;
    },
    async recordCharges(inputs) {
      return writeCharges("recordCharges", inputs);
    },
    async recordOutcome(input) {
      check("recordOutcome", auctions.has(input.auctionId), `auction ${input.auctionId} is not recorded`);
      outcomes.add(input.auctionId);
    },
    async recordBudget() {
      check("recordBudget", true, "");
    },
    async recordBudgetSnapshot() {
      check("recordBudgetSnapshot", true, "");
    },
    async close() {
      closed = true;
    },
  };
}

await describeLedgerWriterConformance({
  name: "in-memory writer without a reader",
  create: () => createArrayLedgerWriter(),
});
