/**
 * Fit the router's scoring weights with the min-max regret MILP (HiGHS), compare them with the
 * router's DEFAULT_WEIGHTS on held-out tasks, save them as JSON and load them back. The result is
 * the router's own `RouterWeights`: `new AuctionRouter({ pool, weights: fitted.weights })`.
 *
 * The tasks here are SYNTHETIC (seeded, generated below): the figures show the fitter working,
 * not how any real model pool behaves. For real weights, fit on router runs over real tasks.
 *
 * Run: npx tsx examples/fit-weights.ts
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DEFAULT_WEIGHTS,
  evaluateWeights,
  fitRouterWeights,
  generateSyntheticTrainingTasks,
  weightsFromJson,
  weightsToJson,
} from "langchain-gavel";

// Bidders at $0.10, $0.50, $2 and $10 per million output tokens; bid prices are USD per token.
const jurors = { small: 0.35, large: 0.15 }; // juror → noise of its scores (the large juror is sharper)
const jurorNames = Object.keys(jurors);
const training = generateSyntheticTrainingTasks({ seed: 3, count: 30, jurors });
const heldOut = generateSyntheticTrainingTasks({ seed: 1003, count: 300, jurors });

const fitted = await fitRouterWeights({ tasks: training, jurors: jurorNames, timeLimitSeconds: 30 });
console.log(`fit: ${fitted.status} (HiGHS: ${fitted.solverStatus}), objective ${fitted.objective?.toFixed(4)}`);
console.log("weights:", fitted.weights);

const rows = [
  ["defaults", evaluateWeights(DEFAULT_WEIGHTS, heldOut)], // what a router gets without `weights`
  ["fitted", evaluateWeights(fitted.weights, heldOut)],
] as const;
console.log(`\nheld-out, ${heldOut.length} synthetic tasks (oracle accuracy ${rows[1][1].oracleAccuracy.toFixed(3)}):`);
console.table(
  rows.map(([name, report]) => ({
    weights: name,
    accuracy: report.accuracy.toFixed(3),
    "cost (USD)": report.totalCost.toFixed(4),
    "share to dearest": report.shareToDearest.toFixed(3),
    "mean regret": report.meanRegret.toFixed(3),
    "worst regret": report.worstCaseRegret.toFixed(3),
  })),
);

const folder = mkdtempSync(join(tmpdir(), "gavel-weights-"));
const path = join(folder, "router-weights.json");
writeFileSync(path, weightsToJson(fitted));
const reloaded = weightsFromJson(readFileSync(path, "utf8"));
console.log(`\nsaved to ${path} and reloaded: ${JSON.stringify(reloaded.weights) === JSON.stringify(fitted.weights)}`);
console.log("use them: new AuctionRouter({ pool, weights: reloaded.weights })");
rmSync(folder, { recursive: true, force: true });
