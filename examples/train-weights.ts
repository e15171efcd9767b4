/**
 * `gavel train router` and `gavel train executors`, in-process and offline: write training files,
 * fit, save, reload the JSON. The router tasks are SYNTHETIC (generated with known skills) — they
 * show the workflow, and no figure printed here says anything about real models.
 *
 *   npx tsx examples/train-weights.ts
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { executorWeightsFromJson, generateSyntheticTrainingTasks, weightMap, weightsFromJson } from "langchain-gavel";
import { trainCommand } from "../src/cli/train.js";

const folder = mkdtempSync(join(tmpdir(), "gavel-train-example-"));
const tasksFile = join(folder, "tasks.jsonl");
const tasks = generateSyntheticTrainingTasks({ seed: 1, count: 40 });
writeFileSync(tasksFile, `${tasks.map((task) => JSON.stringify(task)).join("\n")}\n`);

const recordsFile = join(folder, "records.jsonl");
const records = [
  { executor: "careful", correct: true },
  { executor: "careful", correct: true },
  { executor: "careful", correct: false },
  { executor: "hasty", correct: false },
  { executor: "hasty", correct: true },
];
writeFileSync(recordsFile, `${records.map((record) => JSON.stringify(record)).join("\n")}\n`);

const gavel = new Command("gavel").addCommand(trainCommand());
const routerWeights = join(folder, "router-weights.json");
await gavel.parseAsync(["train", "router", "--tasks", tasksFile, "--time-limit", "10", "--out", routerWeights], {
  from: "user",
});
const executorWeights = join(folder, "executor-weights.json");
await gavel.parseAsync(["train", "executors", "--records", recordsFile, "--out", executorWeights], { from: "user" });

// Reload: `new AuctionRouter({ pool, weights: fitted.weights })`, `createBeliefCoordination({ ..., weights })`.
const fitted = weightsFromJson(readFileSync(routerWeights, "utf8"));
console.log("\nreloaded router weights:", fitted.status, fitted.weights);
console.log("reloaded executor weights:", weightMap(executorWeightsFromJson(readFileSync(executorWeights, "utf8"))));
