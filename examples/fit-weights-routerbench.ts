/**
 * Fit the router's scoring weights on REAL recorded answers (the shipped RouterBench outcomes: 11
 * real LLMs on ARC-Challenge, Winogrande and MBPP) and compare them with the router's
 * DEFAULT_WEIGHTS on every prompt the main job holds out — the same seeded 50/50 split.
 *
 * Each bid is a proxy built from what the model really answered: plan = the first 128 tokens of
 * its recorded response, entropy = the router's lexical fallback, jury = whether each of three
 * cheap models (Mixtral 8x7B, Yi-34B, Code Llama 34B) gave the same answer. A recorded answer is
 * not a plan written before execution, and this jury needs every juror's own answer: the figures
 * show how well the weights can be fitted on real model behaviour, not a deployable router.
 * See docs/router-weights.md, "On real recorded data (RouterBench)".
 *
 * Run: npx tsx examples/fit-weights-routerbench.ts   (offline, about 10–20 s)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { weightsFromJson, weightsToJson } from "langchain-gavel";
import { compareWeightsOnRouterBench, loadOutcomeIndex, ROUTERBENCH_CHEAP_JURORS } from "langchain-gavel/eval";

const index = await loadOutcomeIndex(); // data/routerbench/outcomes.jsonl.gz, 2,218 prompts
const result = await compareWeightsOnRouterBench(index, {
  jurors: [...ROUTERBENCH_CHEAP_JURORS],
  sampleSize: 20, // a stratified sample of the main job's training half
  seed: 0,
  timeLimitSeconds: 20,
});

const { fitted } = result;
console.log(
  `fit on ${result.sampleSize} training prompts: ${fitted.status} (HiGHS: ${fitted.solverStatus}) in ${result.fitSeconds.toFixed(1)} s`,
);
console.log("weights:", fitted.weights);

const { defaults, fitted: mine } = result.heldOut;
console.log(
  `\nheld-out: the main job's ${defaults.tasks} held-out prompts (oracle accuracy ${defaults.oracleAccuracy.toFixed(3)}, oracle cost $${defaults.oracleCost.toFixed(3)}):`,
);
console.table(
  Object.entries({ defaults, fitted: mine }).map(([weights, evaluation]) => ({
    weights,
    accuracy: evaluation.accuracy.toFixed(3),
    "cost (USD)": evaluation.totalCost.toFixed(3),
    "share to dearest": evaluation.shareToDearest.toFixed(3),
    "mean regret": evaluation.meanRegret.toFixed(3),
    "worst regret": evaluation.worstCaseRegret.toFixed(3),
  })),
);
const verdict = mine.meanRegret < defaults.meanRegret ? "lower" : "NOT lower";
console.log(`fitted mean regret is ${verdict} than the defaults' on the held-out prompts`);

const folder = mkdtempSync(join(tmpdir(), "gavel-routerbench-weights-"));
const path = join(folder, "router-weights.json");
writeFileSync(path, weightsToJson(fitted));
const reloaded = weightsFromJson(readFileSync(path, "utf8"));
console.log(`\nsaved to ${path} and reloaded: ${JSON.stringify(reloaded.weights) === JSON.stringify(fitted.weights)}`);
rmSync(folder, { recursive: true, force: true });
