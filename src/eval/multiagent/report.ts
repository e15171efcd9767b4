/**
 * The report of a multi-agent experiment, as an `EvalReport` the shared renderer draws: one policy per
 * mechanism, one operating point per budget, with real tokens, cost efficiency and USD; plus the
 * accuracy–tokens curve (`accuracy-tokens.svg`), since `pareto.svg` plots USD and local models cost 0.
 */
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type * as vegaLite from "vega-lite";
import type { ExperimentConfig } from "../experiment/config.js";
import { assertReplaceable, hasGavelMarker } from "../outputs.js";
import type { EvalReport, OperatingPoint, PolicyResult } from "../report/results.js";
import type { ReportTable } from "../report/tables.js";
import { renderVegaLiteSvg } from "../report/vega.js";
import { OVERWRITE_FLAG } from "../report/write.js";
import { MIN_EXECUTOR_CAP, type MultiAgentAgent, type MultiAgentMechanism, type MultiAgentRunRecord } from "./run.js";

/** Policy id and description of each mechanism in the report. */
export const MECHANISM_POLICIES: Record<MultiAgentMechanism, { name: string; description: string }> = {
  intent: {
    name: "gated-debate",
    description:
      "Auction-gated debate: agents bid with a short intent, only the auction's winners write (DALA, intent mode).",
  },
  full_draft: {
    name: "dala-full-draft",
    description: "DALA's original: every agent drafts, the auction picks whose draft is broadcast.",
  },
  econ: {
    name: "belief-coordination",
    description:
      "Belief coordination (ECON): a coordinator's strategy, executors that never see each other, commitment by beliefs.",
  },
  full: {
    name: "full-debate",
    description:
      "Full-communication debate: every agent speaks every round, no budget (run once, shown at every budget).",
  },
};

/** File name of the accuracy–tokens plot beside the report. */
export const TOKENS_PLOT_FILE = "accuracy-tokens.svg";

/** What {@link multiAgentReport} needs. */
export interface MultiAgentReportInput {
  config: ExperimentConfig;
  tasks: number;
  agents: MultiAgentAgent[];
  budgets: number[];
  mechanisms: MultiAgentMechanism[];
  records: MultiAgentRunRecord[];
  createdAt: Date;
}

/** Mean tokens (input + output) per example of a point; 0 without prompts. */
export function meanTokensOf(point: OperatingPoint): number {
  if (point.tokens === undefined || point.prompts === 0) return 0;
  return (point.tokens.input + point.tokens.output) / point.prompts;
}

/**
 * Build the `EvalReport` of a multi-agent sweep: policies = mechanisms (the full-communication debate is
 * a baseline, the others routers), points = budgets. Cost efficiency = accuracy / (mean tokens / 1000).
 */
export function multiAgentReport(input: MultiAgentReportInput): EvalReport {
  const { config, tasks, agents, budgets, mechanisms, records } = input;
  const benchmark = config.data.source === "benchmark" ? config.data.benchmark : "benchmark";
  const byPrice = [...agents].sort(
    (left, right) =>
      left.price.inputPerMillion +
      left.price.outputPerMillion -
      (right.price.inputPerMillion + right.price.outputPerMillion),
  );
  const cheapest = byPrice[0]?.model ?? "";
  const dearest = byPrice[byPrice.length - 1]?.model ?? "";
  const policies: PolicyResult[] = mechanisms.map((mechanism) => {
    const points = budgets.map((budget) => {
      const runs = records.filter(
        (record) => record.mechanism === mechanism && record.budget === (mechanism === "full" ? null : budget),
      );
      return pointOf(mechanism, budget, runs, dearest);
    });
    const { name, description } = MECHANISM_POLICIES[mechanism];
    return { name, kind: mechanism === "full" ? "baseline" : "router", description, points };
  });

  const notes = [
    `Agents: ${agents.map((agent) => `${agent.name} (${agent.model})`).join(", ")}; ${config.debate?.maxRounds ?? 3} rounds at most. Tokens are the providers' reported usage (estimated with the tokenizer only where none was reported).`,
    "Budgets are tokens per example (prompt + completion of every call), held by reserve-then-settle; the full-communication debate runs unbudgeted and is shown with its real tokens at every budget.",
    `Cost efficiency = accuracy / (mean tokens per example / 1000). The accuracy–tokens curve: ${TOKENS_PLOT_FILE}.`,
    ...policies.flatMap((policy) =>
      policy.points.map((point) => {
        const mechanism = (Object.keys(MECHANISM_POLICIES) as MultiAgentMechanism[]).find(
          (key) => MECHANISM_POLICIES[key].name === policy.name,
        );
        const runs = records.filter(
          (record) =>
            record.mechanism === mechanism && record.budget === (mechanism === "full" ? null : point.parameter),
        );
        const most = Math.max(0, ...runs.map((record) => record.inputTokens + record.outputTokens));
        const errors = runs.filter((record) => record.error !== undefined).length;
        const unaffordable = runs.filter((record) => record.unaffordable === true).length;
        const caps = runs.flatMap((record) => record.executorCap ?? []);
        const sizing = caps.length === 0 ? "" : `, executor cap ${Math.min(...caps)}–${Math.max(...caps)} tokens`;
        const misfits =
          unaffordable === 0
            ? ""
            : `, ${unaffordable} of ${runs.length} example(s) did not fit (not even a ${MIN_EXECUTOR_CAP}-token executor round: nobody called, scored wrong)`;
        return `${policy.name} ${point.label}: accuracy ${point.accuracy.toFixed(3)}, ${meanTokensOf(point).toFixed(0)} tokens per example (most ${most}; in ${point.tokens?.input ?? 0} / out ${point.tokens?.output ?? 0}), ${(point.costEfficiency ?? 0).toFixed(3)} accuracy per 1k tokens, $${Number(point.meanCostUsd.toPrecision(3))} per example${sizing}${misfits}${errors > 0 ? `, ${errors} example(s) with failed calls` : ""}.`;
      }),
    ),
  ];

  return {
    title:
      config.title ??
      `${config.name}: multi-agent mechanisms on ${benchmark} under token budgets (${config.backend.kind})`,
    createdAt: input.createdAt.toISOString(),
    dataset: {
      name: benchmark,
      source: `benchmark answered live (${config.backend.kind})`,
      trainPrompts: 0,
      testPrompts: tasks,
      models: [...new Set(agents.map((agent) => agent.model))],
      split: `seeded sample (seed ${config.seed}), no training`,
    },
    strongModel: dearest,
    weakModel: cheapest,
    policies,
    notes,
    config: JSON.parse(JSON.stringify(config)) as Record<string, unknown>,
  };
}

function pointOf(
  mechanism: MultiAgentMechanism,
  budget: number,
  runs: MultiAgentRunRecord[],
  dearest: string,
): OperatingPoint {
  const prompts = runs.length;
  const correct = runs.filter((record) => record.correct).length;
  const input = runs.reduce((sum, record) => sum + record.inputTokens, 0);
  const output = runs.reduce((sum, record) => sum + record.outputTokens, 0);
  const costUsd = runs.reduce((sum, record) => sum + record.usd, 0);
  const calls = runs.reduce((sum, record) => sum + record.calls, 0);
  const callsByModel: Record<string, number> = {};
  for (const record of runs) {
    for (const [model, count] of Object.entries(record.callsByModel)) {
      callsByModel[model] = (callsByModel[model] ?? 0) + count;
    }
  }
  const accuracy = prompts === 0 ? 0 : correct / prompts;
  const meanTokens = prompts === 0 ? 0 : (input + output) / prompts;
  return {
    label: mechanism === "full" ? `budget=${budget} (unbudgeted)` : `budget=${budget}`,
    parameter: budget,
    accuracy,
    costUsd,
    meanCostUsd: prompts === 0 ? 0 : costUsd / prompts,
    prompts,
    calls,
    // For debates: the share of calls made to the dearest pool model.
    largestModelShare: calls === 0 ? 0 : (callsByModel[dearest] ?? 0) / calls,
    callsByModel,
    tokens: { input, output, estimated: runs.some((record) => record.estimated) },
    costEfficiency: meanTokens > 0 ? accuracy / (meanTokens / 1000) : 0,
  };
}

/** Every mechanism at every budget: accuracy, real tokens, cost efficiency and USD, for the terminal and tests. */
export function multiAgentTable(report: EvalReport): ReportTable {
  return {
    title: "Mechanisms by budget",
    caption: "Accuracy, real tokens per example and cost efficiency (accuracy per 1k tokens) at each token budget.",
    head: [
      "mechanism",
      "budget",
      "accuracy",
      "tokens / example",
      "tokens in",
      "tokens out",
      "acc. / 1k tokens",
      "USD / example",
    ],
    alignRight: [1, 2, 3, 4, 5, 6, 7],
    rows: report.policies.flatMap((policy) =>
      policy.points.map((point) => [
        policy.name,
        point.label.replace(/^budget=/, ""),
        point.accuracy.toFixed(3),
        meanTokensOf(point).toFixed(0),
        String(point.tokens?.input ?? 0),
        String(point.tokens?.output ?? 0),
        (point.costEfficiency ?? 0).toFixed(3),
        `$${Number(point.meanCostUsd.toPrecision(3))}`,
      ]),
    ),
  };
}

/**
 * The accuracy–cost curve with cost in tokens: accuracy against mean tokens per example, one line per
 * mechanism through its budgets (the unbudgeted full debate: one point). An SVG rendered offline.
 * @throws MissingPeerDependencyError when vega or vega-lite is not installed.
 */
export async function renderTokensPlot(report: EvalReport): Promise<string> {
  const rows = report.policies.flatMap((policy) => {
    const points = policy.kind === "baseline" ? policy.points.slice(0, 1) : policy.points;
    return points.map((point) => ({
      series: policy.name,
      point: point.label,
      tokens: meanTokensOf(point),
      accuracy: point.accuracy,
    }));
  });
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: report.title, subtitle: "accuracy vs mean tokens per example — up and to the left is better" },
    width: 640,
    height: 420,
    background: "white",
    padding: 12,
    data: { values: rows },
    mark: { type: "line", strokeWidth: 2.2, point: { filled: true, size: 48 } },
    encoding: {
      x: { field: "tokens", type: "quantitative", title: "mean tokens per example (input + output)" },
      y: {
        field: "accuracy",
        type: "quantitative",
        title: "accuracy",
        scale: { domain: [0, 1] },
        axis: { format: ".0%" },
      },
      color: { field: "series", type: "nominal", title: null, legend: { orient: "bottom" } },
      order: { field: "tokens", type: "quantitative" },
      tooltip: [
        { field: "series", type: "nominal" },
        { field: "point", type: "nominal" },
        { field: "tokens", type: "quantitative", format: ".0f" },
        { field: "accuracy", type: "quantitative", format: ".3f" },
      ],
    },
  } as unknown as vegaLite.TopLevelSpec;
  return renderVegaLiteSvg(spec, TOKENS_PLOT_FILE);
}

/**
 * Write `accuracy-tokens.svg` into the report folder; returns its absolute path. A file there that
 * Gavel did not write (no Gavel marker) is refused unless `overwrite` is set.
 *
 * @throws OutputConflictError naming the path when the file there is not Gavel's.
 */
export async function writeTokensPlot(
  report: EvalReport,
  directory: string,
  options: { overwrite?: boolean } = {},
): Promise<string> {
  const path = join(resolve(directory), TOKENS_PLOT_FILE);
  assertReplaceable(path, {
    what: `a Gavel plot (${TOKENS_PLOT_FILE})`,
    isGavels: hasGavelMarker,
    overwrite: options.overwrite === true,
    flag: OVERWRITE_FLAG,
  });
  await writeFile(path, await renderTokensPlot(report), "utf8");
  return path;
}
