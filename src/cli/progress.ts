/**
 * Progress for long CLI commands, fed by the runner's `onProgress` events.
 *
 * On a terminal (stderr is a TTY) a cli-progress bar redrawn in place, one task at a time; anywhere
 * else (a pipe, a CI log, a test) a plain line each time a task crosses another 10%, so logs stay short
 * and readable. Progress always goes to stderr: stdout is kept for results and `--json`.
 */
import { SingleBar } from "cli-progress";
import type { EvaluationProgress } from "../eval/routing/options.js";

/** What a command feeds and closes. */
export interface ProgressReporter {
  /** Report one event; give it to the runner as `onProgress`. */
  onProgress(event: EvaluationProgress): void;
  /** Finish the bar (leaves the terminal on a fresh line). Safe to call twice. */
  stop(): void;
}

/** Options of {@link createProgressReporter}. */
export interface ProgressReporterOptions {
  /** Where the plain lines go (stderr). */
  write: (text: string) => void;
  /** Draw a bar (stderr is a TTY) instead of lines. */
  interactive: boolean;
  /** The stream the bar redraws; default `process.stderr`. */
  stream?: NodeJS.WritableStream;
  /** Print nothing at all (`--quiet`). */
  silent?: boolean;
}

/** Human name of the task an event belongs to, e.g. `route memory-auction λ=0.1`. */
export function taskLabel(event: EvaluationProgress): string {
  // Shipped-router passes sweep λ; "escalation" is the τ sweep of reports written before 0.6.
  const symbol = event.policy === "escalation" ? "τ" : event.phase === "route" ? "λ" : "parameter";
  const parameter = event.parameter === undefined ? "" : ` ${symbol}=${event.parameter}`;
  const policy = event.policy === undefined ? "" : ` ${event.policy}`;
  return `${event.phase}${policy}${parameter}`;
}

/**
 * A progress reporter for one command run.
 *
 * @example
 * ```ts
 * const progress = createProgressReporter({ write: (text) => process.stderr.write(text), interactive: process.stderr.isTTY === true });
 * const report = await runRecordedEvaluation({ embedder: "hashing", onProgress: progress.onProgress });
 * progress.stop();
 * ```
 */
export function createProgressReporter(options: ProgressReporterOptions): ProgressReporter {
  const { write, interactive, stream = process.stderr, silent = false } = options;
  if (silent) return { onProgress: () => {}, stop: () => {} };
  return interactive ? barReporter(stream) : lineReporter(write);
}

function lineReporter(write: (text: string) => void): ProgressReporter {
  /** Last tenth printed per task. */
  const printed = new Map<string, number>();
  return {
    onProgress(event) {
      if (event.total <= 0) return;
      const label = taskLabel(event);
      const tenth = Math.floor((Math.min(event.done, event.total) / event.total) * 10);
      const last = printed.get(label) ?? 0;
      if (tenth <= last) return;
      printed.set(label, tenth);
      write(`${label}: ${tenth * 10}% (${event.done}/${event.total})\n`);
    },
    stop() {},
  };
}

function barReporter(stream: NodeJS.WritableStream): ProgressReporter {
  const bar = new SingleBar({
    stream,
    format: "{task} |{bar}| {percentage}% {value}/{total} eta {eta_formatted}",
    barsize: 30,
    hideCursor: true,
    clearOnComplete: false,
    etaBuffer: 50,
  });
  /** One bar line per phase; the task label of the line changes within a phase (one pass per λ). */
  let currentPhase: string | undefined;
  let running = false;
  return {
    onProgress(event) {
      const task = taskLabel(event).padEnd(28);
      if (event.phase !== currentPhase) {
        if (running) bar.stop();
        bar.start(Math.max(event.total, 1), event.done, { task });
        currentPhase = event.phase;
        running = true;
        return;
      }
      bar.setTotal(Math.max(event.total, 1));
      bar.update(event.done, { task });
    },
    stop() {
      if (running) bar.stop();
      running = false;
    },
  };
}
