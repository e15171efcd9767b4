/**
 * Render an evaluation report — Markdown table, Pareto plot (SVG) and a self-contained HTML page — from
 * a small hand-made `EvalReport`, into a temp folder. Offline, about a second.
 *
 *   npx tsx examples/report.ts
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EvalReport, type OperatingPoint, writeReport } from "langchain-gavel/eval";

const prompts = 500;
const point = (label: string, accuracy: number, meanCostUsd: number, largestModelShare = 0): OperatingPoint => ({
  label,
  accuracy,
  costUsd: meanCostUsd * prompts,
  meanCostUsd,
  prompts,
  calls: prompts,
  largestModelShare,
  callsByModel: {},
});

const report: EvalReport = {
  title: "My router on 500 held-out prompts",
  createdAt: new Date().toISOString(),
  dataset: {
    name: "my-data",
    source: "my-outcomes.jsonl.gz",
    trainPrompts: 500,
    testPrompts: prompts,
    models: ["small", "large"],
    split: "seeded 50/50",
  },
  strongModel: "large",
  weakModel: "small",
  policies: [
    {
      name: "my-router",
      kind: "router",
      description: "Cost-weighted router, λ sweep.",
      points: [point("λ=0", 0.86, 0.004, 0.9), point("λ=0.1", 0.84, 0.0015, 0.3), point("λ=1", 0.74, 0.0004, 0.02)],
      metrics: { apgr: 0.71, cpt50: 0.18, cpt80: 0.41, paretoArea: 0.79 },
    },
    {
      name: "single:large",
      kind: "baseline",
      description: "large alone",
      points: [point("alone", 0.87, 0.005, 1)],
    },
    { name: "single:small", kind: "baseline", description: "small alone", points: [point("alone", 0.7, 0.0002)] },
    {
      name: "oracle",
      kind: "baseline",
      description: "cheapest correct model",
      points: [point("oracle", 0.93, 0.0007)],
    },
  ],
  targets: [
    {
      description: "≥ 95% of large's accuracy at ≤ 25% of its cost",
      met: false,
      detail: "λ=0.1: 96.6% of its accuracy at 30% of its cost",
    },
  ],
};

const folder = mkdtempSync(join(tmpdir(), "gavel-report-"));
const files = await writeReport(report, folder);
console.log(readFileSync(files.markdown, "utf8").split("## Operating points")[1]?.split("\n## ")[0]?.trim());
console.log(`\nOpen ${files.html} (self-contained) or ${files.svg} (the Pareto plot).`);
