/**
 * Runs a Python program (candidate code plus its tests) in a child `python3` process, with limits.
 *
 * NOT A SECURITY SANDBOX. The limits stop accidents — infinite loops, memory bombs, core dumps,
 * runaway output, stray child processes — not an adversary. The child runs as the current user, can
 * read every file that user can read, can open network connections and can, when the user is root,
 * raise its own limits. Run untrusted model output only inside a disposable container or VM.
 *
 * What each run gets:
 * - a fresh temporary directory as working directory (the program is `main.py` there), removed afterwards;
 * - an environment stripped to `PATH`, `HOME` and `TMPDIR` (both the temp dir) and `LANG`; Python runs with
 *   `-I -B` (isolated mode: ignores `PYTHON*` variables and the user site folder; writes no bytecode);
 * - `setrlimit` from a Python preamble before the program starts: CPU seconds (SIGXCPU at the limit,
 *   SIGKILL one second later), address space, file size, no core files;
 * - a wall-clock timeout that kills the whole process group (so subprocesses die too);
 * - stdin closed; stdout and stderr captured up to a cap.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { z } from "zod";
import { parseConfig } from "../../errors.js";
import { createConcurrencyLimiter } from "../concurrency.js";
import { PythonUnavailableError } from "../errors.js";

const execFileAsync = promisify(execFile);

/** Exit code the preamble uses when the program raised `MemoryError` (the address-space limit was hit). */
export const EXIT_CODE_OUT_OF_MEMORY = 113;
/** Exit code the preamble uses when the program called `exit()`/`sys.exit()` before its last line. */
export const EXIT_CODE_EARLY_EXIT = 112;

/**
 * Runs before the program, inside the child: sets the limits, then executes `main.py`.
 * argv: cpu seconds, address-space bytes, file-size bytes, module name.
 */
const PREAMBLE = `
import os, resource, sys
cpu_seconds, address_space, file_size = (int(value) for value in sys.argv[1:4])
module_name = sys.argv[4]
def set_limit(kind, value):
    try:
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        pass
set_limit(resource.RLIMIT_CORE, 0)
try:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))  # SIGXCPU first, SIGKILL 1 s later
except (ValueError, OSError):
    pass
set_limit(resource.RLIMIT_FSIZE, file_size)
with open("main.py", encoding="utf-8") as handle:
    code = compile(handle.read(), "main.py", "exec")
sys.argv = ["main.py"]
set_limit(resource.RLIMIT_AS, address_space)
try:
    exec(code, {"__name__": module_name, "__builtins__": __builtins__})
except MemoryError:
    os.write(2, b"\\nMemoryError: the address-space limit was reached\\n")
    os._exit(${EXIT_CODE_OUT_OF_MEMORY})
except SystemExit as stop:
    sys.stdout.flush(); sys.stderr.flush()
    os.write(2, ("\\nprogram called exit(%r) before its end\\n" % (stop.code,)).encode())
    os._exit(${EXIT_CODE_EARLY_EXIT})
sys.stdout.flush(); sys.stderr.flush()
os._exit(0)
`;

/** Options of {@link createPythonRunner}. */
export const pythonRunnerOptionsSchema = z
  .object({
    /** Interpreter command or path; resolved once to the real executable (pyenv shims need the full env). */
    python: z.string().min(1).default("python3"),
    /** Programs running at once. Default: the number of CPUs. */
    concurrency: z.number().int().positive().optional(),
    /** Wall-clock limit per program, in milliseconds; the process group is killed after it. */
    timeoutMs: z.number().int().positive().default(10_000),
    /** CPU-time limit (RLIMIT_CPU), in seconds. Default: the wall-clock limit rounded up. */
    cpuSeconds: z.number().int().positive().optional(),
    /** Address-space limit (RLIMIT_AS), in MiB. */
    memoryMegabytes: z.number().int().positive().default(1024),
    /** Largest file the program may write (RLIMIT_FSIZE), in MiB. */
    fileSizeMegabytes: z.number().int().positive().default(16),
    /** Bytes of stdout and of stderr kept (each); the rest is dropped. */
    outputLimitBytes: z
      .number()
      .int()
      .positive()
      .default(64 * 1024),
  })
  .strict();

/** Options of {@link createPythonRunner}. */
export type PythonRunnerOptions = z.input<typeof pythonRunnerOptionsSchema>;

/** How a program ended. */
export type PythonRunStatus = "passed" | "failed" | "timed_out" | "out_of_memory";

/** The result of one program run. */
export interface PythonRunResult {
  /** `passed`: ran to its last line and exited 0. `failed`: an exception, a non-zero exit, `exit()` before the end, or a signal. */
  status: PythonRunStatus;
  /** Why, in words, e.g. `exit code 1` or `wall-clock limit of 10000 ms`. */
  reason: string;
  exitCode: number | null;
  signal: string | null;
  /** Captured stdout, cut at `outputLimitBytes`. */
  stdout: string;
  /** Captured stderr, cut at `outputLimitBytes` (the traceback is here). */
  stderr: string;
  /** Wall-clock time of the run, in milliseconds (informative only). */
  durationMs: number;
}

/** Options of one {@link PythonRunner.run}. */
export interface PythonRunOptions {
  /** `__name__` of the program. Default `"__main__"`; the code checkers use `"__candidate__"` so `if __name__ == "__main__":` blocks do not run (as in the official HumanEval harness). */
  moduleName?: string;
}

/** Runs Python programs with limits, at most `concurrency` at a time. */
export interface PythonRunner {
  /** Run one program; resolves (never rejects) with how it ended, unless Python itself cannot start. */
  run(program: string, options?: PythonRunOptions): Promise<PythonRunResult>;
  /** The parsed options in force. */
  readonly options: Readonly<Required<z.output<typeof pythonRunnerOptionsSchema>>>;
}

/**
 * A Python runner with resource limits and a concurrency cap. NOT a security sandbox (see the module doc).
 *
 * @param options - See {@link pythonRunnerOptionsSchema}; defaults: `python3`, one program per CPU, 10 s wall
 *   clock, CPU limit = wall clock, 1 GiB address space, 16 MiB files, 64 KiB of output kept.
 * @throws ConfigError when an option is invalid. `run` rejects with `PythonUnavailableError` when the
 *   interpreter cannot be started.
 * @example
 * ```ts
 * const runner = createPythonRunner({ timeoutMs: 5_000, concurrency: 2 });
 * const result = await runner.run("assert sum([1, 2]) == 3");
 * console.log(result.status); // "passed"
 * ```
 */
export function createPythonRunner(options: PythonRunnerOptions = {}): PythonRunner {
  const parsed = parseConfig("createPythonRunner options", pythonRunnerOptionsSchema, options);
  const {
    python,
    concurrency = availableParallelism(),
    timeoutMs,
    cpuSeconds = Math.ceil(timeoutMs / 1000),
    memoryMegabytes,
    fileSizeMegabytes,
    outputLimitBytes,
  } = parsed;
  const limited = createConcurrencyLimiter(concurrency);
  let executable: Promise<string> | undefined;

  const resolveExecutable = (): Promise<string> => {
    executable ??= execFileAsync(python, ["-c", "import sys; print(sys.executable)"], { timeout: 30_000 }).then(
      ({ stdout }) => stdout.trim() || python,
      (error: unknown) => {
        executable = undefined;
        throw new PythonUnavailableError(python, { cause: error });
      },
    );
    return executable;
  };

  const limits = {
    cpuSeconds,
    addressSpaceBytes: memoryMegabytes * 1024 * 1024,
    fileSizeBytes: fileSizeMegabytes * 1024 * 1024,
    timeoutMs,
    memoryMegabytes,
    outputLimitBytes,
  };

  return {
    options: { python, concurrency, timeoutMs, cpuSeconds, memoryMegabytes, fileSizeMegabytes, outputLimitBytes },
    run: (program, runOptions = {}) =>
      limited(async () => runOnce(await resolveExecutable(), program, runOptions.moduleName ?? "__main__", limits)),
  };
}

interface Limits {
  cpuSeconds: number;
  addressSpaceBytes: number;
  fileSizeBytes: number;
  timeoutMs: number;
  memoryMegabytes: number;
  outputLimitBytes: number;
}

async function runOnce(executable: string, program: string, moduleName: string, limits: Limits) {
  const folder = await mkdtemp(join(tmpdir(), "gavel-python-"));
  try {
    await writeFile(join(folder, "main.py"), program, "utf8");
    return await spawnAndWait(executable, folder, moduleName, limits);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

function spawnAndWait(executable: string, folder: string, moduleName: string, limits: Limits) {
  const started = performance.now();
  const args = [
    "-I",
    "-B",
    "-c",
    PREAMBLE,
    String(limits.cpuSeconds),
    String(limits.addressSpaceBytes),
    String(limits.fileSizeBytes),
    moduleName,
  ];
  const child = spawn(executable, args, {
    cwd: folder,
    env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: folder, TMPDIR: folder, LANG: "C.UTF-8" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // own process group, so a timeout kills the program's subprocesses too
  });
  const stdout = collect(child.stdout, limits.outputLimitBytes);
  const stderr = collect(child.stderr, limits.outputLimitBytes);
  const killGroup = () => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // the group is already gone
    }
  };

  return new Promise<PythonRunResult>((resolve, reject) => {
    let wallClockExpired = false;
    const timer = setTimeout(() => {
      wallClockExpired = true;
      killGroup();
    }, limits.timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new PythonUnavailableError(executable, { cause: error }));
    });
    let exitCode: number | null = null;
    let signal: NodeJS.Signals | null = null;
    child.once("exit", (code, exitSignal) => {
      clearTimeout(timer);
      exitCode = code;
      signal = exitSignal;
      killGroup(); // end whatever the program left running; they would hold stdout open
    });
    child.once("close", () => {
      const { status, reason } = classify(exitCode, signal, wallClockExpired, limits);
      resolve({
        status,
        reason,
        exitCode,
        signal,
        stdout: stdout.text(),
        stderr: stderr.text(),
        durationMs: performance.now() - started,
      });
    });
  });
}

function classify(
  exitCode: number | null,
  signal: NodeJS.Signals | null,
  wallClockExpired: boolean,
  limits: Limits,
): { status: PythonRunStatus; reason: string } {
  if (wallClockExpired) return { status: "timed_out", reason: `wall-clock limit of ${limits.timeoutMs} ms` };
  if (signal === "SIGXCPU") return { status: "timed_out", reason: `CPU limit of ${limits.cpuSeconds} s` };
  if (exitCode === EXIT_CODE_OUT_OF_MEMORY) {
    return { status: "out_of_memory", reason: `address-space limit of ${limits.memoryMegabytes} MiB` };
  }
  if (signal !== null) return { status: "failed", reason: `killed by ${signal}` };
  if (exitCode === 0) return { status: "passed", reason: "ran to the end" };
  if (exitCode === EXIT_CODE_EARLY_EXIT) return { status: "failed", reason: "called exit() before its end" };
  return { status: "failed", reason: `exit code ${exitCode}` };
}

function collect(stream: NodeJS.ReadableStream, limit: number): { text(): string } {
  const chunks: Buffer[] = [];
  let kept = 0;
  let dropped = 0;
  stream.on("data", (chunk: Buffer) => {
    const room = limit - kept;
    if (room > 0) {
      const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
      chunks.push(part);
      kept += part.length;
    }
    dropped += Math.max(0, chunk.length - Math.max(0, room));
  });
  return {
    text: () => {
      const text = Buffer.concat(chunks).toString("utf8");
      return dropped > 0 ? `${text}\n[... ${dropped} bytes dropped]` : text;
    },
  };
}
