/**
 * Scripted debate agents whose skills differ (test doubles, not language models): `solver`
 * knows the answer and says so confidently; the noisy agents guess wrong with hedges until the
 * solver's answer is in the public transcript, then agree.
 */
import type { AIMessage, BaseMessage } from "@langchain/core/messages";
import type { ChatGeneration, LLMResult } from "@langchain/core/outputs";
import { INTENT_INSTRUCTION } from "../../src/debate/index.js";
import {
  createScriptedRecorder,
  type ScriptedCall,
  ScriptedChatModel,
  type ScriptedTurn,
} from "../helpers/scriptedChatModel.js";

export const GOLD = "42";

function text(messages: readonly BaseMessage[]): string {
  return messages.map((message) => message.text).join("\n");
}

/** True when the call is an intent (the short bid). */
export function isIntentCall(call: ScriptedCall): boolean {
  return text(call.messages).includes(INTENT_INSTRUCTION);
}

const RAMBLING =
  "Let me reason about this step by step. First I restate the question in my own words, then I consider " +
  "several readings of it, then I try a rough estimate, and I compare it with what I remember of similar " +
  "problems. Multiplying in my head is error-prone, so I round the factors, multiply the rounded numbers, " +
  "and adjust the result by a correction term that I am not fully sure about. Then I double-check the " +
  "rounding, wonder whether the question hides a trick, reread it once more, and settle on a number that " +
  "seems plausible, although I would not bet on it, because my rough estimates are often a little off.";

/** The solver: always confident and right. */
function solverReply(call: ScriptedCall): ScriptedTurn {
  if (isIntentCall(call)) return { content: `Clearly 6 times 7 is ${GOLD}; I verified it.\nAnswer: ${GOLD}` };
  return { content: `Six sevens: 7+7+7+7+7+7 = ${GOLD}, verified by 42 / 6 = 7.\nAnswer: ${GOLD}` };
}

/** A noisy agent with its own wrong guess, converted once the solver has spoken. */
function noisyReply(guess: string) {
  return (call: ScriptedCall): ScriptedTurn => {
    const convinced = /solver: [^\n]*/.test(text(call.messages));
    if (isIntentCall(call)) {
      return convinced
        ? { content: `I agree with the solver.\nAnswer: ${GOLD}` }
        : { content: `Maybe ${guess}, but I am not sure.\nAnswer: ${guess}` };
    }
    return convinced
      ? {
          content: `I reread the solver's check: six sevens, added one by one, give ${GOLD}, and dividing ${GOLD} by six gives seven back, so my earlier estimate was off and I now agree with the solver.\nAnswer: ${GOLD}`,
        }
      : { content: `${RAMBLING} My guess is ${guess}.\nAnswer: ${guess}` };
  };
}

/** One scripted agent per skill, each with its own recorder (so calls can be counted per agent). */
export function scriptedAgents({ failing }: { failing?: (call: ScriptedCall) => boolean } = {}) {
  const recorders = {
    solver: createScriptedRecorder(),
    guesser: createScriptedRecorder(),
    drifter: createScriptedRecorder(),
  };
  const wrap =
    (reply: (call: ScriptedCall) => ScriptedTurn, name: string) =>
    (call: ScriptedCall): ScriptedTurn =>
      failing?.(call) && name === "drifter" ? { error: new Error("scripted provider outage") } : reply(call);
  const agents = [
    {
      name: "solver",
      role: "math",
      model: new ScriptedChatModel({
        model: "gpt-4o-mini",
        replies: wrap(solverReply, "solver"),
        recorder: recorders.solver,
      }),
    },
    {
      name: "guesser",
      role: "generalist",
      model: new ScriptedChatModel({
        model: "gpt-4o-mini",
        replies: wrap(noisyReply("41"), "guesser"),
        recorder: recorders.guesser,
      }),
    },
    {
      name: "drifter",
      role: "generalist",
      model: new ScriptedChatModel({
        model: "gpt-4o-mini",
        replies: wrap(noisyReply("48"), "drifter"),
        recorder: recorders.drifter,
      }),
    },
  ];
  return { agents, recorders };
}

/**
 * A callback handler that sums the real usage every model call reported (`usage_metadata` of
 * the reply), independently of the debate's own accounting.
 */
export function usageCounter() {
  const counter = {
    tokens: 0,
    calls: 0,
    handler: {
      handleLLMEnd(output: LLMResult) {
        for (const generation of output.generations.flat()) {
          const message = (generation as ChatGeneration).message as AIMessage | undefined;
          counter.tokens += message?.usage_metadata?.total_tokens ?? 0;
          counter.calls += 1;
        }
      },
    },
  };
  return counter;
}
