/**
 * What every `gavel` command shares besides its exit codes: option parsers (each rejects bad text
 * with a message commander prints, exit code 2), plain terminal tables and percentages, and the
 * loaders of the heavy adapters — the sentence encoder and local GGUF models — which are imported
 * only when a run uses them, so `gavel --help` and the other commands never load them.
 */
import Table from "cli-table3";
import { InvalidArgumentError } from "commander";
import type { UniversalSentenceEncoderEmbeddings } from "../../adapters/encoder/universal-sentence-encoder.js";
import type { LlamaCppModelFactory } from "../eval/experiment/run.js";

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
// Heavy adapters, loaded at the point of use
// ---------------------------------------------------------------------------------------------

/**
 * The factory of `LlamaCppChatModel`s, one per GGUF file of a `llamacpp` backend. The adapter is
 * imported here, on first use; node-llama-cpp itself loads when a model first answers.
 */
export async function loadLlamaCppModel(): Promise<LlamaCppModelFactory> {
  const { LlamaCppChatModel } = await import("../../adapters/llamacpp/index.js");
  return (settings) => new LlamaCppChatModel(settings);
}

/**
 * USE-Lite for `use-lite` (the adapter is imported here; its model packages load on the first
 * embedding and name `npm install` when missing), `undefined` for the hashing embedder.
 */
export async function loadSentenceEncoder(
  kind: "use-lite" | "hashing",
): Promise<UniversalSentenceEncoderEmbeddings | undefined> {
  if (kind === "hashing") return undefined;
  const { UniversalSentenceEncoderEmbeddings } = await import("../../adapters/encoder/universal-sentence-encoder.js");
  return new UniversalSentenceEncoderEmbeddings();
}
