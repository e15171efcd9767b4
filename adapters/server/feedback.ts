/**
 * `POST /v1/gavel/feedback`: a client grades an answer `gavel/auto` gave, and the router learns from
 * it (`AuctionRouter.recordOutcome`: the ledger's outcome for the final answer, the strategy
 * memory's outcome for memory bids).
 *
 *   {"auction_id": "…", "correct": true}                 the final answer (x-gavel-auction-id)
 *   {"auction_id": "…", "score": 0.4, "member": "mini"}  an answer an escalation bought on the way
 *
 * Exactly one of `correct` and `score` (in [0, 1]); `member` must be one the auction called; an
 * optional `label` (text) goes to the ledger. Answers `200 {"object": "gavel.feedback", "auction_id",
 * "member", "recorded"}` — `recorded` is false when the router has no memory (the ledger still got
 * the final answer's outcome) — or an OpenAI-shaped error: 400 for a malformed body or a member the
 * auction did not call (`member_not_called`), 404 for an auction the router does not know
 * (`auction_not_found`), 409 for an answer already graded (`already_scored`).
 *
 * With keys, feedback is key-scoped ({@link createAuctionOwners}, {@link keyScoped}): an auction is
 * graded only with the key it was routed for; another key gets the same 404 as for an unknown
 * auction (nothing says that it exists).
 */
import { z } from "zod";
import { RouterOutcomeError } from "../../src/router/memory-bids/errors.js";
import type { RouterLedger } from "../../src/router/options.js";
import type { RouterOutcome } from "../../src/router/outcomes.js";
import type { AuctionRouter } from "../../src/router/router.js";
import { isKeyRunScope } from "./budgets.js";
import { invalidRequest, OpenAIHttpError } from "./openai.js";
import type { VirtualKey } from "./types.js";

/** Where the gateway takes feedback. */
export const FEEDBACK_PATH = "/v1/gavel/feedback";

const feedbackBodySchema = z
  .object({
    auction_id: z.string().min(1),
    correct: z.boolean().optional(),
    score: z.number().min(0).max(1).optional(),
    member: z.string().min(1).optional(),
    label: z.string().max(1_000).optional(),
  })
  .strict()
  .superRefine((body, context) => {
    if ((body.correct === undefined) === (body.score === undefined)) {
      context.addIssue({
        code: "custom",
        path: [body.correct === undefined ? "correct" : "score"],
        message: 'give exactly one of "correct" (true or false) and "score" (a number in [0, 1])',
      });
    }
  });

/** The body of a feedback request, validated. */
export type FeedbackBody = z.output<typeof feedbackBodySchema>;

/** The 200 answer of the feedback route. */
export interface FeedbackResponse {
  object: "gavel.feedback";
  auction_id: string;
  /** The member graded as given (`null`: the final answer's member). */
  member: string | null;
  /** True when the router's memory was updated; false when the router has no memory. */
  recorded: boolean;
}

/**
 * Handle one feedback request: parse the body, record the outcome on `router`, answer.
 *
 * @param text - The raw body.
 * @param router - The router of the requesting key (it knows its recent auctions; older ones are
 *   read from its ledger).
 * @returns the response (200, or a 400/404/409 OpenAI-shaped error).
 * @example
 * ```ts
 * app.post(FEEDBACK_PATH, async (c) => handleFeedback(await c.req.text(), routerFor(c.get("gavelKey"))));
 * ```
 */
export async function handleFeedback(text: string, router: OutcomeRecorder): Promise<Response> {
  try {
    const body = parseFeedbackBody(text);
    const recorded = await router.recordOutcome(body.auction_id, {
      ...(body.correct !== undefined && { correct: body.correct }),
      ...(body.score !== undefined && { score: body.score }),
      ...(body.member !== undefined && { member: body.member }),
      ...(body.label !== undefined && { label: body.label }),
    });
    const answer: FeedbackResponse = {
      object: "gavel.feedback",
      auction_id: body.auction_id,
      member: body.member ?? null,
      recorded,
    };
    return Response.json(answer);
  } catch (error) {
    if (error instanceof OpenAIHttpError) return error.toResponse();
    if (RouterOutcomeError.isInstance(error)) return outcomeRefused(error).toResponse();
    throw error;
  }
}

/** What records a graded answer: a router, or the gateway's recorder in front of its routers. */
export type OutcomeRecorder = Pick<AuctionRouter, "recordOutcome">;

/** Which key each routed auction ran for (see {@link createAuctionOwners}). */
export interface AuctionOwners {
  /** Remember that `auctionId` was routed for `key`. */
  remember(auctionId: string, key: VirtualKey): void;
  /**
   * Whether `auctionId` was routed for `key`: as remembered, else as the ledger's record of the
   * auction says (its run scope, `key:<id>`); false when neither knows.
   */
  owns(auctionId: string, key: VirtualKey): Promise<boolean>;
}

/** Most auctions whose key {@link createAuctionOwners} remembers (as many as a router remembers). */
export const REMEMBERED_OWNERS = 10_000;

/**
 * The keys the gateway's auctions ran for: the last `limit` remembered, older ones (and every
 * auction after a restart) read from `ledger`'s record — the gateway routes every auction of a key
 * under the run scope `key:<id>` (see `keyRunId`), which the ledger keeps as the auction's scope. An
 * auction whose record names no key (written by a gateway without keys) is owned by none.
 *
 * @param options - `ledger`: where forgotten auctions are looked up (needs `getAuction`; without
 *   it a forgotten auction is owned by none); `limit`: default {@link REMEMBERED_OWNERS}.
 * @example
 * ```ts
 * const owners = createAuctionOwners({ ledger });
 * owners.remember(auctionId, key);
 * await owners.owns(auctionId, otherKey); // false
 * ```
 */
export function createAuctionOwners(
  options: { ledger?: RouterLedger | undefined; limit?: number } = {},
): AuctionOwners {
  const { ledger, limit = REMEMBERED_OWNERS } = options;
  const owners = new Map<string, string>();
  return {
    remember(auctionId, key) {
      owners.delete(auctionId);
      owners.set(auctionId, key.id);
      if (owners.size > limit) owners.delete(owners.keys().next().value as string);
    },
    async owns(auctionId, key) {
      const owner = owners.get(auctionId);
      if (owner !== undefined) return owner === key.id;
      const stored = ledger?.getAuction ? await ledger.getAuction(auctionId) : undefined;
      return isKeyRunScope(stored?.scope, key);
    },
  };
}

/**
 * `recorder`, for `key` only: an auction `owners` does not give to `key` is refused as unknown
 * (`RouterOutcomeError` `unknown_auction`, the same 404 as an auction nobody knows).
 *
 * @example
 * ```ts
 * handleFeedback(text, keyScoped(routerFor(key), owners, key));
 * ```
 */
export function keyScoped(recorder: OutcomeRecorder, owners: AuctionOwners, key: VirtualKey): OutcomeRecorder {
  return {
    async recordOutcome(auctionId: string, outcome: RouterOutcome) {
      if (!(await owners.owns(auctionId, key))) {
        throw new RouterOutcomeError("unknown_auction", auctionId, outcome.member);
      }
      return recorder.recordOutcome(auctionId, outcome);
    },
  };
}

/** The body, or a 400 naming the field and the fix. */
function parseFeedbackBody(text: string): FeedbackBody {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalidRequest(
      `We could not parse the JSON body of your request: ${error instanceof Error ? error.message : String(error)}. Send {"auction_id": "...", "correct": true} with Content-Type: application/json.`,
      null,
      "invalid_json",
    );
  }
  const result = feedbackBodySchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const unknown = issue?.code === "unrecognized_keys" ? issue.keys[0] : undefined;
  const param = unknown ?? (issue?.path.length ? issue.path.join(".") : null);
  const message =
    unknown !== undefined
      ? `Unknown field '${unknown}': feedback takes auction_id, correct or score, member and label.`
      : `Invalid '${param ?? "body"}': ${issue?.message ?? "expected a JSON object"}.`;
  throw invalidRequest(message, param);
}

/** 404 / 409 / 400 for the three reasons `recordOutcome` refuses an outcome. */
function outcomeRefused(error: RouterOutcomeError): OpenAIHttpError {
  const [status, param] =
    error.reason === "unknown_auction"
      ? ([404, "auction_id"] as const)
      : error.reason === "already_scored"
        ? ([409, "member"] as const)
        : ([400, "member"] as const);
  const code = error.reason === "unknown_auction" ? "auction_not_found" : error.reason;
  return new OpenAIHttpError(status, { message: error.message, type: "invalid_request_error", code, param });
}
