/**
 * The auction ledger: the storage interfaces (`LedgerWriter`, `LedgerReader`, and `AuctionLedger`,
 * both), its error and helpers. The SQLite backend is `adapters/sqlite/ledger.ts`
 * (`createSqliteLedger`); the conformance suites are in `langchain-gavel/testing`.
 */
export {
  type BudgetEventRecorder,
  budgetEventCharge,
  createBudgetEventRecorder,
  ledgerScopeOf,
} from "./budget-events.js";
export { LedgerError, type LedgerOperation } from "./errors.js";
export {
  CHARGE_LABEL_ROLES,
  type ChargeRole,
  type OverheadPart,
  overheadTotal,
} from "./overhead.js";
export { recordQuietly, reportLedgerFailure, warnLedgerFailure } from "./report.js";
export {
  type CloseLedgerOnSignalsOptions,
  closeLedgerOnSignals,
  DEFAULT_SHUTDOWN_SIGNALS,
  type SignalTarget,
} from "./shutdown.js";
export { hashTask } from "./task-hash.js";
export type {
  AuctionInput,
  AuctionKind,
  AuctionLedger,
  AuctionRecord,
  AuctionResultRecord,
  AuctionSummary,
  BidRecord,
  BudgetAccountState,
  BudgetDefinitionInput,
  BudgetDefinitionRecord,
  BudgetSnapshotInput,
  BudgetSnapshotRecord,
  ChargeInput,
  ChargeKind,
  ChargeRecord,
  JsonObject,
  LedgerReader,
  LedgerScope,
  LedgerWriteFailure,
  LedgerWriter,
  LedgerWriteStats,
  OutcomeInput,
  OverheadGrouping,
  OverheadQuery,
  OverheadRow,
  RecentAuction,
  RecentAuctionsQuery,
  SpendGrouping,
  SpendQuery,
  SpendRow,
  TimeRange,
  WinRateQuery,
  WinRateRow,
} from "./types.js";
