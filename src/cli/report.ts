/**
 * `gavel report`: re-render a report folder from its `report.json` — after an upgrade of the renderer,
 * or to write a copy elsewhere.
 *
 *   gavel report --in DIR/report.json [--out DIR] [--json]
 *
 * Exit codes: 0 done; 2 the input is missing, not JSON or not an evaluation report (or a bad option),
 * or a file in `--out` is not Gavel's (`--overwrite` replaces it).
 * Output goes through injectable writers, so tests run the real command in-process.
 */

import { dirname } from "node:path";
import { Command } from "commander";
import { z } from "zod";
import { functionSchema, parseConfig } from "../errors.js";
import { OVERWRITE_FLAG, readReport, writeReport } from "../eval/report/write.js";
import { EXIT_BAD_INPUT, exitCodeOf, usageErrorsExitWithCode2 } from "./exit-codes.js";

const reportCommandOptionsSchema = z
  .object({
    /** Where results go. Default: `process.stdout`. */
    stdout: functionSchema<(text: string) => void>().optional(),
    /** Where errors go. Default: `process.stderr`. */
    stderr: functionSchema<(text: string) => void>().optional(),
  })
  .strict();

/** Options of {@link reportCommand}: I/O seams for tests and embedding. */
export type ReportCommandOptions = z.input<typeof reportCommandOptionsSchema>;

/**
 * The `report` command of the `gavel` CLI: read `report.json`, write `report.json`, `report.md`,
 * `pareto.svg` and `report.html` into `--out` (default: the folder of the input).
 *
 * @param options - Optional writers (seams for tests).
 * @returns A commander `Command` to add to a program.
 * @throws ConfigError when an option is invalid.
 * @example
 * ```ts
 * const program = new Command("gavel").addCommand(reportCommand());
 * await program.parseAsync(["report", "--in", "reports/report.json", "--out", "site"], { from: "user" });
 * ```
 */
export function reportCommand(options: ReportCommandOptions = {}): Command {
  const {
    stdout = (text: string) => process.stdout.write(text),
    stderr = (text: string) => process.stderr.write(text),
  } = parseConfig("reportCommand options", reportCommandOptionsSchema, options);

  return new Command("report")
    .description("Re-render a report folder (Markdown, Pareto SVG, HTML) from its report.json.")
    .configureOutput({ writeOut: stdout, writeErr: stderr })
    .requiredOption("--in <file>", "the report.json of an evaluation run")
    .option("--out <dir>", "where to write (default: the folder of --in)")
    .option("--json", "print the written paths as JSON")
    .option(OVERWRITE_FLAG, "replace files in --out that Gavel did not write")
    .exitOverride(usageErrorsExitWithCode2)
    .action(async (_options: unknown, self: Command) => {
      const flags = self.opts<{ in: string; out?: string; json?: boolean; overwrite?: boolean }>();
      let report: Awaited<ReturnType<typeof readReport>>;
      try {
        report = await readReport(flags.in);
      } catch (error) {
        self.error(`error: ${error instanceof Error ? error.message : String(error)}`, {
          exitCode: EXIT_BAD_INPUT,
          code: "gavel.report.invalidInput",
        });
      }
      const files = await writeReport(report, flags.out ?? dirname(flags.in), {
        overwrite: flags.overwrite === true,
      }).catch((error: unknown) => {
        const { exitCode, code } = exitCodeOf(error);
        return self.error(`error: ${error instanceof Error ? error.message : String(error)}`, {
          exitCode,
          code: `gavel.report.${code}`,
        });
      });
      if (flags.json) stdout(`${JSON.stringify({ title: report.title, files }, null, 2)}\n`);
      else
        stdout(
          `${report.title}\n${Object.values(files)
            .map((path) => `  wrote ${path}`)
            .join("\n")}\n`,
        );
    });
}
