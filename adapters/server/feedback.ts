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
 */
import { z } from "zod";
import { RouterOutcomeError } from "../../src/router/memory-bids/errors.js";
import type { AuctionRouter } from "../../src/router/router.js";
import { invalidRequest, OpenAIHttpError } from "./openai.js";

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
export async function handleFeedback(text: string, router: Pick<AuctionRouter, "recordOutcome">): Promise<Response> {
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
