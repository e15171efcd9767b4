import { describe, expect, it } from "vitest";
import { createProgressReporter, taskLabel } from "../../src/cli/progress.js";

describe("createProgressReporter without a terminal", () => {
  it("prints one line each time a task crosses another 10%", () => {
    const lines: string[] = [];
    const progress = createProgressReporter({ write: (text) => lines.push(text), interactive: false });
    for (let done = 0; done <= 200; done += 7) progress.onProgress({ phase: "embed", done, total: 200 });
    progress.onProgress({ phase: "embed", done: 200, total: 200 });
    progress.stop();
    expect(lines.map((line) => line.split(":")[1]?.trim().split(" ")[0])).toEqual([
      "10%",
      "20%",
      "30%",
      "40%",
      "50%",
      "60%",
      "70%",
      "80%",
      "90%",
      "100%",
    ]);
  });

  it("keeps tasks apart and names the swept parameter", () => {
    const lines: string[] = [];
    const progress = createProgressReporter({ write: (text) => lines.push(text), interactive: false });
    progress.onProgress({ phase: "route", policy: "memory-auction", parameter: 0.1, done: 10, total: 10 });
    progress.onProgress({ phase: "route", policy: "escalation", parameter: 0.5, done: 10, total: 10 });
    expect(lines).toEqual(["route memory-auction λ=0.1: 100% (10/10)\n", "route escalation τ=0.5: 100% (10/10)\n"]);
    expect(taskLabel({ phase: "load", done: 0, total: 1 })).toBe("load");
  });

  it("prints nothing when silent", () => {
    const lines: string[] = [];
    const progress = createProgressReporter({ write: (text) => lines.push(text), interactive: false, silent: true });
    progress.onProgress({ phase: "embed", done: 5, total: 5 });
    expect(lines).toEqual([]);
  });
});
