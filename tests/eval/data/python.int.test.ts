/**
 * The Python runner with real `python3` child processes: reference solutions pass, wrong ones fail, and
 * the limits stop infinite loops, memory bombs and early exits.
 */
import { describe, expect, it } from "vitest";
import { createConcurrencyLimiter, mapWithConcurrency } from "../../../src/eval/concurrency.js";
import { checkHumanEval, checkMbpp } from "../../../src/eval/data/checkers.js";
import { loadHumanEval, loadMbpp } from "../../../src/eval/data/datasets.js";
import { createPythonRunner } from "../../../src/eval/data/python.js";
import { PythonUnavailableError } from "../../../src/eval/errors.js";

const runner = createPythonRunner({ timeoutMs: 10_000, memoryMegabytes: 512, concurrency: 2 });

describe("HumanEval and MBPP pass@1", () => {
  it("the canonical solutions of the first 10 HumanEval problems pass", async () => {
    const problems = (await loadHumanEval()).slice(0, 10);
    const results = await mapWithConcurrency(problems, 2, (problem) =>
      checkHumanEval(problem, problem.canonical_solution, { runner }),
    );
    expect(results.map((result) => result.run.status)).toEqual(Array(10).fill("passed"));
  });

  it("a canonical solution written as a full function in a markdown fence passes too", async () => {
    const [problem] = await loadHumanEval();
    if (!problem) throw new Error("no HumanEval problem");
    const response = `Sure:\n\`\`\`python\n${problem.prompt}${problem.canonical_solution}\`\`\`\n`;
    expect((await checkHumanEval(problem, response, { runner })).passed).toBe(true);
  });

  it("a wrong solution fails, with the assertion in stderr", async () => {
    const [problem] = await loadHumanEval();
    if (!problem) throw new Error("no HumanEval problem");
    const result = await checkHumanEval(problem, "    return False\n", { runner });
    expect(result.passed).toBe(false);
    expect(result.run.status).toBe("failed");
    expect(result.run.stderr).toContain("AssertionError");
  });

  it("the reference code of the first 10 MBPP tasks passes; a wrong one fails", async () => {
    const problems = (await loadMbpp()).slice(0, 10);
    const results = await mapWithConcurrency(problems, 2, (problem) =>
      checkMbpp(problem, problem.reference_code, { runner, includeChallengeTests: true }),
    );
    expect(results.every((result) => result.passed)).toBe(true);
    const first = problems[0] as (typeof problems)[number];
    const wrong = await checkMbpp(first, `def ${first.entry_point}(*args):\n    return None\n`, { runner });
    expect(wrong.passed).toBe(false);
  });

  it("a candidate's `if __name__ == '__main__'` block does not run", async () => {
    const [problem] = await loadHumanEval();
    if (!problem) throw new Error("no HumanEval problem");
    const response = `${problem.canonical_solution}\nif __name__ == "__main__":\n    input()\n`;
    expect((await checkHumanEval(problem, response, { runner })).passed).toBe(true);
  });
});

describe("limits", () => {
  it("an infinite loop is stopped by the wall-clock limit", async () => {
    const quick = createPythonRunner({ timeoutMs: 1_500, cpuSeconds: 30 });
    const result = await quick.run("while True:\n    pass\n");
    expect(result.status).toBe("timed_out");
    expect(result.signal).toBe("SIGKILL");
  });

  it("a busy loop is stopped by the CPU limit", async () => {
    const cpuBound = createPythonRunner({ timeoutMs: 30_000, cpuSeconds: 1 });
    const result = await cpuBound.run("while True:\n    pass\n");
    expect(result.status).toBe("timed_out");
    expect(result.reason).toContain("CPU limit");
  });

  it("a sleeping program and the subprocess it started are killed at the timeout", async () => {
    const quick = createPythonRunner({ timeoutMs: 1_500 });
    const result = await quick.run("import subprocess, time\nsubprocess.Popen(['sleep', '60'])\ntime.sleep(60)\n");
    expect(result.status).toBe("timed_out");
  });

  it("a memory bomb is stopped by the address-space limit", async () => {
    const small = createPythonRunner({ memoryMegabytes: 256 });
    const gradual = await small.run("blocks = []\nwhile True:\n    blocks.append(' ' * 10_000_000)\n");
    expect(gradual.status).toBe("out_of_memory");
    const atOnce = await small.run("data = bytearray(8 * 1024 ** 3)\n");
    expect(atOnce.status).toBe("out_of_memory");
  });

  it("exit() before the end of the program is a failure, not a pass", async () => {
    const result = await runner.run("import sys\nsys.exit(0)\nassert False\n");
    expect(result.status).toBe("failed");
    expect(result.reason).toContain("exit()");
  });

  it("the program runs in a fresh temp dir with a stripped environment", async () => {
    const result = await runner.run(
      "import os, json\nprint(json.dumps({'cwd': os.getcwd(), 'env': sorted(os.environ), 'files': os.listdir('.')}))\n",
    );
    expect(result.status).toBe("passed");
    const seen = JSON.parse(result.stdout) as { cwd: string; env: string[]; files: string[] };
    expect(seen.cwd).toContain("gavel-python-");
    expect(seen.env).toEqual(["HOME", "LANG", "PATH", "TMPDIR"]);
    expect(seen.files).toEqual(["main.py"]);
  });

  it("output beyond the cap is dropped", async () => {
    const capped = createPythonRunner({ outputLimitBytes: 1_000 });
    const result = await capped.run("print('x' * 100_000)\n");
    expect(result.status).toBe("passed");
    expect(result.stdout.length).toBeLessThan(1_100);
    expect(result.stdout).toContain("bytes dropped");
  });

  it("never runs more programs at once than its concurrency", async () => {
    const pair = createPythonRunner({ concurrency: 2 });
    const program = "import time\nstart = time.time()\ntime.sleep(0.3)\nprint(start, time.time())\n";
    const results = await Promise.all(Array.from({ length: 5 }, () => pair.run(program)));
    const intervals = results.map((result) => result.stdout.trim().split(" ").map(Number) as [number, number]);
    const mostAtOnce = Math.max(
      ...intervals.map(
        ([start]) => intervals.filter(([otherStart, otherEnd]) => otherStart <= start && start < otherEnd).length,
      ),
    );
    expect(mostAtOnce).toBeLessThanOrEqual(2);
    expect(createConcurrencyLimiter).toThrow(RangeError);
  });

  it("a missing interpreter is a PythonUnavailableError", async () => {
    const missing = createPythonRunner({ python: "/nonexistent/python3" });
    await expect(missing.run("pass\n")).rejects.toSatisfy((error) => PythonUnavailableError.isInstance(error));
  });
});
