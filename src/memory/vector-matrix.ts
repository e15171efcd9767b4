/**
 * An in-memory float32 matrix of unit vectors with exact top-k cosine search. Pure: no I/O.
 *
 * Rows are stored normalised, so cosine similarity is a dot product. Scoring runs in a
 * WebAssembly SIMD kernel when the runtime has one (`simd-kernel.ts`), else in a JavaScript loop;
 * both give the same scores up to float32 rounding. Removing a row moves the last row into its
 * place (O(dimensions)), so row numbers are not stable: callers keep their own id ↔ row map.
 *
 * Memory layout (one buffer): [query | scores | row list | matrix rows], each row padded to a
 * multiple of 4 floats. The buffer doubles when it is full.
 */
import {
  compileDotKernelModule,
  compileDotKernels,
  createWasmMemory,
  type DotKernels,
  type WasmModule,
} from "./simd-kernel.js";

/** Which scoring loop to use. `"auto"`: WebAssembly SIMD when available, else JavaScript. */
export type MatrixKernel = "auto" | "wasm" | "js";

const DEFAULT_INITIAL_CAPACITY = 256;

interface Layout {
  capacity: number;
  queryOffset: number;
  scoresOffset: number;
  listOffset: number;
  matrixOffset: number;
  byteLength: number;
}

function layoutFor(capacity: number, strideBytes: number): Layout {
  const queryOffset = 0;
  const scoresOffset = queryOffset + strideBytes;
  const listOffset = scoresOffset + capacity * 4;
  // Keep the matrix 16-byte aligned for the SIMD loads.
  const matrixOffset = Math.ceil((listOffset + capacity * 4) / 16) * 16;
  return {
    capacity,
    queryOffset,
    scoresOffset,
    listOffset,
    matrixOffset,
    byteLength: matrixOffset + capacity * strideBytes,
  };
}

/**
 * A growable matrix of unit vectors.
 *
 * @example
 * ```ts
 * const matrix = new VectorMatrix({ dimensions: 3 });
 * matrix.append([1, 0, 0]);
 * matrix.append([0, 1, 0]);
 * const scores = matrix.scores([1, 0.1, 0]); // Float32Array [~0.995, ~0.0995]
 * ```
 */
export class VectorMatrix {
  /** Length of every vector. */
  readonly dimensions: number;
  /** The scoring loop in use. */
  readonly kernel: "wasm" | "js";
  private readonly strideFloats: number;
  private readonly module: WasmModule | undefined;
  private kernels: DotKernels | undefined;
  private buffer: ArrayBuffer;
  private layout: Layout;
  private floats: Float32Array;
  private ints: Int32Array;
  private rowCount = 0;

  constructor({
    dimensions,
    initialCapacity = DEFAULT_INITIAL_CAPACITY,
    kernel = "auto",
  }: {
    dimensions: number;
    initialCapacity?: number;
    kernel?: MatrixKernel;
  }) {
    if (!Number.isInteger(dimensions) || dimensions <= 0)
      throw new RangeError(`dimensions must be a positive integer, got ${dimensions}`);
    this.dimensions = dimensions;
    this.strideFloats = Math.ceil(dimensions / 4) * 4;
    this.module = kernel === "js" ? undefined : compileDotKernelModule();
    if (kernel === "wasm" && this.module === undefined) throw new Error("this runtime has no WebAssembly SIMD");
    this.kernel = this.module === undefined ? "js" : "wasm";
    this.layout = layoutFor(Math.max(1, initialCapacity), this.strideFloats * 4);
    this.buffer = this.allocate(this.layout.byteLength);
    this.floats = new Float32Array(this.buffer);
    this.ints = new Int32Array(this.buffer);
  }

  /** Number of stored rows. */
  get rows(): number {
    return this.rowCount;
  }

  /** Stores a normalised copy of `vector` as a new last row; returns its row number. */
  append(vector: ArrayLike<number>): number {
    if (this.rowCount === this.layout.capacity) this.grow(this.layout.capacity * 2);
    const row = this.rowCount;
    this.rowCount += 1;
    this.set(row, vector);
    return row;
  }

  /** Overwrites `row` with a normalised copy of `vector`. A zero vector is stored as zeros (it scores 0). */
  set(row: number, vector: ArrayLike<number>): void {
    this.checkRow(row);
    if (vector.length !== this.dimensions) {
      throw new RangeError(`expected a ${this.dimensions}-d vector, got ${vector.length}-d`);
    }
    this.writeNormalised(this.rowStart(row), vector);
  }

  /** A copy of the stored (normalised) vector of `row`. */
  vector(row: number): Float32Array {
    this.checkRow(row);
    const start = this.rowStart(row);
    return this.floats.slice(start, start + this.dimensions);
  }

  /** Whether rows `a` and `b` hold the same stored (normalised) vector, float for float. */
  sameVector(a: number, b: number): boolean {
    this.checkRow(a);
    this.checkRow(b);
    const startA = this.rowStart(a);
    const startB = this.rowStart(b);
    for (let index = 0; index < this.dimensions; index += 1) {
      if (this.floats[startA + index] !== this.floats[startB + index]) return false;
    }
    return true;
  }

  /**
   * Removes `row` by moving the last row into its place.
   * @returns the former number of the row that moved into `row`, or -1 when `row` was the last.
   */
  remove(row: number): number {
    this.checkRow(row);
    const last = this.rowCount - 1;
    if (row !== last) {
      const from = this.rowStart(last);
      this.floats.copyWithin(this.rowStart(row), from, from + this.strideFloats);
    }
    this.rowCount -= 1;
    return row === last ? -1 : last;
  }

  /**
   * Cosine similarity of `query` with every row (or with the rows in `rows`, in that order).
   * The result is a view into the matrix's buffer, valid until the next call on this matrix.
   */
  scores(query: ArrayLike<number>, rows?: ArrayLike<number>): Float32Array {
    if (query.length !== this.dimensions) {
      throw new RangeError(`expected a ${this.dimensions}-d query, got ${query.length}-d`);
    }
    const count = rows === undefined ? this.rowCount : rows.length;
    this.writeNormalised(this.layout.queryOffset / 4, query);
    const { scoresOffset, listOffset, matrixOffset, queryOffset } = this.layout;
    if (rows !== undefined) {
      const listStart = listOffset / 4;
      for (let index = 0; index < count; index += 1) {
        const row = rows[index] ?? 0;
        this.checkRow(row);
        this.ints[listStart + index] = row;
      }
    }
    const strideBytes = this.strideFloats * 4;
    if (this.kernels !== undefined) {
      if (rows === undefined) this.kernels.dotsAll(matrixOffset, queryOffset, scoresOffset, count, strideBytes);
      else this.kernels.dotsListed(matrixOffset, queryOffset, scoresOffset, listOffset, count, strideBytes);
    } else {
      this.scoreInJavaScript(count, rows !== undefined);
    }
    return new Float32Array(this.buffer, scoresOffset, count);
  }

  private scoreInJavaScript(count: number, listed: boolean): void {
    const { floats, ints, strideFloats } = this;
    const queryStart = this.layout.queryOffset / 4;
    const query = floats.subarray(queryStart, queryStart + strideFloats);
    const scoresStart = this.layout.scoresOffset / 4;
    const listStart = this.layout.listOffset / 4;
    const matrixStart = this.layout.matrixOffset / 4;
    // Typed-array reads inside the bounds checked above: `as number` avoids a per-element branch.
    for (let index = 0; index < count; index += 1) {
      const row = listed ? (ints[listStart + index] as number) : index;
      let start = matrixStart + row * strideFloats;
      let sum0 = 0;
      let sum1 = 0;
      let sum2 = 0;
      let sum3 = 0;
      for (let column = 0; column < strideFloats; column += 4, start += 4) {
        sum0 += (floats[start] as number) * (query[column] as number);
        sum1 += (floats[start + 1] as number) * (query[column + 1] as number);
        sum2 += (floats[start + 2] as number) * (query[column + 2] as number);
        sum3 += (floats[start + 3] as number) * (query[column + 3] as number);
      }
      floats[scoresStart + index] = sum0 + sum1 + sum2 + sum3;
    }
  }

  /** Writes `vector / ‖vector‖` (zeros for a zero vector) at float index `start`, zero-padded to the stride. */
  private writeNormalised(start: number, vector: ArrayLike<number>): void {
    let squares = 0;
    for (let index = 0; index < vector.length; index += 1) {
      const value = vector[index] ?? 0;
      squares += value * value;
    }
    const scale = squares > 0 ? 1 / Math.sqrt(squares) : 0;
    for (let index = 0; index < this.strideFloats; index += 1) {
      this.floats[start + index] = index < vector.length ? (vector[index] ?? 0) * scale : 0;
    }
  }

  private rowStart(row: number): number {
    return this.layout.matrixOffset / 4 + row * this.strideFloats;
  }

  private checkRow(row: number): void {
    if (!Number.isInteger(row) || row < 0 || row >= this.rowCount)
      throw new RangeError(`no row ${row} (rows: ${this.rowCount})`);
  }

  private allocate(byteLength: number): ArrayBuffer {
    if (this.module === undefined) {
      this.kernels = undefined;
      return new ArrayBuffer(byteLength);
    }
    const memory = createWasmMemory(byteLength);
    this.kernels = memory === undefined ? undefined : compileDotKernels(memory, this.module);
    return memory?.buffer ?? new ArrayBuffer(byteLength);
  }

  private grow(capacity: number): void {
    const next = layoutFor(capacity, this.strideFloats * 4);
    const buffer = this.allocate(next.byteLength);
    const floats = new Float32Array(buffer);
    const used = this.rowCount * this.strideFloats;
    floats.set(
      this.floats.subarray(this.layout.matrixOffset / 4, this.layout.matrixOffset / 4 + used),
      next.matrixOffset / 4,
    );
    this.buffer = buffer;
    this.layout = next;
    this.floats = floats;
    this.ints = new Int32Array(buffer);
  }
}

/**
 * Indices of the `k` best scores, best first. `tieBreak(a, b) < 0` puts index `a` before `b`
 * when their scores are equal (it is called only then). O(n log k).
 */
export function selectTop(
  scores: ArrayLike<number>,
  k: number,
  tieBreak: (a: number, b: number) => number,
  accept?: (index: number) => boolean,
): number[] {
  const limit = Math.min(k, scores.length);
  if (limit <= 0) return [];
  // `worse(a, b)`: a ranks after b. The heap keeps the worst kept index at its root.
  const worse = (a: number, b: number): boolean => {
    const scoreA = scores[a] ?? Number.NEGATIVE_INFINITY;
    const scoreB = scores[b] ?? Number.NEGATIVE_INFINITY;
    return scoreA < scoreB || (scoreA === scoreB && tieBreak(a, b) > 0);
  };
  const heap: number[] = [];
  const siftUp = (start: number) => {
    let child = start;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      const childValue = heap[child] ?? 0;
      const parentValue = heap[parent] ?? 0;
      if (!worse(childValue, parentValue)) break;
      heap[child] = parentValue;
      heap[parent] = childValue;
      child = parent;
    }
  };
  const siftDown = () => {
    let parent = 0;
    for (;;) {
      const left = parent * 2 + 1;
      const right = left + 1;
      let worst = parent;
      if (left < heap.length && worse(heap[left] ?? 0, heap[worst] ?? 0)) worst = left;
      if (right < heap.length && worse(heap[right] ?? 0, heap[worst] ?? 0)) worst = right;
      if (worst === parent) return;
      const parentValue = heap[parent] ?? 0;
      heap[parent] = heap[worst] ?? 0;
      heap[worst] = parentValue;
      parent = worst;
    }
  };
  // Once the heap is full, most scores lose to its root: compare with the root's score inline and
  // call `tieBreak` only on an exact tie (the same test as `worse(root, index)`).
  let rootScore = Number.NEGATIVE_INFINITY;
  for (let index = 0; index < scores.length; index += 1) {
    if (accept !== undefined && !accept(index)) continue;
    if (heap.length < limit) {
      heap.push(index);
      siftUp(heap.length - 1);
      rootScore = scores[heap[0] ?? 0] ?? Number.NEGATIVE_INFINITY;
      continue;
    }
    const score = scores[index] ?? Number.NEGATIVE_INFINITY;
    if (rootScore < score || (rootScore === score && tieBreak(heap[0] ?? 0, index) > 0)) {
      heap[0] = index;
      siftDown();
      rootScore = scores[heap[0] ?? 0] ?? Number.NEGATIVE_INFINITY;
    }
  }
  return heap.sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
}
