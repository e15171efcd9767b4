/**
 * The outcome memory the recorded routers read: past prompts (embedded) with the recorded outcome
 * of every model that answered them, searched by cosine similarity. Pure: no I/O.
 *
 * It is built on the strategy memory's in-memory float32 matrix (`VectorMatrix`, WebAssembly SIMD
 * when available). A memory can be forked: the fork shares its parent's rows read-only and adds
 * its own, so each pass of a sweep starts from the same warm training memory and learns alone.
 */
import { selectTop, VectorMatrix } from "../../memory/vector-matrix.js";

/** One remembered prompt and what is known of its outcomes. */
export interface MemoryEntry {
  promptId: string;
  /** The task (`eval_name`) of the prompt. */
  evalName: string;
  /** `correct` (0–1) of each model whose outcome is known for this prompt. */
  outcomes: ReadonlyMap<string, number>;
}

/** A neighbour of a query and its cosine similarity. */
export interface Neighbour {
  entry: MemoryEntry;
  similarity: number;
}

/** Options of {@link OutcomeMemory.neighbours}. */
export interface NeighbourQuery {
  vector: ArrayLike<number>;
  k: number;
  /** Only entries of this task. */
  evalName?: string;
  /** Leave this prompt out (leave-one-out on training data). */
  excludePromptId?: string;
}

interface Layer {
  matrix: VectorMatrix;
  entries: MemoryEntry[];
  rowsByTask: Map<string, number[]>;
}

/**
 * Remembered prompts with their outcomes, searched by cosine similarity.
 *
 * @example
 * ```ts
 * const memory = createOutcomeMemory({ dimensions: 3 });
 * memory.add({ promptId: "p1", evalName: "qa", outcomes: new Map([["small", 1]]) }, [1, 0, 0]);
 * memory.neighbours({ vector: [0.9, 0.1, 0], k: 1 })[0]?.entry.promptId; // "p1"
 * ```
 */
export class OutcomeMemory {
  readonly dimensions: number;
  readonly #inherited: readonly Layer[];
  readonly #own: Layer;

  constructor({ dimensions, inherited = [] }: { dimensions: number; inherited?: readonly Layer[] }) {
    this.dimensions = dimensions;
    this.#inherited = inherited;
    this.#own = { matrix: new VectorMatrix({ dimensions }), entries: [], rowsByTask: new Map() };
  }

  /** Number of remembered prompts (inherited ones included). */
  get size(): number {
    return this.#layers().reduce((total, layer) => total + layer.entries.length, 0);
  }

  /** Remember a prompt. The outcomes map is copied. */
  add(entry: MemoryEntry, vector: ArrayLike<number>): void {
    const layer = this.#own;
    const row = layer.matrix.append(vector);
    layer.entries.push({ promptId: entry.promptId, evalName: entry.evalName, outcomes: new Map(entry.outcomes) });
    const rows = layer.rowsByTask.get(entry.evalName) ?? [];
    rows.push(row);
    layer.rowsByTask.set(entry.evalName, rows);
  }

  /**
   * A memory that starts with everything this one holds and learns on its own. Entries added to the
   * fork are not seen here; do not add to this memory after forking it (the fork would see those too).
   */
  fork(): OutcomeMemory {
    return new OutcomeMemory({ dimensions: this.dimensions, inherited: this.#layers() });
  }

  /** Every remembered entry, oldest first (inherited ones first). */
  entries(): MemoryEntry[] {
    return this.#layers().flatMap((layer) => layer.entries);
  }

  /** The entries this memory added itself (not inherited), oldest first. */
  ownEntries(): MemoryEntry[] {
    return [...this.#own.entries];
  }

  /**
   * The `k` most similar entries, most similar first. Ties go to the older entry.
   */
  neighbours(query: NeighbourQuery): Neighbour[] {
    const { vector, k, evalName, excludePromptId } = query;
    const candidates: Array<Neighbour & { order: number }> = [];
    let offset = 0;
    for (const layer of this.#layers()) {
      const listed = evalName === undefined ? undefined : (layer.rowsByTask.get(evalName) ?? []);
      const count = listed === undefined ? layer.entries.length : listed.length;
      if (count > 0) {
        const scores = layer.matrix.scores(vector, listed);
        const rowOf = (position: number) => (listed === undefined ? position : (listed[position] as number));
        const accept =
          excludePromptId === undefined
            ? undefined
            : (position: number) => layer.entries[rowOf(position)]?.promptId !== excludePromptId;
        for (const position of selectTop(scores, k, (left, right) => left - right, accept)) {
          const row = rowOf(position);
          candidates.push({
            entry: layer.entries[row] as MemoryEntry,
            similarity: scores[position] as number,
            order: offset + row,
          });
        }
      }
      offset += layer.entries.length;
    }
    candidates.sort((left, right) => right.similarity - left.similarity || left.order - right.order);
    return candidates.slice(0, k).map(({ entry, similarity }) => ({ entry, similarity }));
  }

  #layers(): Layer[] {
    return [...this.#inherited, this.#own];
  }
}

/**
 * Create an empty {@link OutcomeMemory} of vectors of `dimensions` numbers.
 *
 * @example
 * ```ts
 * const memory = createOutcomeMemory({ dimensions: 512 });
 * ```
 */
export function createOutcomeMemory(options: { dimensions: number }): OutcomeMemory {
  return new OutcomeMemory({ dimensions: options.dimensions });
}
