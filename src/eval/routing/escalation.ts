/**
 * The escalation policy: ask the cheapest model first and climb a ladder of dearer models while the
 * answer looks unsafe. Every call made is charged; the final answer is the last model's.
 *
 * At rung i (the ladder reduced to the models available for the prompt), after asking model m_i:
 * - the last rung always stops;
 * - rung 0 stops when its estimated value v_0 ≥ τ;
 * - a later rung, on a task with an answer parser (multiple choice: the letter), compares the parsed
 *   answers of m_{i−1} and m_i: if they differ (or one cannot be parsed) it escalates; if they agree
 *   it stops when max(v_i, agreementValue) ≥ τ, where agreementValue is how often two agreeing
 *   answers of that pair were right on the training part;
 * - a later rung on a task without a parser (code) stops when v_i ≥ τ.
 * τ = 0 answers with the cheapest model; τ > 1 always climbs to the top. With a `scale` (the online pass
 * passes the top rung's estimated value when thresholds are relative), every value above is divided by
 * it first: τ is then the share of the top model's estimated accuracy a cheaper answer must reach.
 */
import { extractChoiceLetter, extractFinalNumber } from "../data/checkers.js";

/** Parses a response into a comparable answer; `undefined` when it cannot. */
export type AnswerParser = (response: string) => string | undefined;

/**
 * The answer parser of a task, by its `eval_name`: the choice letter for multiple-choice tasks
 * (ARC, Winogrande, MMLU, HellaSwag), the final number for GSM8K / SVAMP, none otherwise (code:
 * answers cannot be compared by text, the policy falls back to the estimated value).
 * @example
 * ```ts
 * parserForTask("arc-challenge")?.("The answer is (C)."); // "C"
 * parserForTask("mbpp"); // undefined
 * ```
 */
export function parserForTask(evalName: string): AnswerParser | undefined {
  const task = evalName.toLowerCase();
  if (/arc|winogrande|mmlu|hellaswag/.test(task)) return (response) => extractChoiceLetter(response);
  if (/gsm8k|svamp/.test(task)) return (response) => extractFinalNumber(response);
  return undefined;
}

/** One call the policy made. */
export interface EscalationCall {
  model: string;
  /** Estimated value of the model for the prompt. */
  value: number;
  /** The parsed answer, when the task has a parser and it read one. */
  answer?: string;
}

/** Why the policy stopped where it did. */
export type EscalationStop = "confident" | "agreed" | "top";

/** The policy's result on one prompt. */
export interface EscalationResult {
  /** Every call made, in order; all are charged. */
  calls: EscalationCall[];
  /** The model whose answer is final (the last one asked). */
  finalModel: string;
  stop: EscalationStop;
}

/** One prompt to escalate on. */
export interface EscalationRequest {
  /** Models available for this prompt; unavailable rungs are skipped. */
  available: readonly string[];
  /** Estimated value of a model for the prompt. */
  estimate: (model: string) => number;
  /** Ask a model; resolves to its response text. */
  ask: (model: string) => Promise<string>;
  /** The task's parser (see {@link parserForTask}); none: agreement is not used. */
  parse?: AnswerParser | undefined;
  /** How often two agreeing answers of (previous, current) were right; default 0 (agreement alone never stops). */
  agreementValue?: (previousModel: string, model: string) => number;
  /**
   * Values are divided by this before they are compared with τ (default 1: absolute values). The online
   * pass passes the top rung's estimated value, so τ reads "share of the top model's estimated accuracy".
   */
  scale?: number;
}

/**
 * An escalation policy over a ladder of models, cheapest first.
 * @throws RangeError when the ladder is empty or the threshold negative.
 * @example
 * ```ts
 * const policy = createEscalationPolicy({ ladder: ["mistralai/mixtral-8x7b-chat", "zero-one-ai/Yi-34B-Chat", "gpt-4-1106-preview"], threshold: 0.8 });
 * const { calls, finalModel } = await policy.run({ available, estimate, ask, parse: parserForTask("arc-challenge") });
 * ```
 */
export function createEscalationPolicy({ ladder, threshold }: { ladder: readonly string[]; threshold: number }) {
  if (ladder.length === 0) throw new RangeError("the escalation ladder needs at least one model");
  if (!(threshold >= 0)) throw new RangeError(`threshold must be ≥ 0, got ${threshold}`);

  return {
    ladder: [...ladder],
    threshold,
    run: async function run(request: EscalationRequest): Promise<EscalationResult> {
      const { available, estimate, ask, parse, agreementValue = () => 0, scale = 1 } = request;
      const divisor = scale > 0 ? scale : 1;
      const rungs = ladder.filter((model) => available.includes(model));
      if (rungs.length === 0) {
        // No ladder model can answer: the cheapest available model is asked, once (the caller orders `available`).
        const fallback = available[0];
        if (fallback === undefined) throw new RangeError("no model is available for this prompt");
        rungs.push(fallback);
      }
      const calls: EscalationCall[] = [];
      for (let rung = 0; rung < rungs.length; rung++) {
        const model = rungs[rung] as string;
        const response = await ask(model);
        const value = estimate(model);
        const call: EscalationCall = { model, value };
        const answer = parse?.(response);
        if (answer !== undefined) call.answer = answer;
        calls.push(call);
        if (rung === rungs.length - 1) return { calls, finalModel: model, stop: "top" };
        if (rung === 0 || parse === undefined) {
          if (value / divisor >= threshold) return { calls, finalModel: model, stop: "confident" };
          continue;
        }
        const previous = calls[rung - 1] as EscalationCall;
        const agree = call.answer !== undefined && call.answer === previous.answer;
        if (agree && Math.max(value, agreementValue(previous.model, model)) / divisor >= threshold) {
          return { calls, finalModel: model, stop: "agreed" };
        }
      }
      throw new Error("unreachable: the last rung always stops");
    },
  };
}

/** An escalation policy (see {@link createEscalationPolicy}). */
export type EscalationPolicy = ReturnType<typeof createEscalationPolicy>;
