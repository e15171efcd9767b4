/**
 * Seeded, platform-independent hashing and pseudo-random numbers for the market core.
 *
 * Everything here is 32-bit integer arithmetic (`Math.imul`, shifts, `>>> 0`), which
 * JavaScript defines exactly, so the same seed gives the same numbers on every engine,
 * operating system and CPU. Nothing here reads the clock or `Math.random`.
 *
 * - `mix32` is the 32-bit finaliser of MurmurHash3 (`fmix32`): a bijection on 32-bit
 *   integers with full avalanche.
 * - `hashString` is FNV-1a over the UTF-16 code units of a string, started from a seeded
 *   basis and finished with `mix32`.
 * - `mulberry32` is Mulberry32 (Tommy Ettinger's 32-bit generator): period 2^32, one
 *   `Math.imul` chain per draw; `createSeededRandom` seeds it from a seed and a stream name.
 */

/** FNV-1a 32-bit offset basis. */
const FNV_OFFSET_BASIS = 0x811c9dc5;
/** FNV-1a 32-bit prime. */
const FNV_PRIME = 0x01000193;
/** 2^32 / golden ratio, the usual odd constant to separate streams. */
const GOLDEN_GAMMA = 0x9e3779b9;
/** Mulberry32 increment. */
const MULBERRY_INCREMENT = 0x6d2b79f5;
const TWO_TO_THE_32 = 4_294_967_296;

/** MurmurHash3's 32-bit finaliser: a bijective mix of a 32-bit integer. Returns an unsigned 32-bit integer. */
export function mix32(value: number): number {
  let hash = value >>> 0;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/**
 * Folds any safe integer seed (negative or above 2^32 included) into one 32-bit state:
 * `mix32(low ^ mix32(high ^ GOLDEN_GAMMA))`, where `low` is the seed modulo 2^32 and
 * `high` is `floor(seed / 2^32)` modulo 2^32. Different seeds below 2^32 give different states.
 */
export function seedState(seed: number): number {
  const low = seed >>> 0;
  const high = Math.floor(seed / TWO_TO_THE_32) >>> 0;
  return mix32(low ^ mix32(high ^ GOLDEN_GAMMA));
}

/** FNV-1a over the UTF-16 code units of `text`, from basis `FNV_OFFSET_BASIS ^ state`, finished with `mix32`. */
export function hashString(text: string, state: number): number {
  let hash = (FNV_OFFSET_BASIS ^ state) >>> 0;
  for (let index = 0; index < text.length; index++) {
    hash = Math.imul(hash ^ text.charCodeAt(index), FNV_PRIME);
  }
  return mix32(hash);
}

/**
 * The seeded tie key of a bidder: `hashString(bidder, seedState(seed))`, an unsigned 32-bit integer.
 * Among bids of equal amount the lower key ranks first (then the bidder id, in code-unit order,
 * in the 1-in-4-billion case of equal keys). The key depends only on the seed and the id, never
 * on the amount, the arrival order or the time.
 */
export function tieKey(seed: number, bidder: string): number {
  return hashString(bidder, seedState(seed));
}

/** A deterministic stream of pseudo-random numbers. */
export interface SeededRandom {
  /** The next unsigned 32-bit integer. */
  nextUint32(): number;
  /** The next float in [0, 1): `nextUint32() / 2^32`. */
  nextFloat(): number;
}

/**
 * Mulberry32 from a raw 32-bit state, with no seed mixing: a function returning the next unsigned
 * 32-bit integer. {@link createSeededRandom} is this generator seeded through `seedState` and a
 * stream name; the evaluation's train/test split and the benchmarks use it raw, so their seeds keep
 * giving the same numbers they always gave.
 *
 * @example
 * const next = mulberry32(7);
 * next(); // the same unsigned 32-bit integer on every machine
 */
export function mulberry32(state: number): () => number {
  let current = state | 0;
  return () => {
    current = (current + MULBERRY_INCREMENT) | 0;
    let mixed = Math.imul(current ^ (current >>> 15), 1 | current);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return (mixed ^ (mixed >>> 14)) >>> 0;
  };
}

/**
 * `mulberry32(seed)` as floats in [0, 1): `next() / 2^32`.
 *
 * @example
 * const random = mulberry32Float(0);
 * random(); // the same float in [0, 1) on every machine
 */
export function mulberry32Float(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / TWO_TO_THE_32;
}

/**
 * Mulberry32 seeded from `seedState(seed)` mixed with a stream name, so that independent uses
 * of one seed (tie keys, softmax draws, ...) do not share numbers.
 *
 * @example
 * const random = createSeededRandom({ seed: 42, stream: "softmax" });
 * random.nextFloat(); // the same value on every machine
 */
export function createSeededRandom({ seed = 0, stream = "" }: { seed?: number; stream?: string } = {}): SeededRandom {
  const nextUint32 = mulberry32(hashString(stream, seedState(seed)));
  return {
    nextUint32,
    nextFloat: () => nextUint32() / TWO_TO_THE_32,
  };
}
