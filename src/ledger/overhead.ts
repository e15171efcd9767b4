/**
 * Auction overhead: how many of the settled tokens went to the answer, and how many to holding the
 * auction that chose who answers (plans, jury scores, refinements, debate intents, escalations).
 *
 * The role of a charge is read from its `label`, through {@link CHARGE_LABEL_ROLES}: the one place
 * that says which labels are answers and which are overhead. Backends group settled charges by
 * (group key, label) and fold those partial sums with {@link foldOverhead}, so every backend
 * classifies labels the same way.
 */
import type { OverheadGrouping, OverheadRow } from "./types.js";

/** What a charge was for: the answer the user gets, or the auction around it. */
export type ChargeRole = "answer" | "overhead";

/**
 * The charge labels Gavel writes, and their role. Labels not listed here (and charges with no
 * label) are counted as `otherTokens`: in neither the answer nor the overhead, nor the share.
 *
 * - The SALE router (`src/router/`) labels its ledger charges `plan`, `jury`, `refine`, `answer`;
 *   its budget reservations carry the same names prefixed `router.` (a budget `onEvent` sink
 *   records those).
 * - The debate (`src/debate/`) labels `debate.intent` (a bid) and `debate.message` (a spoken
 *   message). `debate.draft` is left out on purpose: in full-draft mode a draft is the bid of
 *   every agent and, for the winners, also the message, and its label cannot tell them apart.
 * - The recorded-data runner (`src/eval/routing/runner.ts`) labels the kept call `answer` and the calls
 *   of an escalation ladder or cascade whose answer was not kept `escalation`.
 *
 * @example
 * ```ts
 * CHARGE_LABEL_ROLES["router.plan"]; // "overhead"
 * CHARGE_LABEL_ROLES["debate.message"]; // "answer"
 * CHARGE_LABEL_ROLES["summarize"]; // undefined: an unknown label has no role
 * ```
 */
export const CHARGE_LABEL_ROLES: Readonly<Record<string, ChargeRole>> = Object.freeze({
  plan: "overhead",
  jury: "overhead",
  refine: "overhead",
  answer: "answer",
  "router.plan": "overhead",
  "router.jury": "overhead",
  "router.refine": "overhead",
  "router.answer": "answer",
  "debate.intent": "overhead",
  "debate.message": "answer",
  escalation: "overhead",
});

/** The role of a charge label, or `undefined` when the label is in neither set. */
export function chargeRole(label: string | null | undefined): ChargeRole | undefined {
  if (label === null || label === undefined || !Object.hasOwn(CHARGE_LABEL_ROLES, label)) return undefined;
  return CHARGE_LABEL_ROLES[label];
}

/** Settled charges of one (group key, label) pair, summed: what a backend hands to {@link foldOverhead}. */
export interface OverheadPart {
  key: string | null;
  label: string | null;
  calls: number;
  tokens: number;
  usd: number;
  estimatedCalls: number;
  firstAt: number;
  lastAt: number;
}

/**
 * Fold per-(key, label) sums into one {@link OverheadRow} per key, with `auctions` (distinct
 * auctions by key) as the auction counts. Rows come back oldest first for `run` and `auction`,
 * most overhead tokens first for `model`.
 *
 * @example
 * ```ts
 * foldOverhead("run", [
 *   { key: "r1", label: "plan", calls: 2, tokens: 90, usd: 0.001, estimatedCalls: 0, firstAt: 1, lastAt: 1 },
 *   { key: "r1", label: "answer", calls: 1, tokens: 210, usd: 0.004, estimatedCalls: 0, firstAt: 1, lastAt: 1 },
 * ], new Map([["r1", 1]]))[0]?.overheadShare; // 0.3
 * ```
 */
export function foldOverhead(
  by: OverheadGrouping,
  parts: readonly OverheadPart[],
  auctions: ReadonlyMap<string | null, number> = new Map(),
): OverheadRow[] {
  const groups = new Map<string | null, OverheadRow>();
  for (const part of parts) {
    let row = groups.get(part.key);
    if (row === undefined) {
      row = emptyRow(by, part.key, part.firstAt, part.lastAt);
      row.auctions = auctions.get(part.key) ?? 0;
      groups.set(part.key, row);
    }
    row.calls += part.calls;
    row.estimatedCalls += part.estimatedCalls;
    row.firstAt = Math.min(row.firstAt, part.firstAt);
    row.lastAt = Math.max(row.lastAt, part.lastAt);
    const role = chargeRole(part.label);
    if (role === "answer") {
      row.answerTokens += part.tokens;
      row.answerUsd += part.usd;
    } else if (role === "overhead") {
      row.overheadTokens += part.tokens;
      row.overheadUsd += part.usd;
      const label = part.label ?? "";
      row.overheadByLabel[label] = (row.overheadByLabel[label] ?? 0) + part.tokens;
    } else {
      row.otherTokens += part.tokens;
      row.otherUsd += part.usd;
    }
  }
  const rows = [...groups.values()].map(withShares);
  const byKey = (left: OverheadRow, right: OverheadRow) => String(left.key).localeCompare(String(right.key));
  return by === "model"
    ? rows.sort((left, right) => right.overheadTokens - left.overheadTokens || byKey(left, right))
    : rows.sort((left, right) => left.firstAt - right.firstAt || byKey(left, right));
}

/**
 * The rows summed into one (key `null`), e.g. the total line of a report. Shares are recomputed
 * from the sums, not averaged.
 *
 * @example
 * ```ts
 * const total = overheadTotal(await ledger.overhead({ by: "run" }));
 * console.log(`auction overhead: ${(100 * total.overheadShare).toFixed(1)}% of tokens`);
 * ```
 */
export function overheadTotal(rows: readonly OverheadRow[]): OverheadRow {
  const total = emptyRow(rows[0]?.by ?? "run", null, rows.length === 0 ? 0 : Number.POSITIVE_INFINITY, 0);
  for (const row of rows) {
    total.auctions += row.auctions;
    total.calls += row.calls;
    total.answerTokens += row.answerTokens;
    total.overheadTokens += row.overheadTokens;
    total.otherTokens += row.otherTokens;
    total.answerUsd += row.answerUsd;
    total.overheadUsd += row.overheadUsd;
    total.otherUsd += row.otherUsd;
    total.estimatedCalls += row.estimatedCalls;
    total.firstAt = Math.min(total.firstAt, row.firstAt);
    total.lastAt = Math.max(total.lastAt, row.lastAt);
    for (const [label, tokens] of Object.entries(row.overheadByLabel)) {
      total.overheadByLabel[label] = (total.overheadByLabel[label] ?? 0) + tokens;
    }
  }
  return withShares(total);
}

/** Fill `totalTokens` and the shares from the sums. */
function withShares(row: OverheadRow): OverheadRow {
  row.totalTokens = row.answerTokens + row.overheadTokens + row.otherTokens;
  const counted = row.answerTokens + row.overheadTokens;
  row.overheadShare = counted === 0 ? 0 : row.overheadTokens / counted;
  const countedUsd = row.answerUsd + row.overheadUsd;
  row.overheadUsdShare = countedUsd === 0 ? 0 : row.overheadUsd / countedUsd;
  return row;
}

function emptyRow(by: OverheadGrouping, key: string | null, firstAt: number, lastAt: number): OverheadRow {
  return {
    by,
    key,
    auctions: 0,
    calls: 0,
    answerTokens: 0,
    overheadTokens: 0,
    otherTokens: 0,
    totalTokens: 0,
    overheadShare: 0,
    answerUsd: 0,
    overheadUsd: 0,
    otherUsd: 0,
    overheadUsdShare: 0,
    overheadByLabel: {},
    estimatedCalls: 0,
    firstAt,
    lastAt,
  };
}
