/**
 * The one configuration of an auction: its schema, its public input type and the resolved
 * rules the clearing code runs on. Options are parsed once (`createAuctioneer`) so that
 * clearing itself never touches zod.
 */
import { z } from "zod";
import { parseConfig } from "../errors.js";
import type { MechanismName } from "./types.js";

/**
 * Every mechanism `clearAuction` accepts.
 *
 * @example
 * ```ts
 * MECHANISM_NAMES; // ["first_price", "second_price", "softmax", "budgeted_vcg"]
 * MECHANISM_NAMES.includes("vickrey" as MechanismName); // false
 * ```
 */
export const MECHANISM_NAMES = [
  "first_price",
  "second_price",
  "softmax",
  "budgeted_vcg",
] as const satisfies readonly MechanismName[];

/**
 * Default reserve price: every non-negative bid may win.
 *
 * @example
 * ```ts
 * parseAuctionOptions({ mechanism: "first_price" }).reservePrice === DEFAULT_RESERVE_PRICE; // true (0)
 * ```
 */
export const DEFAULT_RESERVE_PRICE = 0;
/**
 * Default number of winners for `first_price`, `second_price` and `softmax`.
 *
 * @example
 * ```ts
 * parseAuctionOptions({ mechanism: "softmax" }).topK === DEFAULT_TOP_K; // true (1)
 * ```
 */
export const DEFAULT_TOP_K = 1;
/**
 * Default seed of the tie rule and of softmax sampling.
 *
 * @example
 * ```ts
 * parseAuctionOptions({ mechanism: "softmax" }).seed === DEFAULT_SEED; // true (0)
 * ```
 */
export const DEFAULT_SEED = 0;
/**
 * Default softmax temperature.
 *
 * @example
 * ```ts
 * parseAuctionOptions({ mechanism: "softmax" }).temperature === DEFAULT_TEMPERATURE; // true (1)
 * ```
 */
export const DEFAULT_TEMPERATURE = 1;

/**
 * Schema of `AuctionOptions`. Unknown keys are rejected, so a typo fails instead of being ignored.
 *
 * @example
 * ```ts
 * auctionOptionsSchema.parse({ mechanism: "softmax", temperature: 0.5 });
 * // { mechanism: "softmax", reservePrice: 0, seed: 0, temperature: 0.5 }
 * auctionOptionsSchema.safeParse({ mechanism: "budgeted_vcg" }).success; // false: needs tokenCap
 * ```
 */
export const auctionOptionsSchema = z
  .object({
    mechanism: z.enum(MECHANISM_NAMES),
    reservePrice: z.number().nonnegative().default(DEFAULT_RESERVE_PRICE),
    topK: z.number().int().positive().optional(),
    seed: z.number().int().default(DEFAULT_SEED),
    temperature: z.number().positive().default(DEFAULT_TEMPERATURE),
    tokenCap: z.number().nonnegative().optional(),
  })
  .strict()
  .superRefine((options, context) => {
    if (options.mechanism === "budgeted_vcg" && options.tokenCap === undefined) {
      context.addIssue({
        code: "custom",
        path: ["tokenCap"],
        message: "budgeted_vcg needs tokenCap, the most tokens the winners may use together (e.g. tokenCap: 1024)",
      });
    }
  });

/**
 * Options of one auction (input form: every field but `mechanism` is optional).
 *
 * | field | default | meaning |
 * |---|---|---|
 * | `mechanism` | — | `"first_price"`, `"second_price"`, `"softmax"` or `"budgeted_vcg"` |
 * | `reservePrice` | `0` | bids below it never win; the floor of second-price and VCG prices |
 * | `topK` | `1` (`budgeted_vcg`: no limit) | most winners |
 * | `seed` | `0` | seed of the tie rule and of softmax sampling (any safe integer) |
 * | `temperature` | `1` | softmax temperature (> 0); ignored by the other mechanisms |
 * | `tokenCap` | — | `budgeted_vcg` only, required: most tokens the winners may use together |
 */
export type AuctionOptions = z.input<typeof auctionOptionsSchema>;

/** Validated options with every default filled in. `topK` is `Infinity` when there is no limit. */
export interface AuctionRules {
  readonly mechanism: MechanismName;
  readonly reservePrice: number;
  readonly topK: number;
  readonly seed: number;
  readonly temperature: number;
  /** `Infinity` for mechanisms that ignore it. */
  readonly tokenCap: number;
}

/**
 * Validates `options` once and fills the defaults.
 *
 * @throws ConfigError naming each bad field, e.g. `topK: Too small: expected number to be >0`.
 *
 * @example
 * ```ts
 * parseAuctionOptions({ mechanism: "second_price" });
 * // { mechanism: "second_price", reservePrice: 0, topK: 1, seed: 0, temperature: 1, tokenCap: Infinity }
 * parseAuctionOptions({ mechanism: "budgeted_vcg", tokenCap: 1024 }).topK; // Infinity
 * parseAuctionOptions({ mechanism: "budgeted_vcg" }); // throws ConfigError: "tokenCap: budgeted_vcg needs tokenCap, ..."
 * ```
 */
export function parseAuctionOptions(options: AuctionOptions): AuctionRules {
  const parsed = parseConfig("auction options", auctionOptionsSchema, options);
  const budgeted = parsed.mechanism === "budgeted_vcg";
  return Object.freeze({
    mechanism: parsed.mechanism,
    reservePrice: parsed.reservePrice,
    topK: parsed.topK ?? (budgeted ? Number.POSITIVE_INFINITY : DEFAULT_TOP_K),
    seed: parsed.seed,
    temperature: parsed.temperature,
    tokenCap: budgeted ? (parsed.tokenCap ?? Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY,
  });
}
