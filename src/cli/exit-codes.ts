/**
 * Exit codes every `gavel` command shares, so scripts can trust them:
 * 0 done, 1 the run failed (or a target was missed with `--fail-on-target`), 2 bad input (a missing
 * optional package included), 3 not implemented.
 */
import type { CommanderError } from "commander";
import { ConfigError } from "../errors.js";
import { DataError, NotImplementedError } from "../eval/errors.js";
import { ConfigFileError, MissingApiKeyError } from "../eval/experiment/config.js";
import { MultiAgentSetupError } from "../eval/multiagent/run.js";
import { OutputConflictError } from "../eval/outputs.js";
import { MissingPeerDependencyError } from "../peers.js";

export { NotImplementedError };

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

/**
 * The exit code (and commander error code) of an error a command caught: not implemented is 3; bad
 * input — an invalid or unsuitable config, a missing API key, unusable data, a multi-agent setup that
 * cannot run (agents naming no pool model, a budget that pays for no round), an optional package the
 * run needs that is not installed (the message names the `npm install` command), an output path
 * holding a file Gavel did not write (or a ledger it may not replace) — is 2; anything the
 * run itself hit is 1.
 */
export function exitCodeOf(error: unknown): { exitCode: number; code: string } {
  if (NotImplementedError.isInstance(error)) return { exitCode: EXIT_NOT_IMPLEMENTED, code: "notImplemented" };
  if (ConfigFileError.isInstance(error) || ConfigError.isInstance(error)) {
    return { exitCode: EXIT_BAD_INPUT, code: "invalidConfig" };
  }
  if (MissingApiKeyError.isInstance(error)) return { exitCode: EXIT_BAD_INPUT, code: "missingApiKey" };
  if (DataError.isInstance(error)) return { exitCode: EXIT_BAD_INPUT, code: "invalidData" };
  if (MultiAgentSetupError.isInstance(error)) return { exitCode: EXIT_BAD_INPUT, code: "badSetup" };
  if (MissingPeerDependencyError.isInstance(error)) return { exitCode: EXIT_BAD_INPUT, code: "missingPackage" };
  if (OutputConflictError.isInstance(error)) return { exitCode: EXIT_BAD_INPUT, code: "outputConflict" };
  return { exitCode: EXIT_RUN_FAILED, code: "runFailed" };
}
