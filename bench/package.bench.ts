/**
 * What the package costs a LangChain app, measured on a fresh consumer project (issue 9's targets):
 *
 * - install: the bytes `npm install <tarball>` adds to a project that has `langchain` and
 *   `@langchain/openai` already (target ≤ 15 MB), and whether anything was compiled (node-gyp);
 * - import: the milliseconds `import("langchain-gavel")` adds after `import("langchain")` in a fresh
 *   Node process (median of 9 processes; target ≤ 150 ms), and the modules and packages it loads.
 *
 * It packs the repository (`npm pack` builds `dist/` first) and installs from the npm registry.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createConsumerProject,
  findFiles,
  packRepository,
  probeImport,
  testedVersion,
} from "../tests/helpers/consumer.js";
import { type BenchResult, median } from "./harness.js";

const RUNS = 9;

/** Prints the milliseconds of `import("langchain")`, then of the core entry point after it. */
const IMPORT_TIMER = `const started = performance.now();
await import("langchain");
const langchain = performance.now();
await import("langchain-gavel");
const gavel = performance.now();
console.log(JSON.stringify({ langchain: langchain - started, gavel: gavel - langchain }));
`;

export async function run(): Promise<BenchResult[]> {
  const packFolder = mkdtempSync(join(tmpdir(), "gavel-pack-"));
  const project = createConsumerProject("gavel-bench-consumer-");
  try {
    const tarball = await packRepository(packFolder);
    await project.install([
      `langchain@${testedVersion("langchain")}`,
      `@langchain/openai@${testedVersion("@langchain/openai")}`,
    ]);
    const before = project.installedBytes();
    const packagesBefore = new Set(project.installedPackages());
    await project.install([tarball]);
    const addedMb = (project.installedBytes() - before) / 1e6;
    const addedPackages = project.installedPackages().filter((name) => !packagesBefore.has(name));
    const compiled = findFiles(join(project.folder, "node_modules"), "config.gypi").length;

    const timer = project.write("import-timer.mjs", IMPORT_TIMER);
    const timings: { langchain: number; gavel: number }[] = [];
    for (let index = 0; index < RUNS; index += 1) {
      const { stdout } = await project.run("node", [timer]);
      timings.push(JSON.parse(stdout.trim()));
    }
    const core = await probeImport(project, "langchain-gavel");
    const langchainAlone = await probeImport(project, "langchain");

    return [
      {
        name: "package.install.core_added_mb",
        value: addedMb,
        unit: "MB",
        target: { op: "<=", value: 15 },
        details: { addedPackages, compiledNativeModules: compiled },
      },
      {
        name: "package.import.core_added_ms",
        value: median(timings.map((timing) => timing.gavel)),
        unit: "ms",
        target: { op: "<=", value: 150 },
        details: { runs: RUNS, langchainAloneMs: median(timings.map((timing) => timing.langchain)) },
      },
      {
        name: "package.import.core_modules",
        value: core.modules,
        unit: "modules",
        details: {
          langchainAlone: langchainAlone.modules,
          packages: core.packages,
          handlersInstalled: core.handlers,
        },
      },
    ];
  } finally {
    project.remove();
    rmSync(packFolder, { recursive: true, force: true });
  }
}
