#!/usr/bin/env node
/**
 * The `gavel` command line. Each command lives in its own file and is registered here.
 *
 *   gavel eval            evaluate the routers against every baseline (the README's first command);
 *                         `--debates FILE` replays recorded multi-agent debates instead
 *   gavel sweep           the same run, printed as a λ/τ sweep
 *   gavel report          re-render a report from its report.json
 *   gavel ledger          read the auction ledger
 *   gavel replay-debates  replay recorded debates under a token-budget sweep
 *   gavel train           fit and save router weights (SALE), load the router's outcome memory (memory bids),
 *                         executor weights (ECON) or debate α (DALA)
 *   gavel serve           the router and the budgets behind an OpenAI-compatible endpoint
 */
import { Command } from "commander";
import { debatesCommand } from "./debates.js";
import { evalCommand, sweepCommand } from "./eval.js";
import { keysCommand } from "./keys.js";
import { ledgerCommand } from "./ledger.js";
import { reportCommand } from "./report.js";
import { serveCommand } from "./serve.js";
import { trainCommand } from "./train.js";

const program = new Command()
  .name("gavel")
  .description("Auctions for LangChain.js: route, debate and coordinate LLMs under a token budget.")
  .showHelpAfterError()
  .addCommand(ledgerCommand())
  .addCommand(evalCommand())
  .addCommand(sweepCommand())
  .addCommand(reportCommand())
  .addCommand(debatesCommand())
  .addCommand(trainCommand())
  .addCommand(keysCommand())
  .addCommand(serveCommand());

await program.parseAsync(process.argv);
