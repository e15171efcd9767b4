/**
 * `gavel serve`: the router and the budgets behind an OpenAI-compatible endpoint.
 *
 *   gavel serve --config configs/serve.yaml [--host HOST] [--port N]
 *
 * Starts the gateway `serve.yaml` describes (`startGavelServer`), prints its URL, its models and
 * whether auth is on, and runs until SIGINT or SIGTERM: then it stops accepting, lets in-flight
 * requests and streams finish (up to `--shutdown-timeout`, then aborts and settles them), closes the
 * budgets, the keys and the ledger, and exits 0. A second signal exits at once (code 1). A bad config
 * exits 2 with one message naming the file and the field. The gateway's modules (hono, prom-client)
 * load only when this command runs.
 */
import { Command, InvalidArgumentError } from "commander";
import { z } from "zod";
import { functionSchema, parseConfig } from "../errors.js";
import { importPeer } from "../peers.js";
import { parsePositiveInteger } from "./common.js";
import { exitCodeOf, usageErrorsExitWithCode2 } from "./exit-codes.js";

/** The packages `gavel serve` needs besides the core (optional peers of langchain-gavel). */
const SERVER_INSTALL = "npm install hono @hono/node-server prom-client";

/** What the command waits on before shutting down: by default, SIGINT or SIGTERM. */
export type ShutdownSignal = (server: { url: string }) => Promise<string>;

const serveCommandOptionsSchema = z
  .object({
    /** Where the banner and shutdown lines go. Default: `process.stdout`. */
    stdout: functionSchema<(text: string) => void>().optional(),
    /** Where errors and the JSON logs go. Default: `process.stderr`. */
    stderr: functionSchema<(text: string) => void>().optional(),
    /** Where secrets (`apiKeyEnv`, `keyEnv`, `urlEnv`) are read. Default: `process.env`. */
    env: z.record(z.string(), z.string().optional()).optional(),
    /**
     * Resolves (with a reason, e.g. `"SIGTERM"`) when the server should shut down. Default: the first
     * SIGINT or SIGTERM; a second one exits the process at once. A seam for in-process tests.
     */
    waitForShutdown: functionSchema<ShutdownSignal>().optional(),
  })
  .strict();

/** Options of {@link serveCommand}: I/O seams for tests and embedding. */
export type ServeCommandOptions = z.input<typeof serveCommandOptionsSchema>;

interface ServeFlags {
  config: string;
  host?: string;
  port?: number;
  shutdownTimeout: number;
}

/** Default of `--shutdown-timeout`, in seconds. */
const DEFAULT_SHUTDOWN_SECONDS = 10;

/**
 * The `serve` command of the `gavel` CLI.
 *
 * @param options - Optional writers, environment and shutdown trigger (seams for tests).
 * @returns A commander `Command` to add to a program.
 * @throws ConfigError when an option is invalid.
 * @example
 * ```ts
 * import { Command, InvalidArgumentError } from "commander";
 * const program = new Command("gavel").addCommand(serveCommand());
 * await program.parseAsync(["serve", "--config", "configs/serve.yaml", "--port", "8080"], { from: "user" });
 * ```
 */
export function serveCommand(options: ServeCommandOptions = {}): Command {
  const {
    stdout = (text: string) => process.stdout.write(text),
    stderr = (text: string) => process.stderr.write(text),
    env = process.env,
    waitForShutdown = waitForSignal,
  } = parseConfig("serveCommand options", serveCommandOptionsSchema, options);
  const print = (text: string) => stdout(text.endsWith("\n") ? text : `${text}\n`);

  return new Command("serve")
    .description("serve the router and the budgets behind an OpenAI-compatible endpoint (docs/server.md)")
    .requiredOption("--config <file>", "the serve.yaml file (configs/serve.yaml runs offline)")
    .option("--host <host>", "listen host, over listen.host (another host than loopback needs keys)")
    .option("--port <port>", "listen port, over listen.port (0: any free port)", parsePort)
    .option(
      "--shutdown-timeout <seconds>",
      "on SIGINT/SIGTERM, how long in-flight requests and streams may finish before they are aborted and settled",
      parsePositiveInteger,
      DEFAULT_SHUTDOWN_SECONDS,
    )
    .configureOutput({ writeOut: stdout, writeErr: stderr })
    .exitOverride(usageErrorsExitWithCode2)
    .action(async (_options: unknown, self: Command) => {
      const flags = self.opts<ServeFlags>();
      const stop = (error: unknown): never => {
        const { exitCode, code } = exitCodeOf(error);
        const message = error instanceof Error ? error.message : String(error);
        return self.error(`error: ${message}`, { exitCode, code: `gavel.serve.${code}` });
      };

      const { startGavelServer } = await loadServer().catch(stop);
      const server = await startGavelServer({
        configPath: flags.config,
        env,
        ...(flags.host !== undefined && { host: flags.host }),
        ...(flags.port !== undefined && { port: flags.port }),
        logSink: { write: stderr },
        shutdownTimeoutMs: flags.shutdownTimeout * 1000,
      }).catch(stop);

      const names = server.members.map((member) => `${member.name} (${member.provider})`);
      print(`gavel serve: listening on ${server.url} (OpenAI-compatible API at ${server.url}/v1)`);
      print(`  models: gavel/auto (the router), ${names.join(", ")}`);
      print(
        server.auth
          ? `  auth: on (${server.keyCount} key${server.keyCount === 1 ? "" : "s"}; send Authorization: Bearer <key>)`
          : "  auth: off (no key configured: loopback only)",
      );
      print(
        `  budgets: ${server.config.budgets.store}; ledger: ${server.config.ledger?.path ?? (server.config.ledger ? "postgres" : "none")}`,
      );
      print("Press Ctrl-C to stop.");

      const reason = await waitForShutdown(server);
      print(`gavel serve: ${reason}: shutting down (in-flight requests get ${flags.shutdownTimeout} s to finish)`);
      await server.close().catch(stop);
      print("gavel serve: stopped");
    });
}

/** The gateway's modules, loaded when `serve` runs; a missing optional peer names the install command. */
async function loadServer() {
  await importPeer("hono", "gavel serve", () => import("hono"), { install: SERVER_INSTALL });
  await importPeer("@hono/node-server", "gavel serve", () => import("@hono/node-server"), { install: SERVER_INSTALL });
  await importPeer("prom-client", "gavel serve", () => import("prom-client"), { install: SERVER_INSTALL });
  return import("../../adapters/server/start.js");
}

/** `--port 8080`: an integer from 0 to 65535. */
function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidArgumentError("expected a port number from 0 to 65535.");
  }
  return port;
}

/** The first SIGINT or SIGTERM; a second one exits at once (code 1). */
function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      const force = () => process.exit(1);
      process.once("SIGINT", force);
      process.once("SIGTERM", force);
      resolve(signal);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}
