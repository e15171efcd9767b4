/**
 * Run `gavel` commands in-process, as the binary would, for CLI tests: the real command factories with
 * their output captured, and every exit (commander's own usage errors included) turned into an exit code
 * instead of ending the test process.
 */
import { Command, CommanderError } from "commander";

/** The output seams every command factory takes. */
export interface CapturedWriters {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** What a run printed and how it ended. */
export interface GavelRun {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/**
 * Run `gavel <args>` over the commands `build` returns (given the capturing writers).
 *
 * @example
 * ```ts
 * const { stdout, exitCode } = await runGavel((writers) => [ledgerCommand(writers)], ["ledger", "recent"]);
 * ```
 */
export async function runGavel(build: (writers: CapturedWriters) => Command[], args: string[]): Promise<GavelRun> {
  let stdout = "";
  let stderr = "";
  const writers: CapturedWriters = { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) };
  const program = new Command("gavel");
  for (const command of build(writers)) program.addCommand(command);
  const overrideExits = (command: Command) => {
    command.exitOverride();
    command.commands.forEach(overrideExits);
  };
  overrideExits(program);
  let exitCode = 0;
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    exitCode = error.exitCode;
  }
  return { stdout, stderr, exitCode };
}
