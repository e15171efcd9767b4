/**
 * An in-memory matrix of unit vectors with exact top-k cosine search. Pure: no I/O.
 *
 * Rows are stored normalised, so cosine similarity is a dot product. Scoring runs in a
 * WebAssembly SIMD kernel when the runtime has one (`simd-kernel.ts`), else in a JavaScript loop.
 * Removing a row moves the last row into its place (O(dimensions)), so row numbers are not
 * stable: callers keep their own id ↔ row map.
 *
 * Two precisions:
 * - `"float32"` (default): 4 bytes per dimension; the kernel and the JavaScript loop give the same
 *   scores up to float32 rounding.
 * - `"int8"`: 1 byte per dimension plus a float32 scale per row, a quarter of the bytes a scan
 *   reads. A unit row x is stored as q = round(127 · x / max|x|) (round half away from zero; the
 *   largest coordinate becomes ±127) with scale s = 1 / ‖q‖, so s · q is the unit vector x̂ nearest
 *   x in direction; the query is quantised the same way. A score is f32(q_row · q_query) · s_row ·
 *   s_query, the cosine of the two quantised vectors (an identical vector scores 1): the integer sum
 *   is exact, so the kernel and the JavaScript loop give bit-identical scores. Scaling each row to
 *   its own largest coordinate spends the 8 bits on the row's range (a 512-d unit vector's
 *   coordinates are ~±0.05: a fixed scale of 127 would leave them about 3 bits). Error: every
 *   coordinate of 127 · x / max|x| moves by at most 1/2, so ‖x̂ − x‖ ≲ √d · max|x| / 254 (worst
 *   case, ~0.09 at 512-d; rounding errors are independent, so typically ~√(d/12) · max|x| / 127)
 *   and |Δcos| ≤ ‖x̂ − x‖ + ‖ŷ − y‖. Measured on random Gaussian 512-d unit vectors
 *   (tests/memory/int8-matrix.test.ts): mean |Δcos| 0.0004, max 0.0022 over 100,000 pairs; top-8
 *   overlap with float32 99.7%. `vector(row)` returns x̂ = s · q.
 *
 * Memory layout (one buffer): [query | scores | row list | row scales (int8 only) | matrix rows],
 * each row (and the query) padded with zeros to a multiple of 16 bytes (4 floats, or 16 int8
 * values). The buffer doubles when it is full.
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

/** How rows are stored and scored: float32, or int8 with a scale per row (a quarter of the bytes). */
export type MatrixPrecision = "float32" | "int8";

const DEFAULT_INITIAL_CAPACITY = 256;

interface Layout {
  capacity: number;
  queryOffset: number;
  scoresOffset: number;
  listOffset: number;
  /** Float32 scale of each row (int8 only; an empty region for float32). */
  scalesOffset: number;
  matrixOffset: number;
  byteLength: number;
}

function layoutFor(capacity: number, strideBytes: number, precision: MatrixPrecision): Layout {
  const queryOffset = 0;
  const scoresOffset = queryOffset + strideBytes;
  const listOffset = scoresOffset + capacity * 4;
  const scalesOffset = listOffset + capacity * 4;
  const scalesBytes = precision === "int8" ? capacity * 4 : 0;
  // Keep the matrix 16-byte aligned for the SIMD loads.
  const matrixOffset = Math.ceil((scalesOffset + scalesBytes) / 16) * 16;
  return {
    capacity,
    queryOffset,
    scoresOffset,
    listOffset,
    scalesOffset,
    matrixOffset,
    byteLength: matrixOffset + capacity * strideBytes,
  };
}

/**
 * Quantises `vector / ‖vector‖` into `out[offset ..]` as int8 (round(127 · x / max|x|), half away
 * from zero) and returns the scale s = 1 / ‖q‖ (so s · q is a unit vector close to x); zeros and
 * scale 0 for a zero vector. `normalised` is scratch space of the vector's length.
 */
function quantiseNormalised(
  vector: ArrayLike<number>,
  normalised: Float32Array,
  out: Int8Array,
  offset: number,
  strideBytes: number,
): number {
  let squares = 0;
  for (let index = 0; index < vector.length; index += 1) {
    const value = vector[index] ?? 0;
    squares += value * value;
  }
  const norm = squares > 0 ? 1 / Math.sqrt(squares) : 0;
  let largest = 0;
  for (let index = 0; index < vector.length; index += 1) {
    const value = (vector[index] ?? 0) * norm;
    normalised[index] = value;
    largest = Math.max(largest, Math.abs(normalised[index] as number));
  }
  const factor = largest > 0 ? 127 / largest : 0;
  let quantisedSquares = 0;
  for (let index = 0; index < strideBytes; index += 1) {
    const value = index < vector.length ? (normalised[index] as number) * factor : 0;
    const quantised = Math.sign(value) * Math.min(127, Math.round(Math.abs(value)));
    out[offset + index] = quantised;
    quantisedSquares += quantised * quantised;
  }
  return quantisedSquares > 0 ? Math.fround(1 / Math.sqrt(quantisedSquares)) : 0;
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
 * const small = new VectorMatrix({ dimensions: 3, precision: "int8" }); // a quarter of the bytes
 * ```
 */
export class VectorMatrix {
  /** Length of every vector. */
  readonly dimensions: number;
  /** The scoring loop in use. */
  readonly kernel: "wasm" | "js";
  /** How rows are stored: float32, or int8 with a scale per row. */
  readonly precision: MatrixPrecision;
  /** Bytes per stored row (and of the query slot). */
  private readonly strideBytes: number;
  private readonly module: WasmModule | undefined;
  /** Scratch space for a normalised vector before it is quantised (int8). */
  private readonly scratch: Float32Array;
  private kernels: DotKernels | undefined;
  private buffer: ArrayBuffer;
  private layout: Layout;
  private floats: Float32Array;
  private ints: Int32Array;
  private bytes: Int8Array;
  private rowCount = 0;

  constructor({
    dimensions,
    initialCapacity = DEFAULT_INITIAL_CAPACITY,
    kernel = "auto",
    precision = "float32",
  }: {
    dimensions: number;
    initialCapacity?: number;
    kernel?: MatrixKernel;
    precision?: MatrixPrecision;
  }) {
    if (!Number.isInteger(dimensions) || dimensions <= 0)
      throw new RangeError(`dimensions must be a positive integer, got ${dimensions}`);
    if (precision !== "float32" && precision !== "int8")
      throw new RangeError(`precision must be "float32" or "int8", got ${String(precision)}`);
    this.dimensions = dimensions;
    this.precision = precision;
    this.strideBytes = Math.ceil(dimensions / (precision === "int8" ? 16 : 4)) * 16;
    this.scratch = new Float32Array(precision === "int8" ? dimensions : 0);
    this.module = kernel === "js" ? undefined : compileDotKernelModule();
    if (kernel === "wasm" && this.module === undefined) throw new Error("this runtime has no WebAssembly SIMD");
    this.kernel = this.module === undefined ? "js" : "wasm";
    this.layout = layoutFor(Math.max(1, initialCapacity), this.strideBytes, precision);
    this.buffer = this.allocate(this.layout.byteLength);
    this.floats = new Float32Array(this.buffer);
    this.ints = new Int32Array(this.buffer);
    this.bytes = new Int8Array(this.buffer);
  }

  /** Number of stored rows. */
  get rows(): number {
    return this.rowCount;
  }

  /** Bytes one row takes in the matrix (padding and, for int8, its scale included). */
  get bytesPerRow(): number {
    return this.strideBytes + (this.precision === "int8" ? 4 : 0);
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
    if (this.precision === "int8") {
      const offset = this.layout.matrixOffset + row * this.strideBytes;
      this.floats[this.layout.scalesOffset / 4 + row] = quantiseNormalised(
        vector,
        this.scratch,
        this.bytes,
        offset,
        this.strideBytes,
      );
    } else {
      this.writeNormalised(this.rowStart(row), vector);
    }
  }

  /** A copy of the stored (normalised) vector of `row`; for int8, the dequantised s · q. */
  vector(row: number): Float32Array {
    this.checkRow(row);
    if (this.precision === "int8") {
      const scale = this.floats[this.layout.scalesOffset / 4 + row] as number;
      const offset = this.layout.matrixOffset + row * this.strideBytes;
      const copy = new Float32Array(this.dimensions);
      for (let index = 0; index < this.dimensions; index += 1)
        copy[index] = (this.bytes[offset + index] as number) * scale;
      return copy;
    }
    const start = this.rowStart(row);
    return this.floats.slice(start, start + this.dimensions);
  }

  /** Whether rows `a` and `b` hold the same stored vector, value for value (and scale for scale). */
  sameVector(a: number, b: number): boolean {
    this.checkRow(a);
    this.checkRow(b);
    if (this.precision === "int8") {
      const scales = this.layout.scalesOffset / 4;
      if (this.floats[scales + a] !== this.floats[scales + b]) return false;
      const startA = this.layout.matrixOffset + a * this.strideBytes;
      const startB = this.layout.matrixOffset + b * this.strideBytes;
      for (let index = 0; index < this.dimensions; index += 1) {
        if (this.bytes[startA + index] !== this.bytes[startB + index]) return false;
      }
      return true;
    }
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
      const { matrixOffset, scalesOffset } = this.layout;
      const from = matrixOffset + last * this.strideBytes;
      this.bytes.copyWithin(matrixOffset + row * this.strideBytes, from, from + this.strideBytes);
      if (this.precision === "int8")
        this.floats[scalesOffset / 4 + row] = this.floats[scalesOffset / 4 + last] as number;
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
    const { scoresOffset, listOffset, matrixOffset, queryOffset, scalesOffset } = this.layout;
    const int8 = this.precision === "int8";
    const queryScale = int8
      ? quantiseNormalised(query, this.scratch, this.bytes, queryOffset, this.strideBytes)
      : this.writeNormalised(queryOffset / 4, query);
    if (rows !== undefined) {
      const listStart = listOffset / 4;
      for (let index = 0; index < count; index += 1) {
        const row = rows[index] ?? 0;
        this.checkRow(row);
        this.ints[listStart + index] = row;
      }
    }
    const { strideBytes, kernels } = this;
    if (kernels === undefined) {
      if (int8) this.scoreInt8InJavaScript(count, rows !== undefined, queryScale);
      else this.scoreInJavaScript(count, rows !== undefined);
    } else if (int8) {
      if (rows === undefined) {
        kernels.dotsAllInt8(matrixOffset, queryOffset, scoresOffset, count, strideBytes, scalesOffset, queryScale);
      } else {
        kernels.dotsListedInt8(
          matrixOffset,
          queryOffset,
          scoresOffset,
          listOffset,
          count,
          strideBytes,
          scalesOffset,
          queryScale,
        );
      }
    } else if (rows === undefined) {
      kernels.dotsAll(matrixOffset, queryOffset, scoresOffset, count, strideBytes);
    } else {
      kernels.dotsListed(matrixOffset, queryOffset, scoresOffset, listOffset, count, strideBytes);
    }
    return new Float32Array(this.buffer, scoresOffset, count);
  }

  private scoreInJavaScript(count: number, listed: boolean): void {
    const { floats, ints } = this;
    const strideFloats = this.strideBytes / 4;
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

  /** The int8 kernel's arithmetic in JavaScript: exact integer sums, then the same two f32 products. */
  private scoreInt8InJavaScript(count: number, listed: boolean, queryScale: number): void {
    const { floats, ints, bytes, strideBytes } = this;
    const { queryOffset, scoresOffset, listOffset, scalesOffset, matrixOffset } = this.layout;
    const query = bytes.subarray(queryOffset, queryOffset + strideBytes);
    const scoresStart = scoresOffset / 4;
    const listStart = listOffset / 4;
    const scalesStart = scalesOffset / 4;
    for (let index = 0; index < count; index += 1) {
      const row = listed ? (ints[listStart + index] as number) : index;
      let start = matrixOffset + row * strideBytes;
      let sum0 = 0;
      let sum1 = 0;
      let sum2 = 0;
      let sum3 = 0;
      for (let column = 0; column < strideBytes; column += 4, start += 4) {
        sum0 += (bytes[start] as number) * (query[column] as number);
        sum1 += (bytes[start + 1] as number) * (query[column + 1] as number);
        sum2 += (bytes[start + 2] as number) * (query[column + 2] as number);
        sum3 += (bytes[start + 3] as number) * (query[column + 3] as number);
      }
      const rowScaled = Math.fround(Math.fround(sum0 + sum1 + sum2 + sum3) * (floats[scalesStart + row] as number));
      floats[scoresStart + index] = rowScaled * queryScale;
    }
  }

  /**
   * Writes `vector / ‖vector‖` (zeros for a zero vector) at float index `start`, zero-padded to the
   * stride. Returns 1 (the query scale of a float32 matrix).
   */
  private writeNormalised(start: number, vector: ArrayLike<number>): number {
    let squares = 0;
    for (let index = 0; index < vector.length; index += 1) {
      const value = vector[index] ?? 0;
      squares += value * value;
    }
    const scale = squares > 0 ? 1 / Math.sqrt(squares) : 0;
    const strideFloats = this.strideBytes / 4;
    for (let index = 0; index < strideFloats; index += 1) {
      this.floats[start + index] = index < vector.length ? (vector[index] ?? 0) * scale : 0;
    }
    return 1;
  }

  /** Float index of a float32 row. */
  private rowStart(row: number): number {
    return (this.layout.matrixOffset + row * this.strideBytes) / 4;
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
    const next = layoutFor(capacity, this.strideBytes, this.precision);
    const buffer = this.allocate(next.byteLength);
    const bytes = new Int8Array(buffer);
    const floats = new Float32Array(buffer);
    const { matrixOffset, scalesOffset } = this.layout;
    bytes.set(this.bytes.subarray(matrixOffset, matrixOffset + this.rowCount * this.strideBytes), next.matrixOffset);
    if (this.precision === "int8") {
      floats.set(this.floats.subarray(scalesOffset / 4, scalesOffset / 4 + this.rowCount), next.scalesOffset / 4);
    }
    this.buffer = buffer;
    this.layout = next;
    this.floats = floats;
    this.ints = new Int32Array(buffer);
    this.bytes = bytes;
  }
}

/**
 * Indices of the `k` best scores, best first. `tieBreak(a, b) < 0` puts index `a` before `b`
 * when their scores are equal (it is called only then). `tieBreak` must order distinct indices
 * strictly (ids are unique): the result is then the first `k` of one total order, whichever way
 * they are found.
 *
 * Without `accept` and with at least 4 scores per kept one, a pre-filter finds the k-th largest
 * score t by quickselect (expected O(n)) and only the indices scoring ≥ t enter the heap: k = 96 of
 * 10,000 scores then pushes ~96 indices instead of every one that beats the heap's root on the way.
 * Otherwise (or when a score is NaN) every index is offered to the heap, O(n log k).
 *
 * `tieKey`, when given, is a cheap numeric prefix of the tie-break: `tieKey(a) < tieKey(b)` must
 * imply `tieBreak(a, b) < 0` (equal keys say nothing). Tied scores are ordered by their keys and
 * `tieBreak` is called only when the keys are equal too. It matters when thousands of rows tie
 * (identical vectors): each tie then costs two numbers compared instead of an id comparison that
 * chases a stored entry through memory (see `idPrefixKey`).
 */
export function selectTop(
  scores: ArrayLike<number>,
  k: number,
  tieBreak: (a: number, b: number) => number,
  accept?: (index: number) => boolean,
  tieKey?: (index: number) => number,
): number[] {
  const limit = Math.min(k, scores.length);
  if (limit <= 0) return [];
  if (accept === undefined && scores.length >= PREFILTER_MIN_RATIO * limit) {
    const candidates = candidatesAtOrAboveKth(scores, limit);
    if (candidates !== undefined) {
      // Usually exactly `limit` candidates (more only when scores tie with the k-th): sort them.
      if (candidates.length > PREFILTER_MIN_RATIO * limit || candidates.length > MAX_PACKED_POSITIONS) {
        return heapSelect(scores, limit, tieBreak, tieKey, candidates);
      }
      return sortCandidates(scores, candidates, limit, tieBreak, tieKey);
    }
  }
  return heapSelect(scores, limit, tieBreak, tieKey, undefined, accept);
}

/**
 * The pre-filter of {@link selectTop} runs when there are at least this many scores per kept one
 * (below it, most scores enter the heap anyway); above this many candidates per kept one (scores
 * tied with the k-th), they go through the heap instead of a sort.
 */
const PREFILTER_MIN_RATIO = 4;

/** Scratch space of {@link candidatesAtOrAboveKth} (grown on demand, reused: selection is synchronous). */
let selectScratch = new Float32Array(1024);
let candidateScratch = new Int32Array(1024);

/**
 * The indices whose score is ≥ the `limit`-th largest score t, in index order (t found by
 * quickselect over a float32 copy): at least `limit` of them, more when scores tie with t. The top
 * `limit` by score (then by the tie rule) are all among them: every other score is < t, and at
 * least `limit` scores are ≥ t. `undefined` when a score is NaN or not a float32 (the heap then
 * takes every index, with its own NaN rule). The returned view is valid until the next call.
 */
function candidatesAtOrAboveKth(scores: ArrayLike<number>, limit: number): Int32Array | undefined {
  const count = scores.length;
  if (scores instanceof Float32Array && count >= SAMPLE_MIN_RATIO * limit) {
    const sampled = candidatesAtOrAboveSampled(scores, limit);
    if (sampled !== undefined) return sampled;
  }
  const values = scratchFor(count);
  if (scores instanceof Float32Array) values.set(scores);
  else {
    for (let index = 0; index < count; index += 1) {
      const score = scores[index] as number;
      // A number float32 cannot hold exactly would compare differently in the copy.
      if (Math.fround(score) !== score) return undefined;
      values[index] = score;
    }
  }
  return indicesAtOrAbove(scores, quickselect(values, count, count - limit), limit);
}

/** {@link candidatesAtOrAboveSampled} runs with at least this many scores per kept one. */
const SAMPLE_MIN_RATIO = 8;

/**
 * Indices whose score is ≥ a threshold t′ ≤ the `limit`-th largest score, in index order: t′ is
 * found by quickselect over every `stride`-th score only (a quarter or fewer of them), at a rank
 * that leaves about 1.5 × `limit` indices above it. Every index of the top `limit` is among them
 * (their scores are ≥ the `limit`-th largest ≥ t′), so the caller's result is the same as with the
 * exact threshold. `undefined` when fewer than `limit` scores reach t′ (an unlucky sample) or a
 * score is NaN: the caller then finds the exact threshold.
 */
function candidatesAtOrAboveSampled(scores: Float32Array, limit: number): Int32Array | undefined {
  const count = scores.length;
  const stride = count >= 64 * limit ? 16 : count >= 16 * limit ? 8 : 4;
  const samples = Math.floor((count - 1) / stride) + 1;
  // Samples expected at or above the limit-th largest score: limit / stride; take half as many again.
  const wanted = Math.min(samples, Math.ceil((1.5 * limit) / stride) + 4);
  const values = scratchFor(count);
  for (let index = 0, sample = 0; index < count; index += stride, sample += 1) values[sample] = scores[index] as number;
  return indicesAtOrAbove(scores, quickselect(values, samples, samples - wanted), limit);
}

/** The selection scratch, grown to hold `count` scores (and as many candidate indices). */
function scratchFor(count: number): Float32Array {
  if (selectScratch.length < count) {
    selectScratch = new Float32Array(Math.max(count, selectScratch.length * 2));
    candidateScratch = new Int32Array(selectScratch.length);
  }
  return selectScratch;
}

/**
 * The indices whose score is ≥ `threshold`, in index order (a view of the candidate scratch, valid
 * until the next call); `undefined` when fewer than `limit` reach it or a score is NaN.
 */
function indicesAtOrAbove(scores: ArrayLike<number>, threshold: number, limit: number): Int32Array | undefined {
  const candidates = candidateScratch;
  let kept = 0;
  let nan = false;
  for (let index = 0; index < scores.length; index += 1) {
    const score = scores[index] as number;
    if (score >= threshold) candidates[kept++] = index;
    else if (Number.isNaN(score)) nan = true;
  }
  return nan || kept < limit ? undefined : candidates.subarray(0, kept);
}

/** Positions a packed sort key holds below the score's 32 bits (2^21: 53 bits in all, exact in a double). */
const MAX_PACKED_POSITIONS = 2 ** 21;
let packedScratch = new Float64Array(256);
const bitsOfFloat = new Float32Array(1);
const floatBits = new Uint32Array(bitsOfFloat.buffer);

/**
 * The first `limit` of `candidates` best first: score descending, equal scores by `tieKey` then
 * `tieBreak` (the order of `heapSelect`'s result). Each candidate is sorted as one number (a native
 * numeric sort, no comparator): its float32 score mapped to 32 bits that order as the scores do
 * (−0 as +0), inverted so the best comes first, times 2^21, plus its position; runs of equal
 * scores are then put in tie order with the comparator.
 */
function sortCandidates(
  scores: ArrayLike<number>,
  candidates: Int32Array,
  limit: number,
  tieBreak: (a: number, b: number) => number,
  tieKey: ((index: number) => number) | undefined,
): number[] {
  const count = candidates.length;
  if (packedScratch.length < count) packedScratch = new Float64Array(Math.max(count, packedScratch.length * 2));
  const packed = packedScratch;
  for (let position = 0; position < count; position += 1) {
    bitsOfFloat[0] = (scores[candidates[position] as number] as number) + 0; // −0 → +0
    const bits = floatBits[0] as number;
    const ordered = bits >= 0x8000_0000 ? 0xffff_ffff - bits : bits + 0x8000_0000;
    packed[position] = (0xffff_ffff - ordered) * MAX_PACKED_POSITIONS + position;
  }
  packed.subarray(0, count).sort();
  // The key's low bits are its position (`key % 2^21` without a floating-point modulo).
  const indexAt = (position: number): number => {
    const key = packed[position] as number;
    return candidates[key - Math.floor(key / MAX_PACKED_POSITIONS) * MAX_PACKED_POSITIONS] as number;
  };
  // The first `limit`, and the scores tied with the last of them (their tie order decides who is kept).
  const order: number[] = [];
  for (let position = 0; position < limit; position += 1) order.push(indexAt(position));
  const lastScore = scores[order[limit - 1] as number] as number;
  for (let position = limit; position < count; position += 1) {
    const index = indexAt(position);
    if (scores[index] !== lastScore) break;
    order.push(index);
  }
  const tieOrder = (a: number, b: number): number => {
    if (tieKey !== undefined) {
      const keyA = tieKey(a);
      const keyB = tieKey(b);
      if (keyA !== keyB) return keyA < keyB ? -1 : 1;
    }
    return tieBreak(a, b);
  };
  // Runs of equal scores that reach into the first `limit`: in tie order.
  for (let start = 0; start < limit; ) {
    const score = scores[order[start] as number] as number;
    let end = start + 1;
    while (end < order.length && scores[order[end] as number] === score) end += 1;
    if (end - start > 1) {
      const run = order.slice(start, end).sort(tieOrder);
      for (let offset = 0; offset < run.length; offset += 1) order[start + offset] = run[offset] as number;
    }
    start = end;
  }
  order.length = limit;
  return order;
}

/**
 * The value of rank `rank` (0-based, ascending) among `values[0..count)`, which it partially
 * reorders (Hoare partition around a median of three, iterative). With a NaN the result is
 * meaningless (the caller checks).
 */
function quickselect(values: Float32Array, count: number, rank: number): number {
  let low = 0;
  let high = count - 1;
  while (high > low) {
    const middle = (low + high) >>> 1;
    // Median of three as the pivot value.
    const first = values[low] as number;
    const second = values[middle] as number;
    const third = values[high] as number;
    const smaller = first < second ? first : second;
    const larger = first < second ? second : first;
    const pivot = third < smaller ? smaller : third > larger ? larger : third;
    let left = low;
    let right = high;
    while (left <= right) {
      while ((values[left] as number) < pivot) left += 1;
      while ((values[right] as number) > pivot) right -= 1;
      if (left <= right) {
        const swap = values[left] as number;
        values[left] = values[right] as number;
        values[right] = swap;
        left += 1;
        right -= 1;
      }
    }
    // Now values[low..right] ≤ pivot ≤ values[left..high], and values(right..left) = pivot.
    if (rank <= right) high = right;
    else if (rank >= left) low = left;
    else return values[rank] as number;
  }
  return values[rank] as number;
}

/** The heap selection of {@link selectTop} over every index (or over `indices`, in that order). */
function heapSelect(
  scores: ArrayLike<number>,
  limit: number,
  tieBreak: (a: number, b: number) => number,
  tieKey: ((index: number) => number) | undefined,
  indices: ArrayLike<number> | undefined,
  accept?: (index: number) => boolean,
): number[] {
  /** `a` ranks after `b` among equal scores. */
  const tieWorse = (a: number, b: number): boolean => {
    if (tieKey !== undefined) {
      const keyA = tieKey(a);
      const keyB = tieKey(b);
      if (keyA !== keyB) return keyA > keyB;
    }
    return tieBreak(a, b) > 0;
  };
  // `worse(a, b)`: a ranks after b. The heap keeps the worst kept index at its root.
  const worse = (a: number, b: number): boolean => {
    const scoreA = scores[a] ?? Number.NEGATIVE_INFINITY;
    const scoreB = scores[b] ?? Number.NEGATIVE_INFINITY;
    return scoreA < scoreB || (scoreA === scoreB && tieWorse(a, b));
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
  // Once the heap is full, most scores lose to its root: compare with the root's score (and, on
  // an exact tie, its key) inline, and call `tieBreak` only when both are equal (the same test as
  // `worse(root, index)`).
  let rootScore = Number.NEGATIVE_INFINITY;
  let rootKey = 0;
  const rootChanged = () => {
    const root = heap[0] ?? 0;
    rootScore = scores[root] ?? Number.NEGATIVE_INFINITY;
    if (tieKey !== undefined) rootKey = tieKey(root);
  };
  const total = indices === undefined ? scores.length : indices.length;
  for (let position = 0; position < total; position += 1) {
    const index = indices === undefined ? position : (indices[position] as number);
    if (accept !== undefined && !accept(index)) continue;
    if (heap.length < limit) {
      heap.push(index);
      siftUp(heap.length - 1);
      rootChanged();
      continue;
    }
    const score = scores[index] ?? Number.NEGATIVE_INFINITY;
    if (score < rootScore) continue;
    if (score === rootScore) {
      if (tieKey !== undefined) {
        const key = tieKey(index);
        if (key > rootKey || (key === rootKey && tieBreak(heap[0] ?? 0, index) <= 0)) continue;
      } else if (tieBreak(heap[0] ?? 0, index) <= 0) continue;
    } else if (!(rootScore < score)) continue; // NaN: never kept over a full heap
    heap[0] = index;
    siftDown();
    rootChanged();
  }
  return heap.sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
}

/**
 * A number that orders ids as `compareIds` does, on their first three UTF-16 code units:
 * `idPrefixKey(a) < idPrefixKey(b)` implies `a < b`; equal keys say nothing (compare the ids).
 * Each code unit c is the digit c + 1 in base 2^17 (an absent one is 0, so a prefix ranks before
 * its extensions): at most 51 bits, exact in a double.
 */
export function idPrefixKey(id: string): number {
  let key = 0;
  for (let index = 0; index < 3; index += 1) {
    key = key * 131_072 + (index < id.length ? id.charCodeAt(index) + 1 : 0);
  }
  return key;
}
