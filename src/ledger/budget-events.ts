/**
 * A budget's events as ledger charges: `createBudgetEventRecorder(ledger)` is the `onEvent` sink of a
 * budget (in process or store-backed) that records one charge per event, and `flush()` waits for
 * the writes. Pure apart from the ledger it is given.
 *
 * Mapping: `reserve`/`release` carry the held amount (prompt + output cap in `inputTokens`),
 * `settle` the real usage, `refuse` the requested amount with the refusal in `metadata`, and
 * `expire` — a reservation whose lease ran out, released on behalf of a process that died — is a
 * `release` with `metadata.reason: "lease_expired"`.
 */
import type { BudgetEvent, ScopeIds } from "../budget/options.js";
import type { ChargeInput, LedgerScope, LedgerWriter } from "./types.js";

/**
 * The narrowest scope of `scopes` as a ledger scope (example, then run, then thread), or undefined
 * for the global scope.
 *
 * @example
 * ```ts
 * ledgerScopeOf({ thread: "t-1", run: "run-42" }); // { kind: "run", id: "run-42" }
 * ledgerScopeOf({}); // undefined: the global scope
 * ```
 */
export function ledgerScopeOf(scopes: ScopeIds | undefined): LedgerScope | undefined {
  if (scopes?.example !== undefined) return { kind: "example", id: scopes.example };
  if (scopes?.run !== undefined) return { kind: "run", id: scopes.run };
  if (scopes?.thread !== undefined) return { kind: "thread", id: scopes.thread };
  return undefined;
}

/**
 * The ledger charge of one budget event (one charge per call, under its narrowest scope).
 *
 * @example
 * ```ts
 * const budget = createTokenBudget({
 *   limits: { global: { maxUsd: 5 } },
 *   onEvent: (event) => void ledger.recordCharge(budgetEventCharge(event)),
 * });
 * ```
 */
export function budgetEventCharge(event: BudgetEvent): ChargeInput {
  if (event.type === "refuse") {
    const { request, error } = event;
    const scope = ledgerScopeOf(request.scopes);
    return {
      kind: "refuse",
      at: event.at,
      model: request.model,
      ...(scope && { scope }),
      inputTokens: request.inputTokens,
      outputTokens: request.maxOutputTokens,
      usd: error.unit === "usd" ? error.requested : 0,
      ...(request.label !== undefined && { label: request.label }),
      metadata: { refusal: error.message },
    };
  }
  const { reservation } = event;
  const scope = ledgerScopeOf(reservation.scopes);
  const common = {
    at: event.at,
    model: reservation.model,
    ...(scope && { scope }),
    reservationId: reservation.id,
    ...(reservation.label !== undefined && { label: reservation.label }),
  };
  switch (event.type) {
    case "settle": {
      const { settlement } = event;
      return {
        ...common,
        kind: "settle",
        inputTokens: settlement.usage.inputTokens,
        outputTokens: settlement.usage.outputTokens,
        usd: settlement.usd,
        estimated: settlement.estimated,
        ...((settlement.overrun || settlement.late) && {
          metadata: { ...(settlement.overrun && { overrun: true }), ...(settlement.late && { late: true }) },
        }),
      };
    }
    case "expire":
      return {
        ...common,
        kind: "release",
        inputTokens: reservation.tokens,
        outputTokens: 0,
        usd: reservation.usd,
        metadata: { reason: "lease_expired", expiredAt: event.expiredAt },
      };
    default:
      return { ...common, kind: event.type, inputTokens: reservation.tokens, outputTokens: 0, usd: reservation.usd };
  }
}

/**
 * What {@link createBudgetEventRecorder} returns: the budget's `onEvent`, and a way to wait for the writes.
 *
 * @example
 * ```ts
 * const recorder: BudgetEventRecorder = createBudgetEventRecorder(ledger);
 * const budget = createTokenBudget({ limits, onEvent: recorder.onEvent });
 * await recorder.flush();
 * ```
 */
export interface BudgetEventRecorder {
  /** Pass as the budget's `onEvent`: records the event's charge (the write runs in the background). */
  onEvent(event: BudgetEvent): void;
  /**
   * Resolves when every write started so far has finished — landed, also when the ledger queued it
   * behind a lock (`ledger.flush()`); rejects with the first that failed.
   */
  flush(): Promise<void>;
}

/**
 * Record every event of a budget in a ledger, one charge per event ({@link budgetEventCharge}).
 * Writes run in the background (the budget reports synchronously); a failed write is kept and
 * `flush()` rejects with it, so nothing is lost silently.
 *
 * @example
 * ```ts
 * import { createTokenBudget, createBudgetEventRecorder } from "langchain-gavel";
 * import { createSqliteLedger } from "langchain-gavel/sqlite";
 *
 * const ledger = createSqliteLedger({ path: "gavel.db" });
 * const recorder = createBudgetEventRecorder(ledger);
 * const budget = createTokenBudget({ limits: { global: { maxUsd: 5 } }, onEvent: recorder.onEvent });
 * // ... run the app ...
 * await recorder.flush();
 * await ledger.close();
 * ```
 */
export function createBudgetEventRecorder(ledger: LedgerWriter): BudgetEventRecorder {
  const pending = new Set<Promise<unknown>>();
  const failures: unknown[] = [];
  return {
    onEvent(event) {
      const write = ledger.recordCharge(budgetEventCharge(event)).catch((error: unknown) => {
        failures.push(error);
      });
      pending.add(write);
      void write.finally(() => pending.delete(write));
    },
    async flush() {
      await Promise.all([...pending]);
      await ledger.flush?.();
      if (failures.length > 0) throw failures[0];
    },
  };
}
