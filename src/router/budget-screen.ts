/**
 * The budget side of the strategy auction, used only when the router has a `TokenBudget`: what
 * calls may cost at most (`Need`), the pre-screen of bidders, the reserve every auction call must
 * leave for the answer, and the prompt token counts these rest on (docs/router.md, "Budgets").
 *
 * Read top to bottom: the state the screen reads, the screen factory (counting, needs, the
 * pre-screen, the refusals), then the `Need` arithmetic and the exact counting of a text in parts.
 */
import { type BaseMessage, HumanMessage, SystemMessage } from "@langchain/core/messages";
import {
  costUsd,
  countMessageTokens,
  countTextTokens,
  countToolTokens,
  type EncodingName,
  encodingForModel,
  type ScopeIds,
  TOKENS_PER_MESSAGE,
} from "../budget/index.js";
import { roleOf } from "../budget/tokens.js";
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
  /** The planning prompt (one array for every bidder, so its tokens are counted once per encoding). */
  planPrompt: BaseMessage[];
  /** The jury prompt without plans, for estimates (built on first use). */
  juryPrompt?: BaseMessage[];
  /**
   * Token counts of the prompt parts seen in this auction, by encoding: the task and each plan
   * recur in many prompts (every juror's, in a different order) and are counted once.
   */
  partCounts: Map<EncodingName, Map<string, number>>;
  /**
   * Token counts by prompt array and encoding, for this auction only (the same prompt goes to every
   * bidder; a caller that reuses and changes a messages array between requests gets a fresh count).
   */
  promptCounts: WeakMap<readonly BaseMessage[], Map<EncodingName, number>>;
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
   * Prompt tokens of `prompt` for `model`: exactly `countMessageTokens(prompt, model)`, counted
   * once per prompt array and encoding, and from parts counted once per auction (see {@link partsOf}).
   */
  promptTokens(prompt: readonly BaseMessage[], model: string, state: ScreenState): number;
  /**
   * Pre-screen the bidders against what the budget has left for this request's scopes, before
   * anything is spent. Cheapest first, a member is admitted when the auction with it — every
   * admitted plan, the calls of the admitted jurors that score them — plus the dearest answer among
   * the admitted bidders and the fallback still fits; the others are excluded with the figures and
   * take no part (no plan, no jury call). The fallback's answer is kept in reserve only when it
   * fits on its own.
   */
  screenBidders(state: ScreenState): ScreenResult;
  /** Why an auction call must not be made: it would eat the room kept for the answer. */
  callRefusal(member: ResolvedMember, inputTokens: number, maxTokens: number, state: ScreenState): string | undefined;
  /**
   * Why the refinement round must not start: its plans by `refiners` (for `prompt`) and the jury
   * calls of the jurors among `judges` scoring them would leave less than the answer's reserve.
   */
  refinementRefusal(
    refiners: readonly ResolvedMember[],
    judges: readonly ResolvedMember[],
    prompt: readonly BaseMessage[],
    state: ScreenState,
  ): string | undefined;
}

// ---------------------------------------------------------------------------
// The screen
// ---------------------------------------------------------------------------

/** Most texts whose counts an engine keeps across auctions, per encoding (the oldest goes first). */
const LASTING_COUNTS_LIMIT = 256;
/** Parts up to this length (the prompts' tag lines, labels, score lines) are counted once per engine. */
const SHORT_PART = 64;

/** Build the budget screen of one engine; `nameOf` is the model name a member is charged under. */
export function createBudgetScreen(settings: RouterSettings, nameOf: (member: ResolvedMember) => string): BudgetScreen {
  const members = new Map(settings.pool.map((member) => [member.name, member]));
  /** Per encoding and roles (`system,user`): the tokens of the messages' format, contents aside. */
  const formatCounts = new Map<string, number>();
  /**
   * Counts kept across auctions, by encoding: system messages (the rubric, the planning prompts)
   * and short parts (the prompts' tag lines and score lines). Bounded by {@link LASTING_COUNTS_LIMIT}.
   */
  const lastingCounts = new Map<EncodingName, Map<string, number>>();
  /** Budget-side prices by member (what its reservations are charged at). */
  const budgetPrices = new Map<string, ModelPrice | undefined>();
  /** Per encoding: the tokens the plan adds to the answer's prompt (its system message, at most a full plan). */
  const planAllowances = new Map<EncodingName, number>();

  // -- counting -----------------------------------------------------------------

  function promptTokens(prompt: readonly BaseMessage[], model: string, state: ScreenState): number {
    const encoding = encodingForModel(model);
    let byEncoding = state.promptCounts.get(prompt);
    if (byEncoding === undefined) {
      byEncoding = new Map();
      state.promptCounts.set(prompt, byEncoding);
    }
    let count = byEncoding.get(encoding);
    if (count === undefined) {
      count = countPrompt(prompt, encoding, state);
      byEncoding.set(encoding, count);
    }
    return count;
  }

  /**
   * `countMessageTokens(prompt, encoding)`, computed as the messages' format (roles, per-message
   * and priming tokens: `countMessageTokens` of the same roles with empty contents) plus each
   * content counted in parts. Only for plain-text messages without a name or tool calls, where the
   * count is that sum; any other prompt is counted as a whole.
   */
  function countPrompt(prompt: readonly BaseMessage[], encoding: EncodingName, state: ScreenState): number {
    if (!prompt.every(isPlainText)) return countMessageTokens(prompt as BaseMessage[], encoding);
    const roles = prompt.map(roleOf);
    const formatKey = `${encoding}:${roles.join(",")}`;
    let total = formatCounts.get(formatKey);
    if (total === undefined) {
      total = countMessageTokens(
        roles.map((role) => ({ role, content: "" })),
        encoding,
      );
      formatCounts.set(formatKey, total);
    }
    for (const message of prompt) {
      const text = message.content as string;
      total += message.type === "system" ? lastingTokens(text, encoding) : partsTokens(text, encoding, state);
    }
    return total;
  }

  /**
   * Tokens of `text`: the sum of its parts' (exact, see {@link partsOf}). Short parts are counted
   * once per engine, the others (the task, the plans) once per auction.
   */
  function partsTokens(text: string, encoding: EncodingName, state: ScreenState): number {
    const counts = countsOf(state.partCounts, encoding);
    let total = 0;
    for (const part of partsOf(text)) {
      if (part.length <= SHORT_PART) {
        total += lastingTokens(part, encoding);
        continue;
      }
      let count = counts.get(part);
      if (count === undefined) {
        count = countTextTokens(part, encoding);
        counts.set(part, count);
      }
      total += count;
    }
    return total;
  }

  /** Tokens of a text that recurs across auctions, kept while it is among the latest counted. */
  function lastingTokens(text: string, encoding: EncodingName): number {
    const counts = countsOf(lastingCounts, encoding);
    let count = counts.get(text);
    if (count === undefined) {
      count = countTextTokens(text, encoding);
      if (counts.size >= LASTING_COUNTS_LIMIT) counts.delete(counts.keys().next().value as string);
      counts.set(text, count);
    }
    return count;
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
    const encoding = encodingForModel(name);
    let allowance = planAllowances.get(encoding);
    if (allowance === undefined) {
      allowance =
        TOKENS_PER_MESSAGE + countTextTokens(`system ${executionPlanText("")}`, encoding) + settings.planMaxTokens;
      planAllowances.set(encoding, allowance);
    }
    let conversation = promptTokens(request.messages, name, state);
    if (request.systemPrompt) {
      conversation += TOKENS_PER_MESSAGE + countTextTokens(`system ${request.systemPrompt}`, encoding);
    }
    conversation = Math.max(conversation, state.ownConversationCounts?.get(member.name) ?? 0);
    const input = conversation + allowance + countToolTokens(request.tools ?? [], name);
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
        promptTokens(state.juryPrompt, nameOf(member), state) + plans * (settings.planMaxTokens + PLAN_BLOCK_TOKENS);
      total = addNeeds(total, needOf(member, input, settings.juryMaxTokens + 8 * plans));
    }
    return total;
  }

  // -- the pre-screen and the refusals ---------------------------------------------

  function screenBidders(state: ScreenState): ScreenResult {
    const budget = settings.budget;
    const excluded: Record<string, string> = {};
    if (!budget) return { admitted: settings.pool, excluded, floor: undefined };
    const left = budget.remaining(state.scopes);
    if (left.tokens === undefined && left.usd === undefined)
      return { admitted: settings.pool, excluded, floor: undefined };
    const fallbackAnswer = answerNeed(settings.fallback, state);
    let floor = fits(fallbackAnswer, left) ? fallbackAnswer : NO_NEED;
    let plans = NO_NEED;
    const admitted = new Set<ResolvedMember>();
    for (const member of [...settings.pool].sort(byPrice)) {
      const withPlan = addNeeds(
        plans,
        needOf(member, promptTokens(state.planPrompt, nameOf(member), state), settings.planMaxTokens),
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

  function callRefusal(member: ResolvedMember, inputTokens: number, maxTokens: number, state: ScreenState) {
    const { floor } = state;
    if (floor === undefined || settings.budget === undefined) return undefined;
    const left = settings.budget.remaining(state.scopes);
    const need = needOf(member, inputTokens, maxTokens);
    if (fits(addNeeds(need, floor), left)) return undefined;
    return `budget: the call (${describeNeed(need)}) would leave less than the answer needs (${describeNeed(floor)}; ${describeLeft(left)} left)`;
  }

  function refinementRefusal(
    refiners: readonly ResolvedMember[],
    judges: readonly ResolvedMember[],
    prompt: readonly BaseMessage[],
    state: ScreenState,
  ) {
    const { floor } = state;
    if (floor === undefined || settings.budget === undefined) return undefined;
    let need = juryNeed(state, refiners.length, new Set(judges));
    for (const member of refiners) {
      need = addNeeds(need, needOf(member, promptTokens(prompt, nameOf(member), state), settings.planMaxTokens));
    }
    const left = settings.budget.remaining(state.scopes);
    if (fits(addNeeds(need, floor), left)) return undefined;
    return `budget: the refinement round (${describeNeed(need)}) would leave less than the answer needs (${describeNeed(floor)}; ${describeLeft(left)} left)`;
  }

  return { promptTokens, screenBidders, callRefusal, refinementRefusal };
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

// ---------------------------------------------------------------------------
// Counting a text in parts
// ---------------------------------------------------------------------------

/** The counts of `encoding` in `byEncoding`, created empty on first use. */
function countsOf(byEncoding: Map<EncodingName, Map<string, number>>, encoding: EncodingName): Map<string, number> {
  let counts = byEncoding.get(encoding);
  if (counts === undefined) {
    counts = new Map();
    byEncoding.set(encoding, counts);
  }
  return counts;
}

/** A message `countMessageTokens` counts as its role, its text and the format: no name, no tool calls. */
function isPlainText(message: BaseMessage): boolean {
  const toolCalls = "tool_calls" in message ? message.tool_calls : undefined;
  return (
    typeof message.content === "string" &&
    (typeof message.name !== "string" || message.name.length === 0) &&
    !(Array.isArray(toolCalls) && toolCalls.length > 0)
  );
}

/**
 * Where a text may be cut so that its token count is the sum of its parts' counts: after a `>`
 * and the line breaks that follow it, before a character that is neither white space nor `/`.
 */
const PART_BOUNDARY = /(?<=>\n+)(?=[^\s/])/u;

/**
 * `text` cut at every {@link PART_BOUNDARY}: after each tag line of the auction's prompts
 * (`</task>\n\n`, `<plan id="A">\n`, `</plan>\n\n`, …), so a prompt's task and plans are parts of
 * their own, shared with every other prompt that quotes them.
 *
 * The counts add up exactly because the tokenizer (js-tiktoken, both encodings) first splits a
 * text into pre-tokens with a regular expression and encodes each pre-token on its own. A `>`
 * followed by a line break can only begin or continue the punctuation pre-token
 * ` ?[^\s\p{L}\p{N}]+[\r\n/]*` (`[\r\n]*` in cl100k_base), which then takes every following line
 * break and ends before any character other than `\r`, `\n` or `/`. So the whole text has a
 * pre-token boundary there, found the same way in the part before it (nothing in that pre-token
 * looks past it) and after it (a pre-token starting there reads only what follows).
 */
function partsOf(text: string): string[] {
  return text.split(PART_BOUNDARY);
}
