/**
 * Every SQL statement of the PostgreSQL ledger, parameterised, over the tables of one schema.
 *
 * The queries answer as the SQLite ledger's do (`adapters/sqlite/ledger.ts`), row for row and in the
 * same order:
 *
 * - text is ordered byte-wise (`COLLATE "C"`), as SQLite's BINARY collation orders it, whatever the
 *   database's collation, and `NULL` keys sort first, as in SQLite;
 * - ties of time are broken by `seq`, the order of insertion (SQLite's rowid);
 * - a write is one statement (an auction with its bids, a batch, a snapshot with its accounts): one
 *   round trip, atomic on its own; rows go in with `unnest(...) WITH ORDINALITY`, in input order.
 *
 * Results keep PostgreSQL's text form of `bigint` and `numeric` (strings); `ledger.ts` turns them into
 * numbers.
 */
import type { OverheadGrouping, SpendGrouping } from "../../src/ledger/types.js";
import { LEDGER_TABLES } from "./ledger-migrations.js";

/** Byte-wise text order, NULLs first: SQLite's order of a text column. */
const C = 'COLLATE "C" NULLS FIRST';

const SPEND_KEY: Record<SpendGrouping, string> = {
  model: "model",
  agent: "agent",
  scope: "scope_kind || ':' || scope_id",
  // A tool call is charged as model "tool:<name>" (see src/budget/tool-prices.ts); model calls: NULL.
  tool: "CASE WHEN left(model, 5) = 'tool:' THEN substr(model, 6) END",
};

/** The group key of an overhead row; `c` is the charge, `a` its auction (when recorded). */
const OVERHEAD_KEY: Record<OverheadGrouping, string> = {
  run: "COALESCE(CASE WHEN c.scope_kind = 'run' THEN c.scope_id END, CASE WHEN a.scope_kind = 'run' THEN a.scope_id END)",
  auction: "c.auction_id",
  model: "c.model",
};

/**
 * The statements of one ledger, over the tables `table(name)` names (schema-qualified and quoted).
 * Time bounds are `$1` (since, inclusive) and `$2` (until, exclusive); a kind filter is `$3` (NULL: any).
 *
 * @example
 * ```ts
 * const sql = ledgerStatements((name) => connection.table(name));
 * await client.query(sql.spend.model, [since, until]);
 * ```
 */
export function ledgerStatements(table: (name: string) => string) {
  const auctions = table(LEDGER_TABLES.auctions);
  const bids = table(LEDGER_TABLES.bids);
  const charges = table(LEDGER_TABLES.charges);
  const outcomes = table(LEDGER_TABLES.outcomes);
  const budgets = table(LEDGER_TABLES.budgets);
  const snapshots = table(LEDGER_TABLES.snapshots);
  const snapshotAccounts = table(LEDGER_TABLES.snapshotAccounts);

  const spend = (by: SpendGrouping) => `
    SELECT ${SPEND_KEY[by]} AS key, count(*) AS calls,
           sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(usd) AS usd,
           count(*) FILTER (WHERE estimated) AS estimated_calls, min(at) AS first_at, max(at) AS last_at
    FROM ${charges}
    WHERE kind = 'settle' AND at >= $1 AND at < $2
    GROUP BY 1
    ORDER BY sum(usd) DESC, (${SPEND_KEY[by]}) ${C}`;

  const overheadFilter = `
    FROM ${charges} c LEFT JOIN ${auctions} a ON a.id = c.auction_id
    WHERE c.kind = 'settle' AND c.at >= $1 AND c.at < $2 AND ($3::text IS NULL OR a.kind = $3::text)`;

  /** Settled charges summed by (group key, label), in SQLite's group order; `foldOverhead` makes the rows. */
  const overheadParts = (by: OverheadGrouping) => `
    SELECT ${OVERHEAD_KEY[by]} AS key, c.label AS label, count(*) AS calls,
           sum(c.input_tokens + c.output_tokens) AS tokens, sum(c.usd) AS usd,
           count(*) FILTER (WHERE c.estimated) AS estimated_calls, min(c.at) AS first_at, max(c.at) AS last_at
    ${overheadFilter}
    GROUP BY 1, 2
    ORDER BY (${OVERHEAD_KEY[by]}) ${C}, c.label ${C}`;

  /** Distinct linked auctions by group key. */
  const overheadAuctions = (by: OverheadGrouping) =>
    `SELECT ${OVERHEAD_KEY[by]} AS key, count(DISTINCT c.auction_id) AS auctions ${overheadFilter} GROUP BY 1`;

  return {
    /**
     * Auctions and their bids in one statement (so one round trip, atomic without BEGIN/COMMIT; the
     * bids' foreign keys are checked at its end). `$1`...`$14`: one array per auction column, one
     * element per auction; `$15`...`$25`: one array per bid column, one element per bid of the batch.
     */
    insertAuctions: `
      WITH new_auctions AS (
        INSERT INTO ${auctions} (id, created_at, kind, mechanism, scope_kind, scope_id, task, task_hash,
                                 clearing_price, seed, reserve_price, winners, bid_count, metadata)
        SELECT id, created_at, kind, mechanism, scope_kind, scope_id, task, task_hash,
               clearing_price, seed, reserve_price, winners::json, bid_count, metadata::json
        FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                    $9::numeric[], $10::bigint[], $11::numeric[], $12::text[], $13::integer[], $14::text[])
             WITH ORDINALITY AS input (id, created_at, kind, mechanism, scope_kind, scope_id, task, task_hash,
                                       clearing_price, seed, reserve_price, winners, bid_count, metadata, position)
        ORDER BY position
      )
      INSERT INTO ${bids} (auction_id, bidder, rank, amount, value, tokens, won, price, reason, detail, meta)
      SELECT auction_id, bidder, rank, amount, value, tokens, won, price, reason, detail, meta::json
      FROM unnest($15::text[], $16::text[], $17::integer[], $18::numeric[], $19::numeric[], $20::bigint[],
                  $21::boolean[], $22::numeric[], $23::text[], $24::text[], $25::text[])
           AS input (auction_id, bidder, rank, amount, value, tokens, won, price, reason, detail, meta)`,
    /** `$1`...`$15`: one array per column, one element per charge. */
    insertCharges: `
      INSERT INTO ${charges} (id, at, kind, model, agent, scope_kind, scope_id, input_tokens, output_tokens,
                              usd, estimated, auction_id, reservation_id, label, metadata)
      SELECT id, at, kind, model, agent, scope_kind, scope_id, input_tokens, output_tokens,
             usd, estimated, auction_id, reservation_id, label, metadata::json
      FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                  $8::bigint[], $9::bigint[], $10::numeric[], $11::boolean[], $12::text[], $13::text[], $14::text[],
                  $15::text[])
           WITH ORDINALITY AS input (id, at, kind, model, agent, scope_kind, scope_id, input_tokens, output_tokens,
                                     usd, estimated, auction_id, reservation_id, label, metadata, position)
      ORDER BY position`,
    upsertOutcome: `
      INSERT INTO ${outcomes} (auction_id, recorded_at, correct, score, label, metadata)
      VALUES ($1, $2, $3, $4, $5, $6::json)
      ON CONFLICT (auction_id) DO UPDATE SET recorded_at = EXCLUDED.recorded_at, correct = EXCLUDED.correct,
        score = EXCLUDED.score, label = EXCLUDED.label, metadata = EXCLUDED.metadata`,
    upsertBudget: `
      INSERT INTO ${budgets} (scope_kind, scope_id, max_tokens, max_usd, label, defined_at)
      VALUES ($1, $2, $3, $4, $5, $6)
      ON CONFLICT (scope_kind, scope_id) DO UPDATE SET max_tokens = EXCLUDED.max_tokens,
        max_usd = EXCLUDED.max_usd, label = EXCLUDED.label, defined_at = EXCLUDED.defined_at`,
    /**
     * A snapshot and its accounts in one statement. `$1` taken at, `$2` the label; `$3`...`$10`: one
     * array per account column, one element per account.
     */
    insertSnapshot: `
      WITH snapshot AS (INSERT INTO ${snapshots} (taken_at, label) VALUES ($1, $2) RETURNING id)
      INSERT INTO ${snapshotAccounts} (snapshot_id, scope_kind, scope_id, max_tokens, max_usd,
                                       spent_tokens, spent_usd, reserved_tokens, reserved_usd)
      SELECT snapshot.id, scope_kind, scope_id, max_tokens, max_usd, spent_tokens, spent_usd, reserved_tokens, reserved_usd
      FROM snapshot,
           unnest($3::text[], $4::text[], $5::bigint[], $6::numeric[], $7::bigint[], $8::numeric[], $9::bigint[],
                  $10::numeric[])
           AS input (scope_kind, scope_id, max_tokens, max_usd, spent_tokens, spent_usd, reserved_tokens, reserved_usd)`,

    spend: { model: spend("model"), agent: spend("agent"), scope: spend("scope"), tool: spend("tool") },
    overhead: {
      run: { parts: overheadParts("run"), auctions: overheadAuctions("run") },
      auction: { parts: overheadParts("auction"), auctions: overheadAuctions("auction") },
      model: { parts: overheadParts("model"), auctions: overheadAuctions("model") },
    },
    winRates: `
      SELECT b.bidder AS bidder, count(*) AS auctions, count(*) FILTER (WHERE b.won) AS wins,
             sum(b.price) FILTER (WHERE b.won) AS won_paid, sum(b.price) AS total_paid
      FROM ${bids} b JOIN ${auctions} a ON a.id = b.auction_id
      WHERE a.created_at >= $1 AND a.created_at < $2 AND ($3::text IS NULL OR a.kind = $3::text)
      GROUP BY b.bidder
      ORDER BY wins DESC, auctions DESC, b.bidder ${C}`,
    auction: `SELECT * FROM ${auctions} WHERE id = $1`,
    bidsOf: `SELECT * FROM ${bids} WHERE auction_id = $1 ORDER BY rank, bidder ${C}`,
    chargesOf: `SELECT * FROM ${charges} WHERE auction_id = $1 ORDER BY at, seq`,
    outcomeOf: `SELECT * FROM ${outcomes} WHERE auction_id = $1`,
    /** `$1` the kind (NULL: any), `$2` the limit. The outcome's columns come prefixed `outcome_`. */
    recent: `
      SELECT a.*,
             (SELECT COALESCE(sum(c.usd), 0) FROM ${charges} c
               WHERE c.auction_id = a.id AND c.kind = 'settle') AS spent_usd,
             (SELECT COALESCE(sum(c.input_tokens + c.output_tokens), 0) FROM ${charges} c
               WHERE c.auction_id = a.id AND c.kind = 'settle') AS spent_tokens,
             o.auction_id AS outcome_auction_id, o.recorded_at AS outcome_recorded_at, o.correct AS outcome_correct,
             o.score AS outcome_score, o.label AS outcome_label, o.metadata AS outcome_metadata
      FROM ${auctions} a LEFT JOIN ${outcomes} o ON o.auction_id = a.id
      WHERE ($1::text IS NULL OR a.kind = $1::text)
      ORDER BY a.created_at DESC, a.seq DESC
      LIMIT $2`,
    budgets: `SELECT * FROM ${budgets} ORDER BY scope_kind ${C}, scope_id ${C}`,
    latestSnapshot: `SELECT id, taken_at, label FROM ${snapshots} ORDER BY taken_at DESC, id DESC LIMIT 1`,
    snapshotAccounts: `SELECT * FROM ${snapshotAccounts} WHERE snapshot_id = $1 ORDER BY scope_kind ${C}, scope_id ${C}`,
  };
}

/**
 * The statements of one ledger.
 *
 * @example
 * ```ts
 * const sql: LedgerStatements = ledgerStatements(connection.table);
 * const { rows } = await pool.query(sql.budgets);
 * ```
 */
export type LedgerStatements = ReturnType<typeof ledgerStatements>;
