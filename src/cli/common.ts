/**
 * What every `gavel` command shares besides its exit codes: option parsers (each rejects bad text
 * with a message commander prints, exit code 2), plain terminal tables and percentages, and the
 * factory of local GGUF models for `llamacpp` backends.
 */
import Table from "cli-table3";
import { InvalidArgumentError } from "commander";
import { LlamaCppChatModel } from "../../adapters/llamacpp/index.js";
import type { LlamaCppModelSettings } from "../eval/live/index.js";

// ---------------------------------------------------------------------------------------------
// Option parsers
// ---------------------------------------------------------------------------------------------

/** `--seed 7`: any integer. */
export function parseInteger(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value)) throw new InvalidArgumentError("expected an integer.");
  return value;
}

/** `--limit 20`: an integer ≥ 1. */
export function parsePositiveInteger(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError("expected a positive integer.");
  return value;
}

/** `--time-limit 30`: a finite number > 0. */
export function parsePositiveNumber(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError("expected a positive number.");
  return value;
}

/** `--lambda 0`: a finite number ≥ 0. */
export function parseNonNegative(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new InvalidArgumentError("expected a number ≥ 0.");
  return value;
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/**
 * A terminal table without colours, so output is the same on a terminal, in a pipe and in tests;
 * the columns at `alignRight` (numbers) are right-aligned.
 */
export function plainTable(head: string[], alignRight: readonly number[] = []): Table.Table {
  return new Table({
    style: { head: [], border: [] },
    head,
    colAligns: head.map((_, index) => (alignRight.includes(index) ? "right" : "left")),
  });
}

/** `0.1234` → `"12.3%"`. */
export function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

// ---------------------------------------------------------------------------------------------
// Local models
// ---------------------------------------------------------------------------------------------

/** `LlamaCppChatModel` for each GGUF file of a `llamacpp` backend (node-llama-cpp loads on first use). */
export function createLlamaCppModel(settings: LlamaCppModelSettings): LlamaCppChatModel {
  return new LlamaCppChatModel(settings);
}
