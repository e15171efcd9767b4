/**
 * The PostgreSQL strategy memory across two real Node processes (tsx), as two replicas of an app on
 * one schema: what one writes, the other's search returns within a second, entry and outcome alike,
 * with polling a minute away in both (NOTIFY does it).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describePostgres, freshSchema } from "../helpers/postgres.js";

const root = join(import.meta.dirname, "..", "..");
const replicaScript = join(import.meta.dirname, "fixtures", "memory-replica.ts");

interface Step {
  step: string;
  at: number;
  pid: number;
}

/** A child replica: its steps as they come, and its end. */
function startReplica(url: string, schema: string, role: "write" | "read") {
  const child = spawn(process.execPath, ["--import", "tsx", replicaScript, url, schema, role], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const steps: Step[] = [];
  const waiters: Array<() => void> = [];
  let buffered = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) steps.push(JSON.parse(line) as Step);
    for (const wake of waiters.splice(0)) wake();
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve(code));
  });
  const safety = setTimeout(() => child.kill("SIGKILL"), 45_000);
  exited.finally(() => clearTimeout(safety));
  return {
    steps,
    exited,
    stderr: () => stderr,
    async step(name: string): Promise<Step> {
      for (;;) {
        const found = steps.find((step) => step.step === name);
        if (found) return found;
        if (child.exitCode !== null) throw new Error(`replica exited before "${name}": ${stderr}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
    },
  };
}

describePostgres("PostgreSQL strategy memory: two processes", (url) => {
  let schema: Awaited<ReturnType<typeof freshSchema>>;
  beforeAll(async () => {
    schema = await freshSchema(url, "memproc");
  });
  afterAll(async () => {
    await schema.drop();
  });

  it("one process writes, the other's search returns the entry and its outcome within a second", async () => {
    const reader = startReplica(url, schema.schema, "read");
    await reader.step("ready");
    const writer = startReplica(url, schema.schema, "write");
    const [added, found] = [await writer.step("added"), await reader.step("found")];
    const [outcome, seen] = [await writer.step("outcome"), await reader.step("outcome-seen")];
    expect(await writer.exited).toBe(0);
    expect(await reader.exited).toBe(0);
    expect(reader.stderr()).toBe("");
    expect(writer.stderr()).toBe("");
    expect(found.pid).not.toBe(added.pid);
    expect(found.at - added.at).toBeLessThan(1_000);
    expect(seen.at - outcome.at).toBeLessThan(1_000);
  });
});
