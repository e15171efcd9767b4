/**
 * Every program in `examples/` runs offline and exits 0: the docs quote these files, so CI runs them.
 */
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const examples = readdirSync(join(root, "examples"))
  .filter((file) => file.endsWith(".ts"))
  .sort();

describe("examples", () => {
  it("finds the examples", () => {
    expect(examples.length).toBeGreaterThanOrEqual(10);
  });

  it.each(examples)("examples/%s runs offline and prints its result", async (file) => {
    const tsx = join(root, "node_modules", ".bin", "tsx");
    const { stdout } = await run(tsx, [join("examples", file)], { cwd: root, timeout: 120_000 });
    expect(stdout.trim().length).toBeGreaterThan(0);
  });
});
