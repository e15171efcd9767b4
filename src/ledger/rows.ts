/**
 * The stored rows of a ledger backend and their mapping to records, shared by the SQLite and
 * PostgreSQL ledgers (`adapters/sqlite/ledger.ts`, `adapters/postgres/ledger.ts`). Both store the
 * same tables with the same column names; only the drivers' types of a column differ (SQLite
 * answers numbers, 0/1 and JSON text; `pg` answers `bigint` and `numeric` as text, booleans, and
 * parsed JSON). A backend names its types in a {@link ColumnTypes} and says how to read them in a
 * {@link ColumnDecoder}; {@link ledgerRowMapper} does the rest.
 *
 * Internal: not exported from the package.
 */
import type { BudgetLimits, BudgetScope } from "../budget/types.js";
import type { BidReason, MechanismName } from "../market/types.js";
import { LedgerError } from "./errors.js";
import type { OverheadPart } from "./overhead.js";
import type {
  AuctionRecord,
  AuctionResultRecord,
  AuctionSummary,
  BidRecord,
  BudgetAccountState,
  BudgetDefinitionRecord,
  BudgetSnapshotRecord,
  ChargeKind,
  ChargeRecord,
  JsonObject,
  LedgerScope,
  RecentAuction,
  RecentAuctionsQuery,
  SpendGrouping,
  SpendRow,
  WinRateRow,
} from "./types.js";

/** The global budget scope, used for charges recorded without a scope. */
export const GLOBAL_SCOPE: LedgerScope = { kind: "global", id: "*" };

/** Drop the keys whose value is `undefined`, so records read back equal what was written. */
export function compact<T extends object>(record: T): T {
  for (const key of Object.keys(record) as Array<keyof T>) {
    if (record[key] === undefined) delete record[key];
  }
  return record;
}

export function orUndefined<T>(value: T | null): T | undefined {
  return value === null ? undefined : value;
}

/** A JSON column's value as written: `NULL` for none. */
export function toJson(value: JsonObject | undefined): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

/** `recentAuctions`' limit: 20 by default; anything but a positive integer is refused. */
export function recentLimit(query: RecentAuctionsQuery): number {
  const limit = query.limit ?? 20;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new LedgerError("query", `recentAuctions limit must be a positive integer, got ${limit}`);
  }
  return limit;
}

/** How a driver returns the ledger's column types. */
export interface ColumnTypes {
  /** A number column (`bigint`, `numeric`, `real`, aggregates). */
  readonly number: unknown;
  /** A boolean column. */
  readonly flag: unknown;
  /** A JSON column (auction winners, metadata). */
  readonly json: unknown;
}

/** Reads a driver's column values as JavaScript values. */
export interface ColumnDecoder<C extends ColumnTypes> {
  number(value: C["number"]): number;
  flag(value: C["flag"]): boolean;
  json(value: C["json"]): unknown;
}

export interface SpendRowOf<C extends ColumnTypes> {
  key: string | null;
  calls: C["number"];
  input_tokens: C["number"];
  output_tokens: C["number"];
  usd: C["number"];
  estimated_calls: C["number"];
  first_at: C["number"];
  last_at: C["number"];
}

export interface OverheadRowOf<C extends ColumnTypes> {
  key: string | null;
  label: string | null;
  calls: C["number"];
  tokens: C["number"];
  usd: C["number"];
  estimated_calls: C["number"];
  first_at: C["number"];
  last_at: C["number"];
}

/** A bidder's win rate; `mean_price_paid` is the mean price over the auctions it won (`NULL`: none). */
export interface WinRateRowOf<C extends ColumnTypes> {
  bidder: string;
  auctions: C["number"];
  wins: C["number"];
  mean_price_paid: C["number"] | null;
  total_paid: C["number"];
}

export interface AuctionRowOf<C extends ColumnTypes> {
  id: string;
  created_at: C["number"];
  kind: string;
  mechanism: string;
  scope_kind: string | null;
  scope_id: string | null;
  task: string | null;
  task_hash: string | null;
  clearing_price: C["number"];
  seed: C["number"];
  reserve_price: C["number"];
  winners: C["json"];
  bid_count: number;
  metadata: C["json"] | null;
}

/** An auction with the settled spend linked to it. */
export interface RecentRowOf<C extends ColumnTypes> extends AuctionRowOf<C> {
  spent_usd: C["number"];
  spent_tokens: C["number"];
}

export interface BidRowOf<C extends ColumnTypes> {
  auction_id: string;
  bidder: string;
  rank: number;
  amount: C["number"];
  value: C["number"] | null;
  tokens: C["number"] | null;
  won: C["flag"];
  price: C["number"];
  reason: string;
  detail: string;
  meta: C["json"] | null;
}

export interface ChargeRowOf<C extends ColumnTypes> {
  id: string;
  at: C["number"];
  kind: string;
  model: string;
  agent: string | null;
  scope_kind: string;
  scope_id: string;
  input_tokens: C["number"];
  output_tokens: C["number"];
  usd: C["number"];
  estimated: C["flag"];
  auction_id: string | null;
  reservation_id: string | null;
  label: string | null;
  metadata: C["json"] | null;
}

export interface OutcomeRowOf<C extends ColumnTypes> {
  auction_id: string;
  recorded_at: C["number"];
  correct: C["flag"] | null;
  score: C["number"] | null;
  label: string | null;
  metadata: C["json"] | null;
}

export interface BudgetRowOf<C extends ColumnTypes> {
  scope_kind: string;
  scope_id: string;
  max_tokens: C["number"] | null;
  max_usd: C["number"] | null;
  label: string | null;
  defined_at: C["number"];
}

export interface SnapshotRowOf<C extends ColumnTypes> {
  id: C["number"];
  taken_at: C["number"];
  label: string | null;
}

export interface SnapshotAccountRowOf<C extends ColumnTypes> {
  snapshot_id: C["number"];
  scope_kind: string;
  scope_id: string;
  max_tokens: C["number"] | null;
  max_usd: C["number"] | null;
  spent_tokens: C["number"];
  spent_usd: C["number"];
  reserved_tokens: C["number"];
  reserved_usd: C["number"];
}

/** Every row type of a backend's ledger, by what it holds: `LedgerRows<MyColumns>["bid"]`. */
export interface LedgerRows<C extends ColumnTypes> {
  spend: SpendRowOf<C>;
  overhead: OverheadRowOf<C>;
  winRate: WinRateRowOf<C>;
  auction: AuctionRowOf<C>;
  recent: RecentRowOf<C>;
  bid: BidRowOf<C>;
  charge: ChargeRowOf<C>;
  outcome: OutcomeRowOf<C>;
  budget: BudgetRowOf<C>;
  snapshot: SnapshotRowOf<C>;
  snapshotAccount: SnapshotAccountRowOf<C>;
}

/** The row-to-record functions of one backend, from {@link ledgerRowMapper}. */
export interface LedgerRowMapper<C extends ColumnTypes> {
  spendRow(by: SpendGrouping, row: SpendRowOf<C>): SpendRow;
  overheadPart(row: OverheadRowOf<C>): OverheadPart;
  winRateRow(row: WinRateRowOf<C>): WinRateRow;
  auctionSummary(row: AuctionRowOf<C>): AuctionSummary;
  /** An auction with its bids, charges and (when recorded) outcome. */
  auctionRecord(
    row: AuctionRowOf<C>,
    bids: readonly BidRowOf<C>[],
    charges: readonly ChargeRowOf<C>[],
    outcome: OutcomeRowOf<C> | undefined,
  ): AuctionRecord;
  recentAuction(row: RecentRowOf<C>, outcome: OutcomeRowOf<C> | undefined): RecentAuction;
  bidRecord(row: BidRowOf<C>): BidRecord;
  chargeRecord(row: ChargeRowOf<C>): ChargeRecord;
  outcomeRecord(row: OutcomeRowOf<C>): AuctionResultRecord;
  budgetRecord(row: BudgetRowOf<C>): BudgetDefinitionRecord;
  snapshotRecord(row: SnapshotRowOf<C>, accounts: readonly SnapshotAccountRowOf<C>[]): BudgetSnapshotRecord;
  accountState(row: SnapshotAccountRowOf<C>): BudgetAccountState;
}

/**
 * The mapping of a backend's rows to the ledger's records, reading columns with `decode`.
 *
 * @example
 * ```ts
 * interface SqliteColumns extends ColumnTypes { number: number; flag: number; json: string }
 * const rows = ledgerRowMapper<SqliteColumns>({
 *   number: (value) => value,
 *   flag: (value) => value === 1,
 *   json: (text) => JSON.parse(text),
 * });
 * rows.budgetRecord({ scope_kind: "global", scope_id: "*", max_tokens: null, max_usd: 5, label: null, defined_at: 0 });
 * // { scope: { kind: "global", id: "*" }, limits: { maxUsd: 5 }, definedAt: 0 }
 * ```
 */
export function ledgerRowMapper<C extends ColumnTypes>(decode: ColumnDecoder<C>): LedgerRowMapper<C> {
  const number = (value: C["number"]) => decode.number(value);
  const numberOrUndefined = (value: C["number"] | null) => (value === null ? undefined : decode.number(value));
  const jsonOrUndefined = (value: C["json"] | null) =>
    value === null ? undefined : (decode.json(value) as JsonObject);

  function limitsOf(row: { max_tokens: C["number"] | null; max_usd: C["number"] | null }): BudgetLimits {
    return compact({ maxTokens: numberOrUndefined(row.max_tokens), maxUsd: numberOrUndefined(row.max_usd) });
  }

  function auctionSummary(row: AuctionRowOf<C>): AuctionSummary {
    return compact({
      id: row.id,
      createdAt: number(row.created_at),
      kind: row.kind,
      mechanism: row.mechanism as MechanismName,
      scope:
        row.scope_kind === null || row.scope_id === null
          ? undefined
          : { kind: row.scope_kind as BudgetScope, id: row.scope_id },
      task: orUndefined(row.task),
      taskHash: orUndefined(row.task_hash),
      clearingPrice: number(row.clearing_price),
      seed: number(row.seed),
      reservePrice: number(row.reserve_price),
      winners: decode.json(row.winners) as string[],
      bidCount: row.bid_count,
      metadata: jsonOrUndefined(row.metadata),
    });
  }

  function bidRecord(row: BidRowOf<C>): BidRecord {
    return compact({
      bidder: row.bidder,
      amount: number(row.amount),
      value: numberOrUndefined(row.value),
      tokens: numberOrUndefined(row.tokens),
      won: decode.flag(row.won),
      rank: row.rank,
      price: number(row.price),
      reason: row.reason as BidReason,
      detail: row.detail,
      meta: jsonOrUndefined(row.meta),
    });
  }

  function chargeRecord(row: ChargeRowOf<C>): ChargeRecord {
    return compact({
      id: row.id,
      kind: row.kind as ChargeKind,
      model: row.model,
      agent: orUndefined(row.agent),
      scope: { kind: row.scope_kind as BudgetScope, id: row.scope_id },
      inputTokens: number(row.input_tokens),
      outputTokens: number(row.output_tokens),
      usd: number(row.usd),
      estimated: decode.flag(row.estimated),
      auctionId: orUndefined(row.auction_id),
      reservationId: orUndefined(row.reservation_id),
      label: orUndefined(row.label),
      at: number(row.at),
      metadata: jsonOrUndefined(row.metadata),
    });
  }

  function outcomeRecord(row: OutcomeRowOf<C>): AuctionResultRecord {
    return compact({
      auctionId: row.auction_id,
      correct: row.correct === null ? undefined : decode.flag(row.correct),
      score: numberOrUndefined(row.score),
      label: orUndefined(row.label),
      recordedAt: number(row.recorded_at),
      metadata: jsonOrUndefined(row.metadata),
    });
  }

  function accountState(row: SnapshotAccountRowOf<C>): BudgetAccountState {
    return {
      scope: row.scope_kind as BudgetScope,
      scopeId: row.scope_id,
      limits: limitsOf(row),
      spentTokens: number(row.spent_tokens),
      spentUsd: number(row.spent_usd),
      reservedTokens: number(row.reserved_tokens),
      reservedUsd: number(row.reserved_usd),
    };
  }

  return {
    spendRow(by, row) {
      const calls = number(row.calls);
      const inputTokens = number(row.input_tokens);
      const outputTokens = number(row.output_tokens);
      const estimatedCalls = number(row.estimated_calls);
      return {
        by,
        key: row.key,
        calls,
        inputTokens,
        outputTokens,
        totalTokens: inputTokens + outputTokens,
        usd: number(row.usd),
        estimatedCalls,
        estimatedShare: calls === 0 ? 0 : estimatedCalls / calls,
        firstAt: number(row.first_at),
        lastAt: number(row.last_at),
      };
    },

    overheadPart(row) {
      return {
        key: row.key,
        label: row.label,
        calls: number(row.calls),
        tokens: number(row.tokens),
        usd: number(row.usd),
        estimatedCalls: number(row.estimated_calls),
        firstAt: number(row.first_at),
        lastAt: number(row.last_at),
      };
    },

    winRateRow(row) {
      const auctions = number(row.auctions);
      const wins = number(row.wins);
      return {
        bidder: row.bidder,
        auctions,
        wins,
        winRate: auctions === 0 ? 0 : wins / auctions,
        meanPricePaid: row.mean_price_paid === null ? null : number(row.mean_price_paid),
        totalPaid: number(row.total_paid),
      };
    },

    auctionSummary,

    auctionRecord(row, bids, charges, outcome) {
      const record: AuctionRecord = {
        ...auctionSummary(row),
        bids: bids.map(bidRecord),
        charges: charges.map(chargeRecord),
      };
      if (outcome !== undefined) record.outcome = outcomeRecord(outcome);
      return record;
    },

    recentAuction(row, outcome) {
      const recent: RecentAuction = {
        ...auctionSummary(row),
        usd: number(row.spent_usd),
        tokens: number(row.spent_tokens),
      };
      if (outcome !== undefined) recent.outcome = outcomeRecord(outcome);
      return recent;
    },

    bidRecord,
    chargeRecord,
    outcomeRecord,

    budgetRecord(row) {
      return compact({
        scope: { kind: row.scope_kind as BudgetScope, id: row.scope_id },
        limits: limitsOf(row),
        label: orUndefined(row.label),
        definedAt: number(row.defined_at),
      });
    },

    snapshotRecord(row, accounts) {
      const record: BudgetSnapshotRecord = { takenAt: number(row.taken_at), accounts: accounts.map(accountState) };
      if (row.label !== null) record.label = row.label;
      return record;
    },

    accountState,
  };
}
