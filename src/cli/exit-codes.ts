/**
 * Exit codes every `gavel` command shares, so scripts can trust them:
 * 0 done, 1 the run failed (or a target was missed with `--fail-on-target`), 2 bad input, 3 not implemented.
 */
import type { CommanderError } from "commander";

/** The run itself failed (a provider, the solver, a missed target with `--fail-on-target`). */
export const EXIT_RUN_FAILED = 1;
/** Bad input: a config, data file, option or missing API key. */
export const EXIT_BAD_INPUT = 2;
/** The command or backend is not implemented in this version. */
export const EXIT_NOT_IMPLEMENTED = 3;

/** Commander's own usage errors (unknown option, missing or invalid value) exit with 2, like every bad input. */
export function usageErrorsExitWithCode2(error: CommanderError): void {
  const usage =
    error.exitCode === 1 && error.code.startsWith("commander.") && error.code !== "commander.executeSubCommandAsync";
  if (usage) process.exit(EXIT_BAD_INPUT);
}
