/**
 * A WebAssembly SIMD dot-product kernel: the inner loop of the in-memory vector index.
 *
 * Scoring 100,000 stored 512-d vectors against one query is 51 million multiply-adds over 200 MB
 * of float32. Plain JavaScript does it in ~50 ms on one core; WebAssembly's 128-bit SIMD
 * (`f32x4`, in Node since v16.4) does it in a fraction of that, close to memory bandwidth.
 *
 * The module is assembled here from its opcodes (no build step, no binary blob). It exports:
 * - `dotsAll(matrix, query, out, rows, strideBytes)`: `out[r] = matrix[r] · query` for every row;
 * - `dotsListed(matrix, query, out, list, count, strideBytes)`: `out[i] = matrix[list[i]] · query`;
 * - `dotsAllInt8` / `dotsListedInt8(..., scales, queryScale)`: the same over int8 rows (`precision:
 *   "int8"` in `vector-matrix.ts`): `out = f32(exact integer dot) · scales[row] · queryScale`.
 * All pointers are byte offsets into the imported memory; `strideBytes` is a positive multiple of 16
 * (rows are zero-padded to a multiple of 4 floats, or of 16 int8 values).
 *
 * Both kernels score four rows at a time, each in its own accumulator: one accumulator is a chain
 * of dependent adds that waits on the previous add, four chains overlap. Every row is still summed
 * in the same order as alone (lane by lane, then lanes 0+1+2+3), so a score does not depend on
 * which rows are scored with it. The last `count % 4` rows are scored one at a time.
 */

/** A WebAssembly memory (only what is used here; the project's TypeScript libs do not declare WebAssembly). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}

/** A compiled WebAssembly module (opaque). */
export type WasmModule = object;

interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: unknown };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}

function wasmApi(): WasmApi | undefined {
  return (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
}

/** A new WebAssembly memory of at least `byteLength` bytes, or `undefined` without WebAssembly. */
export function createWasmMemory(byteLength: number): WasmMemory | undefined {
  return wasmApi() === undefined
    ? undefined
    : new (wasmApi() as WasmApi).Memory({ initial: Math.ceil(byteLength / 65_536) });
}

/** The kernels, bound to one memory: float32 rows, and int8 rows with a float32 scale per row. */
export interface DotKernels {
  dotsAll(matrix: number, query: number, out: number, rows: number, strideBytes: number): void;
  dotsListed(matrix: number, query: number, out: number, list: number, count: number, strideBytes: number): void;
  /** `out[r] = f32(Σ matrix[r][c] · query[c]) · scales[r] · queryScale` over int8 rows (exact integer sum). */
  dotsAllInt8(
    matrix: number,
    query: number,
    out: number,
    rows: number,
    strideBytes: number,
    scales: number,
    queryScale: number,
  ): void;
  /** As `dotsAllInt8` for the rows `list[0..count)`: `out[i]` scores row `list[i]` (scale `scales[list[i]]`). */
  dotsListedInt8(
    matrix: number,
    query: number,
    out: number,
    list: number,
    count: number,
    strideBytes: number,
    scales: number,
    queryScale: number,
  ): void;
}

// Opcodes used below (WebAssembly core spec 2.0, SIMD prefix 0xfd).
const BLOCK = 0x02;
const LOOP = 0x03;
const VOID = 0x40;
const END = 0x0b;
const BR = 0x0c;
const BR_IF = 0x0d;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
const I32_LOAD = 0x28;
const I32_GT_U = 0x4b;
const F32_STORE = 0x38;
const I32_CONST = 0x41;
const I32_LT_U = 0x49;
const I32_GE_U = 0x4f;
const I32_ADD = 0x6a;
const I32_MUL = 0x6c;
const I32_SHL = 0x74;
const F32_ADD = 0x92;
const I32 = 0x7f;
const V128 = 0x7b;
const SIMD = 0xfd;
const V128_LOAD = [SIMD, 0x00];
const V128_CONST_ZERO = [SIMD, 0x0c, ...new Array<number>(16).fill(0)];
const F32X4_EXTRACT_LANE = [SIMD, 0x1f];
const F32X4_ADD = [SIMD, 0xe4, 0x01];
const F32X4_MUL = [SIMD, 0xe6, 0x01];
const I32X4_EXTRACT_LANE = [SIMD, 0x1b];
const I16X8_EXTEND_LOW_I8X16_S = [SIMD, 0x87, 0x01];
const I16X8_EXTEND_HIGH_I8X16_S = [SIMD, 0x88, 0x01];
const I32X4_ADD = [SIMD, 0xae, 0x01];
const I32X4_DOT_I16X8_S = [SIMD, 0xba, 0x01];
const F32_LOAD = 0x2a;
const F32_MUL = 0x94;
const F32_CONVERT_I32_S = 0xb2;
const F32 = 0x7d;

function unsignedLeb(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  do {
    let byte = rest & 0x7f;
    rest >>>= 7;
    if (rest !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (rest !== 0);
  return bytes;
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...unsignedLeb(bytes.length), ...bytes];
}

function section(id: number, content: number[]): number[] {
  return [id, ...unsignedLeb(content.length), ...content];
}

function vector(items: number[][]): number[] {
  return [...unsignedLeb(items.length), ...items.flat()];
}

/**
 * The inner loop shared by both kernels: `acc = Σ (p[0..rowEnd) · qp[..])` in f32x4 lanes, then
 * `*(outPointer) = horizontal sum`. Expects `p` (row start) and `rowEnd` set.
 */
function dotRow(locals: { p: number; qp: number; rowEnd: number; acc: number; query: number }): number[] {
  const { p, qp, rowEnd, acc, query } = locals;
  return [
    ...V128_CONST_ZERO,
    LOCAL_SET,
    acc,
    LOCAL_GET,
    query,
    LOCAL_SET,
    qp,
    LOOP,
    VOID,
    LOCAL_GET,
    acc,
    LOCAL_GET,
    p,
    ...V128_LOAD,
    4,
    0,
    LOCAL_GET,
    qp,
    ...V128_LOAD,
    4,
    0,
    ...F32X4_MUL,
    ...F32X4_ADD,
    LOCAL_SET,
    acc,
    LOCAL_GET,
    p,
    I32_CONST,
    16,
    I32_ADD,
    LOCAL_SET,
    p,
    LOCAL_GET,
    qp,
    I32_CONST,
    16,
    I32_ADD,
    LOCAL_SET,
    qp,
    LOCAL_GET,
    p,
    LOCAL_GET,
    rowEnd,
    I32_LT_U,
    BR_IF,
    0,
    END,
  ];
}

/** Pushes the horizontal sum of the accumulator's four lanes (an f32) on the stack. */
function horizontalSum(acc: number): number[] {
  return [
    LOCAL_GET,
    acc,
    ...F32X4_EXTRACT_LANE,
    0,
    LOCAL_GET,
    acc,
    ...F32X4_EXTRACT_LANE,
    1,
    F32_ADD,
    LOCAL_GET,
    acc,
    ...F32X4_EXTRACT_LANE,
    2,
    F32_ADD,
    LOCAL_GET,
    acc,
    ...F32X4_EXTRACT_LANE,
    3,
    F32_ADD,
  ];
}

/** Locals of the four-row loop: row pointers, the end of the first row, accumulators, the query lanes. */
interface FourRowLocals {
  pointers: readonly [number, number, number, number];
  accumulators: readonly [number, number, number, number];
  qp: number;
  rowEnd: number;
  query: number;
  queryLanes: number;
}

/**
 * Four rows at once: `acc[k] = Σ (pointers[k][..] · qp[..])`, each row summed exactly as `dotRow`
 * sums it. Expects `pointers` and `rowEnd` (end of the first row) set; leaves each pointer at the
 * end of its row.
 */
function dotFourRows({ pointers, accumulators, qp, rowEnd, query, queryLanes }: FourRowLocals): number[] {
  const code: number[] = [];
  for (const acc of accumulators) code.push(...V128_CONST_ZERO, LOCAL_SET, acc);
  code.push(LOCAL_GET, query, LOCAL_SET, qp, LOOP, VOID);
  code.push(LOCAL_GET, qp, ...V128_LOAD, 4, 0, LOCAL_SET, queryLanes);
  pointers.forEach((pointer, index) => {
    const acc = accumulators[index] as number;
    code.push(LOCAL_GET, acc, LOCAL_GET, pointer, ...V128_LOAD, 4, 0, LOCAL_GET, queryLanes);
    code.push(...F32X4_MUL, ...F32X4_ADD, LOCAL_SET, acc);
  });
  for (const pointer of [...pointers, qp]) code.push(LOCAL_GET, pointer, I32_CONST, 16, I32_ADD, LOCAL_SET, pointer);
  code.push(LOCAL_GET, pointers[0], LOCAL_GET, rowEnd, I32_LT_U, BR_IF, 0, END);
  return code;
}

/** Stores the four accumulators' sums at `out + index * 4` and the next three slots. */
function storeFour(out: number, index: number, accumulators: readonly number[]): number[] {
  return accumulators.flatMap((acc, lane) => [...outSlot(out, index), ...horizontalSum(acc), F32_STORE, 2, lane * 4]);
}

/** Breaks out of the enclosing block (depth 1) when fewer than four items are left: `index + 4 > count`. */
function breakUnlessFourLeft(index: number, count: number): number[] {
  return [LOCAL_GET, index, I32_CONST, 4, I32_ADD, LOCAL_GET, count, I32_GT_U, BR_IF, 1];
}

/** `out + index * 4` on the stack. */
function outSlot(out: number, index: number): number[] {
  return [LOCAL_GET, out, LOCAL_GET, index, I32_CONST, 2, I32_SHL, I32_ADD];
}

function increment(local: number): number[] {
  return [LOCAL_GET, local, I32_CONST, 1, I32_ADD, LOCAL_SET, local];
}

/**
 * dotsAll(matrix=0, query=1, out=2, rows=3, strideBytes=4); locals r=5, qp=6, rowEnd=7, p1=8,
 * p2=9, p3=10, then v128 acc=11, acc1=12, acc2=13, acc3=14, queryLanes=15.
 */
function dotsAllBody(): number[] {
  const [matrix, query, out, rows, strideBytes, r, qp, rowEnd, p1, p2, p3] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
  ] as const;
  const [acc, acc1, acc2, acc3, queryLanes] = [11, 12, 13, 14, 15] as const;
  const pointerAt = (pointer: number, rowsAhead: number) => [
    LOCAL_GET,
    matrix,
    LOCAL_GET,
    strideBytes,
    I32_CONST,
    rowsAhead,
    I32_MUL,
    I32_ADD,
    LOCAL_SET,
    pointer,
  ];
  // Four rows at a time: `matrix` walks the first of them, p1..p3 the next three.
  const fourAtATime = [
    BLOCK,
    VOID,
    LOOP,
    VOID,
    ...breakUnlessFourLeft(r, rows),
    ...pointerAt(p1, 1),
    ...pointerAt(p2, 2),
    ...pointerAt(p3, 3),
    LOCAL_GET,
    matrix,
    LOCAL_GET,
    strideBytes,
    I32_ADD,
    LOCAL_SET,
    rowEnd,
    ...dotFourRows({
      pointers: [matrix, p1, p2, p3],
      accumulators: [acc, acc1, acc2, acc3],
      qp,
      rowEnd,
      query,
      queryLanes,
    }),
    ...storeFour(out, r, [acc, acc1, acc2, acc3]),
    // The next row after the four: where the fourth one ended.
    LOCAL_GET,
    p3,
    LOCAL_SET,
    matrix,
    LOCAL_GET,
    r,
    I32_CONST,
    4,
    I32_ADD,
    LOCAL_SET,
    r,
    BR,
    0,
    END,
    END,
  ];
  const code = [
    ...fourAtATime,
    BLOCK,
    VOID,
    LOOP,
    VOID,
    LOCAL_GET,
    r,
    LOCAL_GET,
    rows,
    I32_GE_U,
    BR_IF,
    1,
    // rowEnd = matrix + strideBytes (matrix walks forward row by row)
    LOCAL_GET,
    matrix,
    LOCAL_GET,
    strideBytes,
    I32_ADD,
    LOCAL_SET,
    rowEnd,
    ...dotRow({ p: matrix, qp, rowEnd, acc, query }),
    ...outSlot(out, r),
    ...horizontalSum(acc),
    F32_STORE,
    2,
    0,
    ...increment(r),
    BR,
    0,
    END,
    END,
    END,
  ];
  const locals = vector([
    [6, I32],
    [5, V128],
  ]);
  return [...locals, ...code];
}

/**
 * dotsListed(matrix=0, query=1, out=2, list=3, count=4, strideBytes=5); locals i=6, qp=7, p=8,
 * rowEnd=9, p1=10, p2=11, p3=12, then v128 acc=13, acc1=14, acc2=15, acc3=16, queryLanes=17.
 */
function dotsListedBody(): number[] {
  const [matrix, query, out, list, count, strideBytes, i, qp, p, rowEnd, p1, p2, p3] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
  ] as const;
  const [acc, acc1, acc2, acc3, queryLanes] = [13, 14, 15, 16, 17] as const;
  // pointer = matrix + list[i + ahead] * strideBytes (the load's offset picks the list item).
  const pointerAt = (pointer: number, ahead: number) => [
    LOCAL_GET,
    matrix,
    LOCAL_GET,
    list,
    LOCAL_GET,
    i,
    I32_CONST,
    2,
    I32_SHL,
    I32_ADD,
    I32_LOAD,
    2,
    ahead * 4,
    LOCAL_GET,
    strideBytes,
    I32_MUL,
    I32_ADD,
    LOCAL_SET,
    pointer,
  ];
  const fourAtATime = [
    BLOCK,
    VOID,
    LOOP,
    VOID,
    ...breakUnlessFourLeft(i, count),
    ...pointerAt(p, 0),
    ...pointerAt(p1, 1),
    ...pointerAt(p2, 2),
    ...pointerAt(p3, 3),
    LOCAL_GET,
    p,
    LOCAL_GET,
    strideBytes,
    I32_ADD,
    LOCAL_SET,
    rowEnd,
    ...dotFourRows({ pointers: [p, p1, p2, p3], accumulators: [acc, acc1, acc2, acc3], qp, rowEnd, query, queryLanes }),
    ...storeFour(out, i, [acc, acc1, acc2, acc3]),
    LOCAL_GET,
    i,
    I32_CONST,
    4,
    I32_ADD,
    LOCAL_SET,
    i,
    BR,
    0,
    END,
    END,
  ];
  const code = [
    ...fourAtATime,
    BLOCK,
    VOID,
    LOOP,
    VOID,
    LOCAL_GET,
    i,
    LOCAL_GET,
    count,
    I32_GE_U,
    BR_IF,
    1,
    // p = matrix + list[i] * strideBytes; rowEnd = p + strideBytes
    LOCAL_GET,
    matrix,
    LOCAL_GET,
    list,
    LOCAL_GET,
    i,
    I32_CONST,
    2,
    I32_SHL,
    I32_ADD,
    I32_LOAD,
    2,
    0,
    LOCAL_GET,
    strideBytes,
    I32_MUL,
    I32_ADD,
    LOCAL_TEE,
    p,
    LOCAL_GET,
    strideBytes,
    I32_ADD,
    LOCAL_SET,
    rowEnd,
    ...dotRow({ p, qp, rowEnd, acc, query }),
    ...outSlot(out, i),
    ...horizontalSum(acc),
    F32_STORE,
    2,
    0,
    ...increment(i),
    BR,
    0,
    END,
    END,
    END,
  ];
  const locals = vector([
    [7, I32],
    [5, V128],
  ]);
  return [...locals, ...code];
}

/**
 * The int8 kernels (`listed`: `dotsListedInt8`, else `dotsAllInt8`). Rows are int8, `strideBytes`
 * a positive multiple of 16; per 16 bytes and row: one load, `i16x8.extend_{low,high}_i8x16_s`,
 * two `i32x4.dot_i16x8_s` and two `i32x4.add` into the row's accumulator. The query's 16 bytes are
 * loaded and widened once for the four rows scored together. Integer sums are exact (|sum| ≤
 * 127² · strideBytes, far below 2³¹), so grouping rows changes nothing; the score is then
 * `f32(sum) · scales[row] · queryScale`, two f32 multiplications in that order.
 *
 * Parameters: matrix, query, out, [list], count, strideBytes, scales (i32), queryScale (f32);
 * locals after them: i, qp, rowEnd, p0..p3 (i32), then acc0..acc3, queryLow, queryHigh, lanes (v128).
 */
function int8Body(listed: boolean): number[] {
  const shift = listed ? 1 : 0;
  const [matrix, query, out, list] = [0, 1, 2, 3] as const;
  const count = 3 + shift;
  const strideBytes = 4 + shift;
  const scales = 5 + shift;
  const queryScale = 6 + shift;
  const first = 7 + shift;
  const [i, qp, rowEnd, p0, p1, p2, p3] = [0, 1, 2, 3, 4, 5, 6].map((offset) => first + offset) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [acc0, acc1, acc2, acc3, queryLow, queryHigh, lanes] = [7, 8, 9, 10, 11, 12, 13].map(
    (offset) => first + offset,
  ) as [number, number, number, number, number, number, number];
  const pointers = [p0, p1, p2, p3] as const;
  const accumulators = [acc0, acc1, acc2, acc3] as const;
  /** The row number of item `i + ahead` on the stack. */
  const rowOf = (ahead: number): number[] =>
    listed
      ? [LOCAL_GET, list, LOCAL_GET, i, I32_CONST, 2, I32_SHL, I32_ADD, I32_LOAD, 2, ahead * 4]
      : [LOCAL_GET, i, I32_CONST, ahead, I32_ADD];
  const pointerAt = (pointer: number, ahead: number): number[] => [
    LOCAL_GET,
    matrix,
    ...rowOf(ahead),
    LOCAL_GET,
    strideBytes,
    I32_MUL,
    I32_ADD,
    LOCAL_SET,
    pointer,
  ];
  /** `acc += dot(low(row), queryLow) + dot(high(row), queryHigh)` for the 16 bytes at `pointer`. */
  const accumulate = (pointer: number, acc: number): number[] => [
    LOCAL_GET,
    acc,
    LOCAL_GET,
    pointer,
    ...V128_LOAD,
    4,
    0,
    LOCAL_TEE,
    lanes,
    ...I16X8_EXTEND_LOW_I8X16_S,
    LOCAL_GET,
    queryLow,
    ...I32X4_DOT_I16X8_S,
    ...I32X4_ADD,
    LOCAL_GET,
    lanes,
    ...I16X8_EXTEND_HIGH_I8X16_S,
    LOCAL_GET,
    queryHigh,
    ...I32X4_DOT_I16X8_S,
    ...I32X4_ADD,
    LOCAL_SET,
    acc,
  ];
  /** Dots `rows` rows (pointers p0.. set, rowEnd = end of p0's row); leaves the sums in the accumulators. */
  const dotRows = (rows: number): number[] => {
    const code: number[] = [];
    for (let row = 0; row < rows; row += 1) code.push(...V128_CONST_ZERO, LOCAL_SET, accumulators[row] as number);
    code.push(LOCAL_GET, query, LOCAL_SET, qp, LOOP, VOID);
    code.push(LOCAL_GET, qp, ...V128_LOAD, 4, 0, LOCAL_TEE, lanes, ...I16X8_EXTEND_LOW_I8X16_S, LOCAL_SET, queryLow);
    code.push(LOCAL_GET, lanes, ...I16X8_EXTEND_HIGH_I8X16_S, LOCAL_SET, queryHigh);
    for (let row = 0; row < rows; row += 1)
      code.push(...accumulate(pointers[row] as number, accumulators[row] as number));
    for (const pointer of [...pointers.slice(0, rows), qp]) {
      code.push(LOCAL_GET, pointer, I32_CONST, 16, I32_ADD, LOCAL_SET, pointer);
    }
    code.push(LOCAL_GET, p0, LOCAL_GET, rowEnd, I32_LT_U, BR_IF, 0, END);
    return code;
  };
  /** `out[i + lane] = f32(Σ lanes of acc) · scales[row] · queryScale`. */
  const store = (lane: number): number[] => {
    const acc = accumulators[lane] as number;
    return [
      ...outSlot(out, i),
      LOCAL_GET,
      acc,
      ...I32X4_EXTRACT_LANE,
      0,
      LOCAL_GET,
      acc,
      ...I32X4_EXTRACT_LANE,
      1,
      I32_ADD,
      LOCAL_GET,
      acc,
      ...I32X4_EXTRACT_LANE,
      2,
      I32_ADD,
      LOCAL_GET,
      acc,
      ...I32X4_EXTRACT_LANE,
      3,
      I32_ADD,
      F32_CONVERT_I32_S,
      LOCAL_GET,
      scales,
      ...rowOf(lane),
      I32_CONST,
      2,
      I32_SHL,
      I32_ADD,
      F32_LOAD,
      2,
      0,
      F32_MUL,
      LOCAL_GET,
      queryScale,
      F32_MUL,
      F32_STORE,
      2,
      lane * 4,
    ];
  };
  const rowEndOfP0 = [LOCAL_GET, p0, LOCAL_GET, strideBytes, I32_ADD, LOCAL_SET, rowEnd];
  const fourAtATime = [
    BLOCK,
    VOID,
    LOOP,
    VOID,
    ...breakUnlessFourLeft(i, count),
    ...pointers.flatMap((pointer, ahead) => pointerAt(pointer, ahead)),
    ...rowEndOfP0,
    ...dotRows(4),
    ...[0, 1, 2, 3].flatMap(store),
    LOCAL_GET,
    i,
    I32_CONST,
    4,
    I32_ADD,
    LOCAL_SET,
    i,
    BR,
    0,
    END,
    END,
  ];
  const oneAtATime = [
    BLOCK,
    VOID,
    LOOP,
    VOID,
    LOCAL_GET,
    i,
    LOCAL_GET,
    count,
    I32_GE_U,
    BR_IF,
    1,
    ...pointerAt(p0, 0),
    ...rowEndOfP0,
    ...dotRows(1),
    ...store(0),
    ...increment(i),
    BR,
    0,
    END,
    END,
  ];
  const locals = vector([
    [7, I32],
    [7, V128],
  ]);
  return [...locals, ...fourAtATime, ...oneAtATime, END];
}

/** The module's bytes. */
export function dotKernelModuleBytes(): Uint8Array {
  const typeAll = [0x60, 5, I32, I32, I32, I32, I32, 0];
  const typeListed = [0x60, 6, I32, I32, I32, I32, I32, I32, 0];
  const typeAllInt8 = [0x60, 7, I32, I32, I32, I32, I32, I32, F32, 0];
  const typeListedInt8 = [0x60, 8, I32, I32, I32, I32, I32, I32, I32, F32, 0];
  const memoryImport = [...name("env"), ...name("memory"), 0x02, 0x00, 0x01];
  const bodies = [dotsAllBody(), dotsListedBody(), int8Body(false), int8Body(true)].map((body) => [
    ...unsignedLeb(body.length),
    ...body,
  ]);
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vector([typeAll, typeListed, typeAllInt8, typeListedInt8])),
    ...section(2, vector([memoryImport])),
    ...section(3, vector([[0], [1], [2], [3]])),
    ...section(
      7,
      vector([
        [...name("dotsAll"), 0x00, 0],
        [...name("dotsListed"), 0x00, 1],
        [...name("dotsAllInt8"), 0x00, 2],
        [...name("dotsListedInt8"), 0x00, 3],
      ]),
    ),
    ...section(10, vector(bodies)),
  ]);
}

/**
 * Compiles the kernel for `memory`, or returns `undefined` when this runtime has no WebAssembly
 * SIMD (the caller then uses its JavaScript loop).
 */
export function compileDotKernels(memory: WasmMemory, module = compileDotKernelModule()): DotKernels | undefined {
  const api = wasmApi();
  if (module === undefined || api === undefined) return undefined;
  const instance = new api.Instance(module, { env: { memory } });
  return instance.exports as DotKernels;
}

/** The compiled module, or `undefined` without WebAssembly SIMD. Compile once and reuse it. */
export function compileDotKernelModule(): WasmModule | undefined {
  const api = wasmApi();
  if (api === undefined) return undefined;
  const bytes = dotKernelModuleBytes();
  if (!api.validate(bytes)) return undefined;
  return new api.Module(bytes);
}
