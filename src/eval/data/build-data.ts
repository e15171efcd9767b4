/**
 * Builds the `data/` folder shipped in the repository from the public source files.
 *
 * Run once by a maintainer: `npx tsx src/eval/data/build-data.ts <source data folder> [target folder]`.
 * Nothing at run time reads the source folder. Every source file is validated with its loader's
 * schema; the benchmark files are gzip-compressed byte for byte (content unchanged); the RouterBench
 * files are converted to the canonical recorded-outcomes format with {@link convertRouterBenchFiles}.
 */
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import type { z } from "zod";
import {
  DATA_FILES,
  type DataFileName,
  dataDirectory,
  gsm8kProblemSchema,
  humanEvalProblemSchema,
  loadJsonLines,
  mbppProblemSchema,
  mmluQuestionSchema,
  sanitizedMbppProblemSchema,
  svampProblemSchema,
  writeJsonLines,
} from "./datasets.js";
import { convertRouterBenchFiles } from "./outcomes.js";

const gzipAsync = promisify(gzip);

/** Source file (relative to the source folder) and schema of every shipped benchmark file. */
const COPIED_FILES: ReadonlyArray<{ name: DataFileName; source: string; schema: z.ZodType<unknown> }> = [
  { name: "gsm8k", source: "gsm8k/test_normalized.jsonl", schema: gsm8kProblemSchema },
  { name: "mmluSubset500", source: "mmlu/mmlu_subset_500.jsonl", schema: mmluQuestionSchema },
  { name: "mmluTestAll", source: "mmlu/mmlu_test_all.jsonl", schema: mmluQuestionSchema },
  { name: "humanEval", source: "humaneval/HumanEval.jsonl", schema: humanEvalProblemSchema },
  { name: "mbppNormalized", source: "mbpp/mbpp_normalized.jsonl", schema: mbppProblemSchema },
  { name: "mbppSanitized", source: "mbpp/sanitized_mbpp.jsonl", schema: sanitizedMbppProblemSchema },
  { name: "svamp", source: "svamp/svamp.jsonl", schema: svampProblemSchema },
];

/** One file written by {@link buildShippedData}. */
export interface BuiltFile {
  /** Path relative to the target folder. */
  file: string;
  /** Number of records. */
  records: number;
  /** Size on disk, compressed. */
  bytes: number;
}

/**
 * Validate and write every shipped data file.
 * @param options.sourceDirectory - Folder holding `gsm8k/`, `mmlu/`, ..., `routerbench/` as published.
 * @param options.targetDirectory - Where to write; defaults to the package's `data/`.
 * @returns What was written, with record counts and compressed sizes.
 */
export async function buildShippedData(options: {
  sourceDirectory: string;
  targetDirectory?: string;
}): Promise<BuiltFile[]> {
  const { sourceDirectory, targetDirectory = dataDirectory() } = options;
  const built: BuiltFile[] = [];

  for (const { name, source, schema } of COPIED_FILES) {
    const sourcePath = join(sourceDirectory, source);
    const records = await loadJsonLines(sourcePath, schema);
    const target = join(targetDirectory, DATA_FILES[name]);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, await gzipAsync(await readFile(sourcePath), { level: 9 }));
    built.push({ file: DATA_FILES[name], records: records.length, bytes: (await stat(target)).size });
  }

  const outcomes = await convertRouterBenchFiles({
    promptsPath: join(sourceDirectory, "routerbench/prompts.jsonl"),
    outcomesPath: join(sourceDirectory, "routerbench/outcomes_long.jsonl"),
  });
  const target = join(targetDirectory, DATA_FILES.routerBenchOutcomes);
  await writeJsonLines(target, outcomes);
  built.push({ file: DATA_FILES.routerBenchOutcomes, records: outcomes.length, bytes: (await stat(target)).size });
  return built;
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) {
  const [sourceDirectory, targetDirectory] = process.argv.slice(2);
  if (sourceDirectory === undefined) {
    console.error("usage: npx tsx src/eval/data/build-data.ts <source data folder> [target folder]");
    process.exit(2);
  }
  const built = await buildShippedData({ sourceDirectory, ...(targetDirectory ? { targetDirectory } : {}) });
  for (const { file, records, bytes } of built) {
    console.log(
      `${file.padEnd(40)} ${String(records).padStart(6)} records ${(bytes / 1024).toFixed(0).padStart(6)} KiB`,
    );
  }
}
