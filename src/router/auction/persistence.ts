/**
 * What an auction leaves in storage once the winner has answered: the auction, its bids and every
 * charge in the ledger, and the plans (as the jury judged them) in the strategy memory.
 *
 * Neither write fails the request: the answer exists and was paid for by then. A ledger that
 * refuses or drops a write is reported (`recordQuietly`: the ledger's `reportWriteFailure`, its
 * counter and its `onWriteFailure`; else a process warning); a memory whose `add` fails (an
 * embedder down, a locked or full folder) is reported as a process warning
 * (`GavelMemoryWarning`, see {@link warnMemoryFailure}); the answer is returned either way.
 */
import type { Settlement } from "../../budget/options.js";
import { ledgerScopeOf } from "../../ledger/budget-events.js";
import { recordQuietly } from "../../ledger/report.js";
import type { AuctionInput, ChargeInput, LedgerScope } from "../../ledger/types.js";
import { StrategyMemoryError } from "../../memory/errors.js";
import { entriesFromAuction } from "../../memory/index.js";
import type { RouterSettings } from "../options.js";
import type { AuctionCall, AuctionRun, RouterAuctionRecord } from "./records.js";

/**
 * Write the auction, its bids and every charge (`execution`: the answer's) to the ledger, and its
 * plans to the memory. A ledger or memory failure is reported, never thrown (see the module comment).
 */
export async function persistAuction(
  settings: RouterSettings,
  auction: AuctionRun,
  execution: AuctionCall | undefined,
): Promise<void> {
  const { record: entry, calls } = auction;
  const allCalls = execution ? [...calls, execution] : calls;
  if (settings.ledger) await writeLedger(settings, auction, allCalls);
  if (settings.memory) await writeMemory(settings, entry);
}

async function writeLedger(settings: RouterSettings, auction: AuctionRun, allCalls: readonly AuctionCall[]) {
  const ledger = settings.ledger as NonNullable<RouterSettings["ledger"]>;
  const { record: entry } = auction;
  // Charges go under the narrowest scope their calls ran in; the auction under its run (the
  // ledger's overhead-by-run key), else that same narrowest scope.
  const chargeScope = ledgerScopeOf(auction.scopes);
  const auctionScope: LedgerScope | undefined =
    auction.scopes?.run !== undefined ? { kind: "run", id: auction.scopes.run } : chargeScope;
  const values: Record<string, number> = {};
  for (const result of entry.outcome.results) {
    const value = result.meta?.value;
    if (typeof value === "number") values[result.bidder] = value;
  }
  const auctionInput: AuctionInput = {
    id: entry.auctionId,
    kind: "route",
    outcome: entry.outcome,
    createdAt: entry.createdAt,
    task: entry.task,
    values,
    metadata: {
      provisionalWinner: entry.provisionalWinner ?? null,
      winner: entry.winner,
      dropped: entry.dropped,
      refinements: entry.refinements.map(({ bidder, adopted, reason, bid }) => ({
        bidder,
        adopted,
        reason,
        score: bid?.score,
      })),
      entropySources: Object.fromEntries(entry.bids.map((bid) => [bid.bidder, bid.entropySource])),
      fallback: entry.fallback ?? null,
      weights: { ...entry.weights },
    },
    ...(auctionScope && { scope: auctionScope }),
  };
  // Two writes, each on its own: charges whose auction could not be written are still spend.
  await recordQuietly(ledger, "recordAuction", 1, () => ledger.recordAuction(auctionInput));
  const charges: ChargeInput[] = allCalls.map((item) => ({
    kind: "settle",
    model: item.model,
    agent: item.member,
    inputTokens: item.usage.inputTokens,
    outputTokens: item.usage.outputTokens,
    usd: item.usd,
    estimated: item.usage.estimated === true,
    auctionId: entry.auctionId,
    label: item.purpose,
    ...(chargeScope && { scope: chargeScope }),
  }));
  if (charges.length > 0) {
    await recordQuietly(ledger, "recordCharges", charges.length, () => ledger.recordCharges(charges));
  }
}

/**
 * Record the charge of a call settled after it was abandoned (its deadline passed or the caller
 * aborted; `closeAbandoned` settled it at what the provider bills): it is not among the auction's
 * calls, which are written when the answer is, so the ledger learns of it here, marked
 * `metadata.abandoned`. Reported, never thrown.
 */
export async function recordAbandonedCharge(
  settings: RouterSettings,
  call: { auctionId: string; member: string; purpose: AuctionCall["purpose"]; scopes: AuctionRun["scopes"] },
  settlement: Settlement | undefined,
): Promise<void> {
  const { ledger } = settings;
  if (!ledger || settlement === undefined) return;
  const scope = ledgerScopeOf(call.scopes);
  const charge: ChargeInput = {
    kind: "settle",
    model: settlement.model,
    agent: call.member,
    inputTokens: settlement.usage.inputTokens,
    outputTokens: settlement.usage.outputTokens,
    usd: settlement.usd,
    estimated: settlement.estimated,
    auctionId: call.auctionId,
    reservationId: settlement.reservationId,
    label: call.purpose,
    metadata: { abandoned: true },
    ...(scope && { scope }),
  };
  await recordQuietly(ledger, "recordCharges", 1, () => ledger.recordCharges([charge]));
}

/** {@link addToMemory}, its failure reported as a process warning instead of thrown. */
async function writeMemory(settings: RouterSettings, entry: RouterAuctionRecord): Promise<void> {
  try {
    await addToMemory(settings, entry);
  } catch (error) {
    warnMemoryFailure(entry.auctionId, error);
  }
}

/**
 * Report a strategy-memory write that failed after an answer existed, as a Node process warning
 * (type `GavelMemoryWarning`, code `GAVEL_MEMORY_FAILED`): printed on stderr unless Node runs
 * with `--no-warnings`, and delivered to `process.on("warning", ...)`. The plans of that auction
 * are not stored (later refinements do not learn from it); the answer stands.
 *
 * @param auctionId - the auction whose plans were not stored.
 * @param error - what `memory.add` threw, wrapped in a `StrategyMemoryError` unless it is one.
 * @example
 * ```ts
 * process.on("warning", (warning) => {
 *   if (warning.name === "GavelMemoryWarning") metrics.increment("memory.failed");
 * });
 * ```
 */
function warnMemoryFailure(auctionId: string, error: unknown): void {
  const failure = StrategyMemoryError.isInstance(error)
    ? error
    : new StrategyMemoryError(
        { operation: "add", reason: "io", message: "the auction's plans were not stored" },
        { cause: error },
      );
  try {
    process.emitWarning(`${failure.message} (auction ${auctionId})`, {
      type: "GavelMemoryWarning",
      code: "GAVEL_MEMORY_FAILED",
    });
  } catch {
    // A warning listener that throws must not turn the report into the failure it was meant to avoid.
  }
}

async function addToMemory(settings: RouterSettings, entry: RouterAuctionRecord): Promise<void> {
  const memory = settings.memory as NonNullable<RouterSettings["memory"]>;
  const effective = entry.bids.map((bid) => {
    const refinement = entry.refinements.find((item) => item.bidder === bid.bidder && item.adopted);
    return refinement?.bid ?? bid;
  });
  if (effective.length === 0) return;
  await memory.add(
    entriesFromAuction({
      auctionId: entry.auctionId,
      task: entry.task,
      kind: settings.taskKind,
      // The auction's winner, also when its answer failed and the fallback answered: the
      // jury's judgement of the plans stands. Nobody wins when every bidder failed.
      winner: entry.outcome.winners[0],
      createdAt: entry.createdAt,
      bids: effective.map((bid) => ({
        agent: bid.bidder,
        plan: bid.plan,
        cost: bid.cost,
        metadata: { value: bid.value, score: bid.score, entropy: bid.entropy, entropySource: bid.entropySource },
      })),
    }),
  );
}
