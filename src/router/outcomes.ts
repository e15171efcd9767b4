/**
 * Bandit feedback on routed answers: which members an auction called, and the one rule by which a
 * graded answer reaches the ledger and the strategy memory — only a member that was called is
 * graded, and an (auction, member) pair is graded once. `AuctionRouter.recordOutcome` and the
 * gateway's fast path (`adapters/server/fast-path.ts`) both record through {@link RoutedOutcomes}.
 */
import type { AuctionLedger, OutcomeInput } from "../ledger/types.js";
import type { StrategyMemory } from "../memory/types.js";
import { RouterOutcomeError } from "./memory-bids/index.js";

/**
 * The graded outcome of a routed answer, for `AuctionRouter.recordOutcome`: `correct` or `score`
 * (and the ledger's `label`, `metadata`, `recordedAt`), and the `member` graded (default: the member
 * whose answer was final).
 */
export type RouterOutcome = Omit<OutcomeInput, "auctionId"> & { member?: string };

/** Who answered in one auction: the final member and every member whose answer was bought. */
export interface CalledMembers {
  final: string | undefined;
  members: readonly string[];
}

/** Where a graded answer is written: the auction's outcome in the ledger, the entry's in the memory. */
export interface OutcomeStores {
  ledger?: Pick<AuctionLedger, "recordOutcome"> | undefined;
  memory?: Pick<StrategyMemory, "get" | "recordOutcome"> | undefined;
}

/** What is remembered of one auction: its members, and the writes to wait for before grading it. */
export interface RememberedAuction extends CalledMembers {
  /** Settles when the auction's ledger and memory writes are done (the gateway writes after responding). */
  written?: Promise<unknown>;
}

/**
 * The recent auctions of one router (or gateway) and the (auction, member) pairs already graded,
 * both bounded (the oldest forgotten first).
 *
 * @example
 * ```ts
 * const outcomes = new RoutedOutcomes();
 * outcomes.remember("a1", { final: "mini", members: ["nano", "mini"] });
 * await outcomes.record("a1", { correct: true }, { ledger, memory }); // grades "mini"
 * await outcomes.record("a1", { correct: true }, { ledger, memory }); // RouterOutcomeError already_scored
 * ```
 */
export class RoutedOutcomes {
  readonly #auctions = new Map<string, RememberedAuction>();
  readonly #scored = new Set<string>();

  /** @param limit most auctions remembered (the graded pairs: four times as many). */
  constructor(readonly limit = 10_000) {}

  /** Remember who answered in `auctionId`. */
  remember(auctionId: string, auction: RememberedAuction): void {
    this.#auctions.set(auctionId, auction);
    if (this.#auctions.size > this.limit) this.#auctions.delete(this.#auctions.keys().next().value as string);
  }

  /** Whether `auctionId` is among the remembered auctions. */
  has(auctionId: string): boolean {
    return this.#auctions.has(auctionId);
  }

  /**
   * Grade one answer of `auctionId`: the ledger's outcome when the member's answer was final, the
   * memory entry `auctionId:member`'s outcome. An auction not remembered is looked up with `stored`
   * (e.g. in the ledger).
   *
   * @returns whether the memory took the outcome (`false`: no memory, or no `correct`/`score`).
   * @throws RouterOutcomeError `unknown_auction`, `member_not_called`, or `already_scored` (here, or
   *   in the memory by another process or before a restart).
   */
  async record(
    auctionId: string,
    outcome: RouterOutcome,
    stores: OutcomeStores,
    stored?: (auctionId: string) => Promise<CalledMembers | undefined>,
  ): Promise<boolean> {
    const { member: requested, ...graded } = outcome;
    const called: RememberedAuction | undefined = this.#auctions.get(auctionId) ?? (await stored?.(auctionId));
    if (called === undefined) throw new RouterOutcomeError("unknown_auction", auctionId, requested);
    const member = requested ?? called.final;
    if (member === undefined || !called.members.includes(member)) {
      throw new RouterOutcomeError("member_not_called", auctionId, member);
    }
    const key = `${auctionId}:${member}`;
    if (this.#scored.has(key)) throw new RouterOutcomeError("already_scored", auctionId, member);
    // Claimed before any await: a concurrent outcome for the same (auction, member) is refused, not counted twice.
    this.#scored.add(key);
    if (this.#scored.size > this.limit * 4) this.#scored.delete(this.#scored.values().next().value as string);
    const { ledger, memory } = stores;
    try {
      await called.written; // the auction and its entries exist once written
      if ((await memory?.get(key))?.outcome !== undefined) {
        throw new RouterOutcomeError("already_scored", auctionId, member);
      }
      if (ledger && member === called.final) await ledger.recordOutcome({ ...graded, auctionId });
    } catch (error) {
      // Scored elsewhere (another process, before a restart): stays claimed; any other failure frees it for a retry.
      if (!(RouterOutcomeError.isInstance(error) && error.reason === "already_scored")) this.#scored.delete(key);
      throw error;
    }
    const value = graded.score ?? (graded.correct === undefined ? undefined : graded.correct ? 1 : 0);
    if (!memory || value === undefined) return false;
    return memory.recordOutcome(key, value);
  }
}
