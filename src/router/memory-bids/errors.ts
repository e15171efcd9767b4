/**
 * Errors of memory bids: a memory written with another embedder, and an outcome the router cannot
 * record (unknown auction, already scored, member not called).
 */
import { GavelError } from "../../errors.js";

/**
 * A strategy memory holds outcome entries written with another embedder than the router's (or its
 * vectors have another dimension). Similarities between vectors of two embedders mean nothing, so the
 * router refuses to bid from them.
 *
 * @example
 * ```ts
 * try {
 *   await router.invoke("Which gas do plants absorb?");
 * } catch (error) {
 *   if (MemoryEmbedderMismatchError.isInstance(error)) console.error(error.expected, error.found);
 *   // e.g. "hashing-256", "OpenAIEmbeddings"
 * }
 * ```
 */
export class MemoryEmbedderMismatchError extends GavelError {
  override readonly name = "MemoryEmbedderMismatchError";
  /** The id of the router's embedder. */
  readonly expected: string;
  /** The id found in the memory (or `undefined` when the mismatch is a vector dimension). */
  readonly found: string | undefined;

  constructor(expected: string, found: string | undefined, options: { reason?: string; cause?: unknown } = {}) {
    const what =
      found === undefined
        ? `the strategy memory's vectors do not fit the router's embedder "${expected}"${options.reason ? ` (${options.reason})` : ""}`
        : `the strategy memory holds outcome entries embedded with "${found}", but the router embeds with "${expected}"`;
    super(
      `${what}. Fix: give the router the embedder that wrote the memory ("embeddings" option), or start a new memory for "${expected}".`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.expected = expected;
    this.found = found;
  }
}

/** Why `AuctionRouter.recordOutcome` refused an outcome. */
export type RouterOutcomeReason = "unknown_auction" | "already_scored" | "member_not_called";

const OUTCOME_PROBLEMS: Record<RouterOutcomeReason, (auctionId: string, member: string | undefined) => string> = {
  unknown_auction: (auctionId) =>
    `auction "${auctionId}" is unknown (neither among the router's recent auctions nor in its ledger). Fix: pass the auctionId from the answer's response_metadata.gavel.auction.`,
  already_scored: (auctionId, member) =>
    `the outcome of member "${member}" in auction "${auctionId}" is already recorded; each (auction, member) is scored once. Fix: do not report it twice.`,
  member_not_called: (auctionId, member) =>
    `member "${member}" was not called in auction "${auctionId}", so it has no answer to score. Fix: pass a member from the auction's "calls", or omit "member" to score the final answer.`,
};

/**
 * `AuctionRouter.recordOutcome` refused an outcome: the auction is unknown, that (auction, member)
 * is already scored, or the member was not called in that auction (bandit feedback: only an answer
 * that was bought can be scored).
 *
 * @example
 * ```ts
 * try {
 *   await router.recordOutcome(auctionId, { correct: true, member: "large" });
 * } catch (error) {
 *   if (RouterOutcomeError.isInstance(error)) console.error(error.reason, error.auctionId, error.member);
 *   // e.g. "member_not_called", "a1b2…", "large"
 * }
 * ```
 */
export class RouterOutcomeError extends GavelError {
  override readonly name = "RouterOutcomeError";
  readonly reason: RouterOutcomeReason;
  readonly auctionId: string;
  /** The member the outcome was for (`undefined` when the auction is unknown and none was given). */
  readonly member: string | undefined;

  constructor(reason: RouterOutcomeReason, auctionId: string, member?: string) {
    super(`Cannot record the outcome: ${OUTCOME_PROBLEMS[reason](auctionId, member)}`);
    this.reason = reason;
    this.auctionId = auctionId;
    this.member = member;
  }
}
