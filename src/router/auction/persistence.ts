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
import type { NewStrategyEntry } from "../../memory/types.js";
import { extractAnswer, OUTCOME_ENTRY_MARKER, outcomeEntry } from "../memory-bids/index.js";
import type { RouterSettings } from "../options.js";
import type { AuctionCall, AuctionRun } from "./records.js";

/**
 * Write the auction, its bids and every charge (`execution`: the answer's) to the ledger, and its
 * plans to the memory. A ledger or memory failure is reported, never thrown (see the module comment).
 */
export async function persistAuction(
  settings: RouterSettings,
  auction: AuctionRun,
  execution: AuctionCall | undefined,
  answerText?: string,
): Promise<void> {
  const { calls } = auction;
  const allCalls = execution ? [...calls, execution] : calls;
  if (settings.ledger) await writeLedger(settings, auction, allCalls);
  if (settings.memory) await writeMemory(settings, auction, execution, answerText);
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
      path: entry.path ?? "plans",
      reason: entry.reason ?? null,
      calls: [...(entry.calls ?? [])],
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

/**
 * The memory writes, each failure reported as a process warning instead of thrown: the plans of a
 * plan auction (`entriesFromAuction`; with `embeddings`, the final member's entry is also an outcome
 * entry), or the outcome entries of a memory path (one per member whose answer was bought).
 */
async function writeMemory(
  settings: RouterSettings,
  auction: AuctionRun,
  execution: AuctionCall | undefined,
  answerText: string | undefined,
): Promise<void> {
  const entry = auction.record;
  try {
    if (entry.path === undefined || entry.path === "plans") await addToMemory(settings, auction, execution, answerText);
    else await addOutcomeEntries(settings, auction, execution, answerText);
  } catch (error) {
    warnMemoryFailure(entry.auctionId, error);
  }
}

/** The extracted answer of a reply text, as an outcome entry field. */
function answerField(text: string | undefined): { answer?: string } {
  const answer = text === undefined ? undefined : extractAnswer(text);
  return answer === undefined ? {} : { answer };
}

/**
 * The vector of the request for outcome entries: the one memory bids embedded, else the request text
 * embedded now (plans mode), or undefined without an embedder.
 */
async function requestVector(settings: RouterSettings, auction: AuctionRun): Promise<number[] | undefined> {
  const { embedded } = auction;
  if (embedded === undefined || settings.embeddings === undefined) return undefined;
  if (embedded.vector !== undefined) return embedded.vector;
  const [vector] = await settings.embeddings.embedDocuments([embedded.text]);
  return vector;
}

/**
 * Outcome entries of a memory path: one per member whose answer was bought (`called: true`, cost = the
 * USD of its call, the extracted answer), the final one `"winning"`, the others `"losing"` (`"single"`
 * when one member was called). Members that bid but were not called get no entry: nothing was observed
 * of them, and an entry would only crowd their neighbour search.
 */
async function addOutcomeEntries(
  settings: RouterSettings,
  auction: AuctionRun,
  execution: AuctionCall | undefined,
  answerText: string | undefined,
): Promise<void> {
  const memory = settings.memory as NonNullable<RouterSettings["memory"]>;
  const vector = await requestVector(settings, auction);
  const { record, embedded } = auction;
  if (vector === undefined || embedded === undefined || settings.embedderId === undefined) return;
  const called = new Map<string, { usd: number; answer: { answer?: string } }>();
  for (const bought of auction.bought ?? []) {
    if (bought === auction.answered) continue;
    called.set(bought.member.name, { usd: bought.call.usd, answer: answerField(bought.reply.text) });
  }
  if (execution !== undefined) called.set(execution.member, { usd: execution.usd, answer: answerField(answerText) });
  const final = execution?.member;
  const entries = [...called].map(([member, { usd, answer }]) =>
    outcomeEntry({
      auctionId: record.auctionId,
      member,
      text: embedded.text,
      vector,
      role: called.size === 1 ? "single" : member === final ? "winning" : "losing",
      called: true,
      costUsd: usd,
      embedderId: settings.embedderId as string,
      kind: settings.taskKind,
      createdAt: record.createdAt,
      ...answer,
    }),
  );
  if (entries.length > 0) await memory.add(entries);
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

async function addToMemory(
  settings: RouterSettings,
  auction: AuctionRun,
  execution: AuctionCall | undefined,
  answerText: string | undefined,
): Promise<void> {
  const memory = settings.memory as NonNullable<RouterSettings["memory"]>;
  const entry = auction.record;
  const effective = entry.bids.map((bid) => {
    const refinement = entry.refinements.find((item) => item.bidder === bid.bidder && item.adopted);
    return refinement?.bid ?? bid;
  });
  const entries: NewStrategyEntry[] = entriesFromAuction({
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
  });
  // With an embedder, the member whose answer was bought is also an outcome entry: plan auctions
  // feed memory bids (SALE's loop). Its cost becomes the USD of its answer (the plan's C stays in
  // `metadata.planCost`); a fallback that did not bid gets an entry of its own, without a plan.
  const vector = execution === undefined ? undefined : await requestVector(settings, auction);
  if (execution !== undefined && vector !== undefined && auction.embedded !== undefined) {
    const fields = {
      metadata: {
        gavel: OUTCOME_ENTRY_MARKER,
        embedder: settings.embedderId,
        called: true,
        ...answerField(answerText),
      },
      cost: execution.usd,
      vector,
    };
    const index = entries.findIndex((item) => item.agent === execution.member);
    const own = entries[index];
    if (own !== undefined) {
      entries[index] = { ...own, ...fields, metadata: { ...own.metadata, planCost: own.cost, ...fields.metadata } };
    } else {
      entries.push(
        outcomeEntry({
          auctionId: entry.auctionId,
          member: execution.member,
          text: auction.embedded.text,
          vector,
          role: entries.length === 0 ? "single" : "losing",
          called: true,
          costUsd: execution.usd,
          embedderId: settings.embedderId as string,
          kind: settings.taskKind,
          createdAt: entry.createdAt,
          ...answerField(answerText),
        }),
      );
    }
  }
  if (entries.length > 0) await memory.add(entries);
}
