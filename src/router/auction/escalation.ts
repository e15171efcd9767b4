/**
 * The escalation climb (issue 10) of `"auto"` mode when the memory is unsure, and of a winning
 * agreement cascade `cascade(a + b → top)` (rungs a, b; {@link ladderFor}): ask the cheapest member
 * (rung 0); stop when its value reaches `stopAt`; else ask rung 1; stop when the two answers agree
 * (`extractAnswer` reads the same letter or number); else the top member answers. The climb does no
 * I/O itself: `ask` makes the call (the router: reserved, deadline, charged; the middleware: its
 * `handler`), so the same rule runs in both.
 *
 * Two rungs that call tools (an agent's step) agree when they make the same calls with the same
 * arguments ({@link toolCallSignature}); a text answer never agrees with a tool call.
 *
 * A rung whose call fails is skipped (its failure goes in the reason) and the climb goes on: a
 * failed rung 0 means rung 1 cannot be compared with it, so the top answers.
 */
import type { CascadeEvidence } from "../memory-bids/cascade.js";
import {
  answersMatch,
  type EscalationLadder,
  escalationLadder,
  extractAnswer,
  type MemberEvidence,
} from "../memory-bids/index.js";

/**
 * The ladder a request climbs: the winning cascade's (`rungs: [first, second]`, its `top`) when an
 * agreement cascade won the memory auction, else the default `escalationLadder` over the members'
 * evidence (cascade bids, whose names are not members, are left out).
 *
 * @example
 * ```ts
 * ladderFor(clearing.evidence, new Set(["mini", "mid", "large"]), { first: "mini", second: "mid", top: "large" });
 * // { rungs: ["mini", "mid"], top: "large" }
 * ```
 */
export function ladderFor(
  evidence: readonly MemberEvidence[],
  members: { has(name: string): boolean },
  cascade?: Pick<CascadeEvidence, "first" | "second" | "top">,
): EscalationLadder {
  if (cascade !== undefined) return { rungs: [cascade.first, cascade.second], top: cascade.top };
  return escalationLadder(evidence.filter((item) => members.has(item.member)));
}

/**
 * What one rung's call gave: its answer, the answer's text and — when it called tools — the tool
 * calls' signature ({@link toolCallSignature}); or why it failed.
 */
export type RungResult<T> = { answer: T; text: string; toolCalls?: string } | { failure: string };

/**
 * The signature two rungs' tool calls agree by: each call's name and arguments (keys sorted), in
 * order; `undefined` when there are none.
 *
 * @example
 * ```ts
 * toolCallSignature([{ name: "lookup", args: { country: "fr" } }]); // 'lookup({"country":"fr"})'
 * ```
 */
export function toolCallSignature(
  toolCalls: readonly { name: string; args: Record<string, unknown> }[] | undefined,
): string | undefined {
  if (toolCalls === undefined || toolCalls.length === 0) return undefined;
  return toolCalls.map((call) => `${call.name}(${canonicalJson(call.args)})`).join(" ");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([left], [right]) =>
      left < right ? -1 : left > right ? 1 : 0,
    );
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** Where the climb stopped. */
export interface ClimbResult<T> {
  /** The answers bought, in order, by member. */
  answers: { member: string; answer: T }[];
  /** The member whose answer is final. */
  final: string;
  /** The final answer when it is already bought (else the final member answers through the normal flow). */
  inHand: T | undefined;
  /** Why the climb stopped where it did, as a sentence. */
  reason: string;
}

/** The input of {@link climbLadder}. */
export interface ClimbInput<T> {
  ladder: EscalationLadder;
  /** The memory's value v_m of a member. */
  memberValue: (member: string) => number;
  /** Rung 0 stops the climb when its value is ≥ `stopAt` (1: never, for 0/1 outcomes). */
  stopAt: number;
  /** Call one member (the caller charges it). */
  ask: (member: string) => Promise<RungResult<T>>;
}

/**
 * Climb the escalation ladder (see the module comment).
 *
 * @example
 * ```ts
 * const climb = await climbLadder({ ladder: { rungs: ["mini", "mid"], top: "large" }, memberValue, stopAt: 1, ask });
 * climb.reason; // e.g. 'agreed: B = B ("mini", "mid")' — climb.inHand is mid's answer, no call to "large"
 * ```
 */
export async function climbLadder<T>(input: ClimbInput<T>): Promise<ClimbResult<T>> {
  const { ladder, memberValue, stopAt, ask } = input;
  const answers: { member: string; answer: T; text: string; toolCalls: string | undefined }[] = [];
  const notes: string[] = [];
  const failed = new Set<string>();
  const tryRung = async (member: string) => {
    const result = await ask(member);
    if ("failure" in result) {
      failed.add(member);
      notes.push(`"${member}" failed (${result.failure}), skipped`);
      return undefined;
    }
    const bought = { member, answer: result.answer, text: result.text, toolCalls: result.toolCalls };
    answers.push(bought);
    return bought;
  };
  const done = (final: string, inHand: T | undefined, why: string): ClimbResult<T> => ({
    answers: answers.map(({ member, answer }) => ({ member, answer })),
    final,
    inHand,
    reason: [...notes, why].join("; "),
  });

  const [first, second] = ladder.rungs as [string, string | undefined];
  const zero = await tryRung(first);
  if (zero !== undefined && memberValue(first) >= stopAt) {
    return done(first, zero.answer, `"${first}" value ${memberValue(first).toFixed(3)} ≥ stopAt ${stopAt}`);
  }
  if (second === undefined) {
    return zero !== undefined
      ? done(first, zero.answer, `"${first}" is the only member`)
      : done(first, undefined, `"${first}" is the only member: it answers again`);
  }
  const one = await tryRung(second);
  if (zero !== undefined && one !== undefined && (zero.toolCalls !== undefined || one.toolCalls !== undefined)) {
    // An agent's step: two rungs agree when they make the same tool calls.
    if (zero.toolCalls === one.toolCalls)
      return done(second, one.answer, `agreed: the same tool calls ${one.toolCalls}`);
    notes.push("disagreed: different tool calls");
  } else if (zero !== undefined && one !== undefined) {
    const left = extractAnswer(zero.text);
    const right = extractAnswer(one.text);
    if (answersMatch(left, right))
      return done(second, one.answer, `agreed: ${left} = ${right} ("${first}", "${second}")`);
    notes.push(`disagreed: ${left ?? "no short answer"} ≠ ${right ?? "no short answer"}`);
  }
  const { top } = ladder;
  const topAnswer = answers.find((bought) => bought.member === top);
  if (topAnswer !== undefined) return done(top, topAnswer.answer, `top "${top}" already answered`);
  if (failed.has(top)) {
    // A two-member pool whose most valued rung failed: the other rung's answer stands.
    const last = answers.at(-1);
    if (last !== undefined) return done(last.member, last.answer, `"${last.member}" answered; top "${top}" failed`);
  }
  return done(top, undefined, `top "${top}" answers`);
}
