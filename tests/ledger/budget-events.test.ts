/**
 * `createBudgetEventRecorder`: a budget's events as ledger charges, including the release of a dead
 * replica's reservation when its lease ends.
 */
import { describe, expect, it } from "vitest";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { createMemoryBudgetStore, createTokenBudget } from "../../src/budget/index.js";
import { BudgetExhaustedError } from "../../src/errors.js";
import { budgetEventCharge, createBudgetEventRecorder } from "../../src/ledger/index.js";

interface ChargeRow {
  kind: string;
  scope_kind: string;
  scope_id: string;
  input_tokens: number;
  output_tokens: number;
  reservation_id: string | null;
  metadata: string | null;
}

describe("createBudgetEventRecorder", () => {
  it("records reserve, settle, refuse and the lease expiry of a dead replica's reservation", async () => {
    const ledger = createSqliteLedger({ path: ":memory:" });
    const recorder = createBudgetEventRecorder(ledger);
    const store = createMemoryBudgetStore();
    let clock = 0;
    const options = { limits: { global: { maxTokens: 300 }, run: {} }, store, leaseMs: 1_000, now: () => clock };
    const dead = createTokenBudget(options); // never settles: its process "died"
    const alive = createTokenBudget({ ...options, onEvent: recorder.onEvent });
    const stuck = await dead.reserve({ model: "gpt-4o-mini", inputTokens: 100, maxOutputTokens: 100 });
    await expect(
      alive.reserve({ model: "gpt-4o-mini", inputTokens: 100, maxOutputTokens: 100, scopes: { run: "r1" } }),
    ).rejects.toSatisfy((error) => BudgetExhaustedError.isInstance(error));
    clock = 1_001;
    const held = await alive.reserve({
      model: "gpt-4o-mini",
      inputTokens: 100,
      maxOutputTokens: 100,
      scopes: { run: "r1" },
    });
    await alive.settle(held, { inputTokens: 100, outputTokens: 7 });
    await recorder.flush();

    const rows = ledger.database
      .prepare(
        "SELECT kind, scope_kind, scope_id, input_tokens, output_tokens, reservation_id, metadata FROM charges ORDER BY rowid",
      )
      .all() as ChargeRow[];
    expect(rows.map((row) => row.kind)).toEqual(["refuse", "release", "reserve", "settle"]);
    const [refuse, expired, reserve, settle] = rows as [ChargeRow, ChargeRow, ChargeRow, ChargeRow];
    expect(refuse).toMatchObject({ scope_kind: "run", scope_id: "r1", input_tokens: 100, output_tokens: 100 });
    expect(expired).toMatchObject({ scope_kind: "global", reservation_id: stuck.id, input_tokens: 200 });
    expect(JSON.parse(expired.metadata ?? "{}")).toEqual({ reason: "lease_expired", expiredAt: 1_000 });
    expect(reserve).toMatchObject({ reservation_id: held.id, scope_kind: "run", input_tokens: 200 });
    expect(settle).toMatchObject({ reservation_id: held.id, input_tokens: 100, output_tokens: 7 });
    await ledger.close();
  });

  it("keeps a failed write and rejects flush with it", async () => {
    const ledger = createSqliteLedger({ path: ":memory:" });
    const recorder = createBudgetEventRecorder(ledger);
    await ledger.close(); // every write now fails
    const budget = createTokenBudget({ limits: { global: {} }, onEvent: recorder.onEvent });
    budget.reserve({ model: "gpt-4o-mini", inputTokens: 1, maxOutputTokens: 1 });
    await expect(recorder.flush()).rejects.toThrow();
  });

  it("marks a late settle and an overrun in the charge's metadata", () => {
    const reservation = { id: "r", model: "m", scopes: {}, tokens: 10, usd: 0 };
    const charge = budgetEventCharge({
      type: "settle",
      at: 5,
      reservation,
      settlement: {
        reservationId: "r",
        model: "m",
        usage: { inputTokens: 5, outputTokens: 9 },
        tokens: 14,
        usd: 0,
        estimated: false,
        overrun: true,
        late: true,
      },
    });
    expect(charge).toMatchObject({ kind: "settle", metadata: { overrun: true, late: true }, reservationId: "r" });
  });
});
