/**
 * Benchmark problems as live tasks: the exact prompt text a pool model is asked, a stable prompt id,
 * and the checker that marks its answer right or wrong.
 *
 * Read top to bottom: the task shape, the prompt templates, loading and sampling.
 */
import { checkGsm8k, checkHumanEval, checkMbpp, checkMmlu, checkSvamp } from "../data/checkers.js";
import {
  type HumanEvalProblem,
  loadGsm8k,
  loadHumanEval,
  loadMbpp,
  loadMmlu,
  loadSvamp,
  type MbppProblem,
  MMLU_LETTERS,
  type MmluQuestion,
} from "../data/datasets.js";
import type { PythonRunner } from "../data/python.js";
import type { BENCHMARK_NAMES } from "../experiment/config.js";
import { splitPromptIds } from "../report/metrics.js";

/** A benchmark a live evaluation can ask. */
export type BenchmarkName = (typeof BENCHMARK_NAMES)[number];

/** One problem, ready to ask. */
export interface LiveTask {
  /** The problem's id, prefixed with the benchmark when it is not already (`gsm8k-test-0`, `humaneval.0`); the key of the outcomes cache. */
  promptId: string;
  /** The exact text sent as the one user message (the canonical `prompt`). */
  prompt: string;
  /** The benchmark name (the canonical `eval_name`). */
  evalName: BenchmarkName;
  /** Is this response right? Code tasks run the tests in Python. */
  check(response: string): Promise<boolean>;
}

// ---------------------------------------------------------------------------------------------
// Prompt templates
// ---------------------------------------------------------------------------------------------

/** The question of a GSM8K or SVAMP problem with the instruction the number checker reads. */
export function mathPrompt(question: string): string {
  return `${question.trim()}\n\nSolve the problem step by step. End with the final answer alone on the last line, written as "#### <number>".`;
}

/** An MMLU question with its four lettered choices. */
export function mmluPrompt(question: Pick<MmluQuestion, "subject" | "question" | "choices">): string {
  const choices = question.choices.map((choice, index) => `${MMLU_LETTERS[index]}. ${choice}`).join("\n");
  const subject = question.subject.replace(/_/g, " ");
  return `The following is a multiple-choice question about ${subject}.\n\n${question.question.trim()}\n${choices}\n\nThink briefly, then end with "Answer: <letter>" (A, B, C or D).`;
}

/** A HumanEval signature and docstring, to be completed. */
export function humanEvalPrompt(problem: Pick<HumanEvalProblem, "prompt" | "entry_point">): string {
  return `Complete this Python function. Reply with the whole function \`${problem.entry_point}\` (with its imports) in one \`\`\`python code block.\n\n\`\`\`python\n${problem.prompt}\`\`\``;
}

/** An MBPP task with its tests, as in the MBPP paper's prompt. */
export function mbppPrompt(problem: Pick<MbppProblem, "prompt" | "tests">): string {
  return `${problem.prompt.trim()}\nYour code should pass these tests:\n\n${problem.tests.join("\n")}\n\nReply with the Python code in one \`\`\`python code block.`;
}

// ---------------------------------------------------------------------------------------------
// Loading and sampling
// ---------------------------------------------------------------------------------------------

/** Options of {@link loadLiveTasks}. */
export interface LoadLiveTasksOptions {
  benchmark: BenchmarkName;
  /** Another copy of the benchmark file; default the shipped one. */
  path?: string;
  /** Keep the first N problems of the file. */
  limit?: number;
  /** Then a seeded sample of this many (the same sampler as the recorded runner's `maxPrompts`). */
  maxPrompts?: number;
  seed?: number;
  /** Runs the tests of HumanEval and MBPP answers; required for those two. */
  pythonRunner?: PythonRunner;
}

/**
 * The tasks of a benchmark: its problems (the first `limit`, then a seeded sample of `maxPrompts`),
 * each with its prompt and checker. Order: the file's order.
 * @throws Error when a code benchmark is asked for without a Python runner.
 * @example
 * ```ts
 * const tasks = await loadLiveTasks({ benchmark: "gsm8k", maxPrompts: 20, seed: 0 });
 * console.log(tasks[0]?.promptId, await tasks[0]?.check("#### 18"));
 * ```
 */
export async function loadLiveTasks(options: LoadLiveTasksOptions): Promise<LiveTask[]> {
  const { benchmark, path, limit, maxPrompts, seed = 0, pythonRunner } = options;
  const load = path === undefined ? {} : { path };
  const id = (raw: string | number) => {
    const text = String(raw);
    return /^[-._]/.test(text.slice(benchmark.length)) && text.toLowerCase().startsWith(benchmark)
      ? text
      : `${benchmark}.${text}`;
  };
  const needRunner = (): PythonRunner => {
    if (pythonRunner === undefined) throw new Error(`${benchmark}: checking code answers needs a Python runner`);
    return pythonRunner;
  };
  let tasks: LiveTask[];
  switch (benchmark) {
    case "gsm8k":
      tasks = (await loadGsm8k(load)).map((problem) => ({
        promptId: id(problem.id),
        prompt: mathPrompt(problem.question),
        evalName: benchmark,
        check: async (response) => checkGsm8k(response, problem.final_answer),
      }));
      break;
    case "svamp":
      tasks = (await loadSvamp(load)).map((problem) => ({
        promptId: id(problem.ID),
        prompt: mathPrompt(`${problem.Body.trim()} ${problem.Question.trim()}`),
        evalName: benchmark,
        check: async (response) => checkSvamp(response, problem.Answer),
      }));
      break;
    case "mmlu":
      tasks = (await loadMmlu(load)).map((question) => ({
        promptId: id(question.id),
        prompt: mmluPrompt(question),
        evalName: benchmark,
        check: async (response) => checkMmlu(response, question),
      }));
      break;
    case "humaneval": {
      const runner = needRunner();
      tasks = (await loadHumanEval(load)).map((problem) => ({
        promptId: id(problem.task_id.replace(/^HumanEval\//, "")),
        prompt: humanEvalPrompt(problem),
        evalName: benchmark,
        check: async (response) => (await checkHumanEval(problem, response, { runner })).passed,
      }));
      break;
    }
    case "mbpp": {
      const runner = needRunner();
      // The test split (tasks 11–510) of the paper; the others are few-shot and training material.
      tasks = (await loadMbpp(load))
        .filter((problem) => path !== undefined || problem.split === "test")
        .map((problem) => ({
          promptId: id(problem.task_id),
          prompt: mbppPrompt(problem),
          evalName: benchmark,
          check: async (response) => (await checkMbpp(problem, response, { runner })).passed,
        }));
      break;
    }
  }
  if (limit !== undefined) tasks = tasks.slice(0, limit);
  if (maxPrompts !== undefined && maxPrompts < tasks.length) {
    const kept = new Set(
      splitPromptIds(
        tasks.map((task) => task.promptId),
        { trainFraction: maxPrompts / tasks.length, seed },
      ).train,
    );
    tasks = tasks.filter((task) => kept.has(task.promptId));
  }
  return tasks;
}
