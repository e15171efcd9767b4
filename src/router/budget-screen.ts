/**
 * The budget side of the strategy auction, used only when the router has a `TokenBudget`: what
 * calls may cost at most (`Need`), the pre-screen of bidders, the reserve every auction call must
 * leave for the answer (docs/router.md, "Budgets"). Prompts are counted by the engine's
 * `PromptTokenCounter` (src/budget/tokens.ts), exactly as `countMessageTokens` counts them.
 *
 * Read top to bottom: the state the screen reads, the screen factory (needs, the pre-screen, the
 * refusals), the own count of a local member's conversation, then the `Need` arithmetic.
 */
import { type BaseMessage, HumanMessage, SystemMessage } from "@langchain/core/messages";
import { costUsd, type ScopeIds } from "../budget/index.js";
import { PromptTokenCounter, TOKENS_PER_MESSAGE } from "../budget/tokens.js";
import type { ModelPrice } from "../budget/types.js";
import { countsOwnPrompt, declaredOutputCap, promptTokensOf } from "../models.js";
import { byPrice, type ResolvedMember, type RouterSettings } from "./options.js";
import { executionPlanText, JURY_RUBRIC, juryRequest } from "./prompts.js";

// ---------------------------------------------------------------------------
// What the screen reads of one auction
// ---------------------------------------------------------------------------

/** Tokens and USD a call (or several) may spend at most: what its reservation holds. */
export interface Need {
  tokens: number;
  usd: number;
}

/** The parts of a request that the winner's answer is sent with. */
export interface AnswerRequest {
  messages: readonly BaseMessage[];
  /** Tools bound for the answer: their schemas are prompt tokens. */
  tools?: readonly unknown[];
  /** A system prompt sent with the answer besides `messages`. */
  systemPrompt?: string;
}

/** The fields of an auction's state the screen reads (the auction's state has them all). */
export interface ScreenState {
  request: AnswerRequest;
  transcript: string;
  scopes: ScopeIds | undefined;
  /** With a budget that limits these scopes: the room every auction call must leave for the answer. */
  floor: Need | undefined;
  /** The planning prompt (one array for every bidder). */
  planPrompt: BaseMessage[];
  /** The jury prompt without plans, for estimates (built on first use). */
  juryPrompt?: BaseMessage[];
  /**
   * By member name, for members whose model counts its own prompt (local models): that count of the
   * conversation the answer is sent with (system prompt included), which js-tiktoken undercounts.
   */
  ownConversationCounts?: ReadonlyMap<string, number>;
}

/** What the pre-screen decided: who bids and judges, who is excluded and why, the answer's reserve. */
export interface ScreenResult {
  admitted: ResolvedMember[];
  excluded: Record<string, string>;
  /** The reserve every auction call must leave; undefined when no limit applies to these scopes. */
  floor: Need | undefined;
}

/** The budget arithmetic of one engine. Every method is for a router with a budget. */
export interface BudgetScreen {
  /**
   * Prompt tokens of `prompt` for `model`: exactly `countMessageTokens(prompt, model)`, each message
   * counted once, and the task and each plan once however many prompts quote them.
   */
  promptTokens(prompt: readonly BaseMessage[], model: string): number;
  /**
   * Pre-screen the bidders against what the budget has left for this request's scopes, before
   * anything is spent. Cheapest first, a member is admitted when the auction with it — every
   * admitted plan, the calls of the admitted jurors that score them — plus the dearest answer among
   * the admitted bidders and the fallback still fits; the others are excluded with the figures and
   * take no part (no plan, no jury call). The fallback's answer is kept in reserve only when it
   * fits on its own.
   */
  screenBidders(state: ScreenState): Promise<ScreenResult>;
  /** Why an auction call must not be made: it would eat the room kept for the answer. */
  callRefusal(
    member: ResolvedMember,
    inputTokens: number,
    maxTokens: number,
    state: ScreenState,
  ): Promise<string | undefined>;
  /**
   * Why the refinement round must not start: its plans by `refiners` (for `prompt`) and the jury
   * calls of the jurors among `judges` scoring them would leave less than the answer's reserve.
   */
  refinementRefusal(
    refiners: readonly ResolvedMember[],
    judges: readonly ResolvedMember[],
    prompt: readonly BaseMessage[],
    state: ScreenState,
  ): Promise<string | undefined>;
  /**
   * Memory bids (no plans, no jury): the members whose answer alone fits what the budget has left
   * for this request's scopes (the same answer need as the plan auction's screen); the others are
   * excluded with the figures. Everyone is admitted when no limit applies.
   */
  screenAnswers(state: ScreenState): Promise<ScreenResult>;
  /** The most `member`'s answer may cost (what the screens keep in reserve for it). */
  answerNeed(member: ResolvedMember, state: ScreenState): Need;
}

// ---------------------------------------------------------------------------
// The screen
// ---------------------------------------------------------------------------

/** Build the budget screen of one engine; `nameOf` is the model name a member is charged under. */
export function createBudgetScreen(settings: RouterSettings, nameOf: (member: ResolvedMember) => string): BudgetScreen {
  const members = new Map(settings.pool.map((member) => [member.name, member]));
  /** The engine's prompt counts: the rubric, the planning prompts and the tag lines are counted once. */
  const counter = new PromptTokenCounter();
  /** Budget-side prices by member (what its reservations are charged at). */
  const budgetPrices = new Map<string, ModelPrice | undefined>();

  function promptTokens(prompt: readonly BaseMessage[], model: string): number {
    return counter.messages(prompt, model);
  }

  // -- needs ----------------------------------------------------------------------

  /** The price the budget charges `member` at: its `priceOf` when it has one, else the member's price. */
  function budgetPriceOf(member: ResolvedMember): ModelPrice | undefined {
    if (!budgetPrices.has(member.name)) {
      const budget = settings.budget as { priceOf?: (model: string) => ModelPrice | undefined } | undefined;
      budgetPrices.set(
        member.name,
        typeof budget?.priceOf === "function" ? budget.priceOf(nameOf(member)) : member.price,
      );
    }
    return budgetPrices.get(member.name);
  }

  /** What a reservation of `inputTokens` + `maxOutputTokens` on `member` holds. */
  function needOf(member: ResolvedMember, inputTokens: number, maxOutputTokens: number): Need {
    const price = budgetPriceOf(member);
    const usd = price ? costUsd(price, { inputTokens, outputTokens: maxOutputTokens }) : 0;
    return { tokens: inputTokens + maxOutputTokens, usd };
  }

  /**
   * The most `member`'s answer may cost: the conversation, a full plan as a system message, the
   * system prompt and the tool schemas bound for the answer, plus its output cap.
   */
  function answerNeed(member: ResolvedMember, state: ScreenState): Need {
    const { request } = state;
    const name = nameOf(member);
    const allowance =
      TOKENS_PER_MESSAGE + counter.text(`system ${executionPlanText("")}`, name) + settings.planMaxTokens;
    let conversation = counter.messages(request.messages, name);
    if (request.systemPrompt) conversation += TOKENS_PER_MESSAGE + counter.text(`system ${request.systemPrompt}`, name);
    conversation = Math.max(conversation, state.ownConversationCounts?.get(member.name) ?? 0);
    const input = conversation + allowance + counter.tools(request.tools ?? [], name);
    return needOf(member, input, declaredOutputCap(member.model) ?? settings.executionMaxTokens);
  }

  /**
   * What the calls of the jurors among `judges` cost at most when each is shown `plans` plans: the
   * rubric and the task, plus per plan a full plan in its block, and the cap `juryMaxTokens + 8 · plans`.
   */
  function juryNeed(state: ScreenState, plans: number, judges: ReadonlySet<ResolvedMember>): Need {
    if (plans === 0 || settings.jurors.length === 0) return NO_NEED;
    state.juryPrompt ??= [new SystemMessage(JURY_RUBRIC), new HumanMessage(juryRequest(state.transcript, []))];
    let total = NO_NEED;
    for (const juror of settings.jurors) {
      const member = members.get(juror) as ResolvedMember;
      if (!judges.has(member)) continue;
      const input =
        promptTokens(state.juryPrompt, nameOf(member)) + plans * (settings.planMaxTokens + PLAN_BLOCK_TOKENS);
      total = addNeeds(total, needOf(member, input, settings.juryMaxTokens + 8 * plans));
    }
    return total;
  }

  // -- the pre-screen and the refusals ---------------------------------------------

  async function screenBidders(state: ScreenState): Promise<ScreenResult> {
    const budget = settings.budget;
    const excluded: Record<string, string> = {};
    if (!budget) return { admitted: settings.pool, excluded, floor: undefined };
    const left = await budget.remaining(state.scopes);
    if (left.tokens === undefined && left.usd === undefined)
      return { admitted: settings.pool, excluded, floor: undefined };
    const fallbackAnswer = answerNeed(settings.fallback, state);
    let floor = fits(fallbackAnswer, left) ? fallbackAnswer : NO_NEED;
    let plans = NO_NEED;
    const admitted = new Set<ResolvedMember>();
    for (const member of [...settings.pool].sort(byPrice)) {
      const withPlan = addNeeds(
        plans,
        needOf(member, promptTokens(state.planPrompt, nameOf(member)), settings.planMaxTokens),
      );
      const withAnswer = maxNeeds(floor, answerNeed(member, state));
      const total = addNeeds(
        addNeeds(withPlan, juryNeed(state, admitted.size + 1, new Set([...admitted, member]))),
        withAnswer,
      );
      if (fits(total, left)) {
        admitted.add(member);
        plans = withPlan;
        floor = withAnswer;
      } else {
        excluded[member.name] =
          `budget: its plan, its share of the jury and its answer do not fit (the auction with it needs ${describeNeed(total)}; ${describeLeft(left)} left)`;
      }
    }
    return { admitted: settings.pool.filter((member) => admitted.has(member)), excluded, floor };
  }

  async function callRefusal(member: ResolvedMember, inputTokens: number, maxTokens: number, state: ScreenState) {
    const { floor } = state;
    if (floor === undefined || settings.budget === undefined) return undefined;
    const left = await settings.budget.remaining(state.scopes);
    const need = needOf(member, inputTokens, maxTokens);
    if (fits(addNeeds(need, floor), left)) return undefined;
    return `budget: the call (${describeNeed(need)}) would leave less than the answer needs (${describeNeed(floor)}; ${describeLeft(left)} left)`;
  }

  async function refinementRefusal(
    refiners: readonly ResolvedMember[],
    judges: readonly ResolvedMember[],
    prompt: readonly BaseMessage[],
    state: ScreenState,
  ) {
    const { floor } = state;
    if (floor === undefined || settings.budget === undefined) return undefined;
    let need = juryNeed(state, refiners.length, new Set(judges));
    for (const member of refiners) {
      need = addNeeds(need, needOf(member, promptTokens(prompt, nameOf(member)), settings.planMaxTokens));
    }
    const left = await settings.budget.remaining(state.scopes);
    if (fits(addNeeds(need, floor), left)) return undefined;
    return `budget: the refinement round (${describeNeed(need)}) would leave less than the answer needs (${describeNeed(floor)}; ${describeLeft(left)} left)`;
  }

  // -- memory bids (issue 10): who can afford its answer alone ------------------------

  async function screenAnswers(state: ScreenState): Promise<ScreenResult> {
    const excluded: Record<string, string> = {};
    const left = settings.budget ? await settings.budget.remaining(state.scopes) : {};
    if (left.tokens === undefined && left.usd === undefined) {
      return { admitted: settings.pool, excluded, floor: undefined };
    }
    const admitted = settings.pool.filter((member) => {
      const need = answerNeed(member, state);
      if (fits(need, left)) return true;
      excluded[member.name] =
        `budget: its answer does not fit (it needs ${describeNeed(need)}; ${describeLeft(left)} left)`;
      return false;
    });
    return { admitted, excluded, floor: undefined };
  }

  return { promptTokens, screenBidders, callRefusal, refinementRefusal, screenAnswers, answerNeed };
}

/**
 * For the members of `pool` whose model counts its own prompt (local models): that count of the
 * conversation their answer would be sent with, system prompt included (what
 * `ScreenState.ownConversationCounts` holds). Empty for a hosted pool (no call).
 */
export async function ownConversationCounts(
  pool: readonly ResolvedMember[],
  request: AnswerRequest,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const members = pool.filter((member) => countsOwnPrompt(member.model));
  if (members.length === 0) return counts;
  const conversation = request.systemPrompt
    ? [new SystemMessage(request.systemPrompt), ...request.messages]
    : [...request.messages];
  for (const member of members) counts.set(member.name, await promptTokensOf(member.model, conversation));
  return counts;
}

// ---------------------------------------------------------------------------
// Need arithmetic
// ---------------------------------------------------------------------------

const NO_NEED: Need = Object.freeze({ tokens: 0, usd: 0 });

/** Prompt tokens a plan's block adds to a jury prompt besides the plan: tags, label, score line. */
const PLAN_BLOCK_TOKENS = 24;

/** USD below the budget's resolution (it counts nano-dollars), so rounding never excludes anyone. */
const USD_SLACK = 1e-9;

function addNeeds(left: Need, right: Need): Need {
  return { tokens: left.tokens + right.tokens, usd: left.usd + right.usd };
}

function maxNeeds(left: Need, right: Need): Need {
  return { tokens: Math.max(left.tokens, right.tokens), usd: Math.max(left.usd, right.usd) };
}

/** True when `need` fits in what is left (a unit without a limit always fits). */
function fits(need: Need, left: { tokens?: number; usd?: number }): boolean {
  return (
    (left.tokens === undefined || need.tokens <= left.tokens) &&
    (left.usd === undefined || need.usd <= left.usd + USD_SLACK)
  );
}

function describeNeed(need: Need): string {
  return `${need.tokens} tokens, $${need.usd.toPrecision(3)}`;
}

function describeLeft(left: { tokens?: number; usd?: number }): string {
  const parts = [
    ...(left.tokens === undefined ? [] : [`${left.tokens} tokens`]),
    ...(left.usd === undefined ? [] : [`$${left.usd.toPrecision(3)}`]),
  ];
  return parts.join(", ");
}
