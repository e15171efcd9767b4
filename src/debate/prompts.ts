/**
 * The prompts of a debate round. Three kinds of call: an intent (the short bid), a message (a
 * winner's full turn, or every agent's turn in `full` mode) and a draft (DALA's original: every
 * agent writes its full message before the auction). Each prompt is a system message (who the
 * agent is) and one human message (the question, the public transcript, the instruction).
 */

import type { BaseMessage } from "@langchain/core/messages";
import { HumanMessage, SystemMessage } from "@langchain/core/messages";
import type { UtilityEstimatorName } from "./options.js";
import type { TranscriptEntry } from "./state.js";

/**
 * Instruction of an intent call. Tests recognise intent calls by it.
 *
 * @example
 * ```ts
 * INTENT_INSTRUCTION.startsWith("Bid for the floor"); // true
 * ```
 */
export const INTENT_INSTRUCTION =
  "Bid for the floor: in one or two sentences, say what you would add to the discussion. " +
  'End with a line "Answer: <your current answer>".';

/**
 * Extra instruction of an intent call when agents estimate their own utility (`utility: "self"`).
 *
 * @example
 * ```ts
 * createAuctionDebate({ agents, utility: "self" }); // intent calls add this instruction
 * // an agent then ends its intent with a line "Utility: 0.8", its bid
 * ```
 */
export const SELF_UTILITY_INSTRUCTION =
  'Then add a last line "Utility: <a number from 0 to 1>": how much your message would improve the group\'s answer.';

/**
 * Instruction of a message (or draft) call.
 *
 * @example
 * ```ts
 * parseAnswerLine("6 × 7 is 42.\nAnswer: 42"); // "42": the default parser reads the line this instruction asks for
 * ```
 */
export const MESSAGE_INSTRUCTION =
  'Give your contribution to the debate: your reasoning, briefly, then a last line "Answer: <your answer>".';

/** What a call is for. */
export type DebateCallPurpose = "intent" | "message" | "draft";

/** The transcript as the agents read it: one line per message, `[round n] agent: text`. */
export function renderTranscript(transcript: readonly TranscriptEntry[]): string {
  if (transcript.length === 0) return "(nobody has spoken yet)";
  return transcript.map((entry) => `[round ${entry.round + 1}] ${entry.agent}: ${entry.content}`).join("\n");
}

/** The messages of one call. */
export function debatePrompt({
  agent,
  role,
  question,
  transcript,
  purpose,
  utility,
}: {
  agent: string;
  role: string | undefined;
  question: string;
  transcript: readonly TranscriptEntry[];
  purpose: DebateCallPurpose;
  utility: UtilityEstimatorName;
}): BaseMessage[] {
  const who = `You are ${agent}${role ? `, a ${role} agent,` : ""} in a debate with other agents. Be brief.`;
  const instruction =
    purpose === "intent"
      ? utility === "self"
        ? `${INTENT_INSTRUCTION}\n${SELF_UTILITY_INSTRUCTION}`
        : INTENT_INSTRUCTION
      : MESSAGE_INSTRUCTION;
  return [
    new SystemMessage(who),
    new HumanMessage(`Question: ${question}\n\nPublic transcript:\n${renderTranscript(transcript)}\n\n${instruction}`),
  ];
}
