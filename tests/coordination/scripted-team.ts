/**
 * Scripted stand-ins for a coordination team (tests only): executors that answer from a script
 * and a coordinator that writes a fixed strategy and commits to the belief candidate it is shown.
 */
import { type ScriptedCall, ScriptedChatModel } from "../../src/testing/scripted-chat-model.js";

/** The text of every message of a call, joined. */
export function promptText(call: ScriptedCall): string {
  return call.messages.map((message) => message.text).join("\n");
}

/** True when the call is a later-round call (the executor is shown a commitment). */
export function isLaterRound(call: ScriptedCall): boolean {
  return promptText(call).includes("Coordinator's current commitment");
}

/**
 * A scripted executor. Its reply carries a marker `[notes of NAME]` so a test can check that no
 * other agent is ever shown it. `answer` may depend on the round (1-based, counted per executor).
 */
export function scriptedExecutor(
  name: string,
  answer: string | ((round: number) => string),
  confidence: number,
  options: { fail?: boolean } = {},
): ScriptedChatModel {
  let round = 0;
  return new ScriptedChatModel({
    model: "gpt-4o-mini",
    replies: () => {
      round += 1;
      if (options.fail) return { error: new Error(`${name} is down`) };
      const value = typeof answer === "function" ? answer(round) : answer;
      return `[notes of ${name}] I worked through the problem carefully.\nAnswer: ${value}\nConfidence: ${confidence}`;
    },
  });
}

/** A scripted coordinator: a fixed strategy, and a commitment to the candidate it is shown (or a scripted one). */
export function scriptedCoordinator(
  options: { strategy?: string; commit?: (candidate: string, round: number) => string } = {},
): ScriptedChatModel {
  const { strategy = "Break the problem into steps and check the arithmetic.", commit } = options;
  let round = 0;
  return new ScriptedChatModel({
    model: "gpt-4o",
    replies: (call) => {
      const text = promptText(call);
      if (text.includes("Write a strategy")) return strategy;
      round += 1;
      const candidate = /Answer favoured by the belief equilibrium: (.+)/.exec(text)?.[1]?.trim() ?? "none";
      return commit ? commit(candidate, round) : `We go with the equilibrium. Answer: ${candidate}`;
    },
  });
}
