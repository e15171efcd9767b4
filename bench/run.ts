/**
 * `npm run bench`: runs every `bench/*.bench.ts` (or those named on the command line),
 * prints a table and writes `bench-results/latest.json`.
 */
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type BenchResult, meetsTarget } from "./harness.js";

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((file) => file.endsWith(".bench.ts"))
  .filter((file) => only.length === 0 || only.some((name) => file.startsWith(name)))
  .sort();

const results: BenchResult[] = [];
for (const file of files) {
  process.stderr.write(`running ${file} ...\n`);
  const module = (await import(pathToFileURL(join(here, file)).href)) as { run: () => Promise<BenchResult[]> };
  results.push(...(await module.run()));
}

for (const result of results) {
  const target = result.target ? ` (target ${result.target.op} ${result.target.value})` : "";
  const mark = meetsTarget(result) ? "ok  " : "MISS";
  console.log(`${mark} ${result.name.padEnd(48)} ${result.value.toFixed(3).padStart(12)} ${result.unit}${target}`);
}

const out = join(here, "..", "bench-results");
mkdirSync(out, { recursive: true });
const report = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: (await import("node:os")).cpus().length,
  results,
};
writeFileSync(join(out, "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nwrote ${join("bench-results", "latest.json")}`);
