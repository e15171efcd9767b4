/**
 * Ledger writes made after an answer exists: the router, the router middleware and the debate
 * record what was spent once the model has answered (and the provider has billed it). A ledger
 * that cannot take the record must not turn that paid answer into an error, so these writes go
 * through {@link recordQuietly}: a failure is reported — to the ledger's own channel when it has
 * one (`reportWriteFailure`: its counter and its `onWriteFailure` callback), else as a process
 * warning — and the request goes on.
 */
import { LedgerError, type LedgerOperation } from "./errors.js";
import type { LedgerWriteFailure, LedgerWriter } from "./types.js";

/**
 * Report a ledger write that failed where it was caught: to `ledger.reportWriteFailure` when the
 * backend has it, else as a Node process warning (`process.on("warning", ...)` receives it; it is
 * printed on stderr unless Node runs with `--no-warnings`).
 *
 * @param ledger - the ledger the write went to.
 * @param failure - what failed; `error` may be anything thrown, it is wrapped in a `LedgerError` for `operation`.
 * @example
 * ```ts
 * try {
 *   await ledger.recordCharges(charges);
 * } catch (error) {
 *   reportLedgerFailure(ledger, { operation: "recordCharges", records: charges.length, error });
 * }
 * ```
 */
export function reportLedgerFailure(
  ledger: Pick<LedgerWriter, "reportWriteFailure">,
  failure: { operation: LedgerOperation; records: number; error: unknown },
): void {
  const { operation, records, error } = failure;
  const report: LedgerWriteFailure = {
    kind: "failed",
    operation,
    records,
    error: LedgerError.isInstance(error) ? error : new LedgerError(operation, "not written", { cause: error }),
  };
  try {
    if (typeof ledger.reportWriteFailure === "function") {
      ledger.reportWriteFailure(report);
      return;
    }
  } catch {
    // A reporter that throws must not turn the report into the failure it was meant to avoid.
  }
  warnLedgerFailure(report);
}

/**
 * Report a ledger write failure as a Node process warning (type `GavelLedgerWarning`, code
 * `GAVEL_LEDGER_FAILED` or `GAVEL_LEDGER_DROPPED`): printed on stderr unless Node runs with
 * `--no-warnings`, and delivered to `process.on("warning", ...)`. The SQLite ledger's default
 * `onWriteFailure`.
 *
 * @param failure - the write that did not land.
 * @example
 * ```ts
 * const ledger = createSqliteLedger({
 *   path: "gavel.db",
 *   onWriteFailure: (failure) => {
 *     metrics.increment(`ledger.${failure.kind}`);
 *     warnLedgerFailure(failure);
 *   },
 * });
 * ```
 */
export function warnLedgerFailure(failure: LedgerWriteFailure): void {
  process.emitWarning(`${failure.error.message} (${failure.records} record(s) ${failure.kind})`, {
    type: "GavelLedgerWarning",
    code: `GAVEL_LEDGER_${failure.kind.toUpperCase()}`,
  });
}

/**
 * Make one ledger write whose failure must not fail the caller: resolves to true when the write
 * resolved, false when it rejected (the failure then went to {@link reportLedgerFailure}). Never rejects.
 *
 * @param ledger - the ledger written to (its `reportWriteFailure` receives a failure).
 * @param operation - the write, for the report (`"recordAuction"`, `"recordCharges"`, ...).
 * @param records - how many records the write carries, for the report.
 * @param write - the write itself.
 * @returns whether the write resolved.
 * @example
 * ```ts
 * // After the answer came back: the answer is returned whatever the ledger does.
 * await recordQuietly(ledger, "recordCharges", charges.length, () => ledger.recordCharges(charges));
 * return answer;
 * ```
 */
export async function recordQuietly(
  ledger: LedgerWriter,
  operation: LedgerOperation,
  records: number,
  write: () => Promise<unknown>,
): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    reportLedgerFailure(ledger, { operation, records, error });
    return false;
  }
}
