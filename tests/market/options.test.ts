/** Options are parsed once by a zod schema; a bad option throws ConfigError naming the field. */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { type AuctionOptions, clearAuction, createAuctioneer, parseAuctionOptions } from "../../src/market/index.js";

function configErrorOf(options: unknown): ConfigError {
  try {
    createAuctioneer(options as AuctionOptions);
  } catch (error) {
    if (ConfigError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("auction options", () => {
  it("fills the defaults", () => {
    expect(parseAuctionOptions({ mechanism: "second_price" })).toEqual({
      mechanism: "second_price",
      reservePrice: 0,
      topK: 1,
      seed: 0,
      temperature: 1,
      tokenCap: Number.POSITIVE_INFINITY,
    });
    const budgeted = parseAuctionOptions({ mechanism: "budgeted_vcg", tokenCap: 512 });
    expect(budgeted.topK).toBe(Number.POSITIVE_INFINITY);
    expect(budgeted.tokenCap).toBe(512);
  });

  it.each([
    [{ mechanism: "vickrey" }, "mechanism"],
    [{ mechanism: "second_price", topK: 0 }, "topK"],
    [{ mechanism: "second_price", topK: 1.5 }, "topK"],
    [{ mechanism: "second_price", reservePrice: -1 }, "reservePrice"],
    [{ mechanism: "second_price", reservePrice: Number.NaN }, "reservePrice"],
    [{ mechanism: "softmax", temperature: 0 }, "temperature"],
    [{ mechanism: "softmax", temperature: Number.POSITIVE_INFINITY }, "temperature"],
    [{ mechanism: "softmax", seed: 0.5 }, "seed"],
    [{ mechanism: "budgeted_vcg" }, "tokenCap"],
    [{ mechanism: "budgeted_vcg", tokenCap: -5 }, "tokenCap"],
  ])("%o is rejected naming %s", (options, field) => {
    const error = configErrorOf(options);
    expect(error.fields).toEqual([field]);
    expect(error.message).toContain(`${field}:`);
    expect(error.message).toMatch(/^Invalid auction options:/);
  });

  it("explains what tokenCap is when budgeted_vcg lacks it", () => {
    expect(configErrorOf({ mechanism: "budgeted_vcg" }).message).toContain("tokenCap: budgeted_vcg needs tokenCap");
  });

  it("rejects unknown keys, so a typo fails loudly", () => {
    const error = configErrorOf({ mechanism: "second_price", reserve: 0.2 });
    expect(error.message).toContain('Unrecognized key: "reserve"');
  });

  it("clearAuction validates too", () => {
    expect(() => clearAuction([], { mechanism: "second_price", topK: -1 })).toThrow(ConfigError);
  });

  it("an auctioneer exposes its rules and a standalone clear function", () => {
    const { rules, clear } = createAuctioneer({ mechanism: "first_price", topK: 2, seed: 9 });
    expect(rules).toMatchObject({ mechanism: "first_price", topK: 2, seed: 9 });
    expect(Object.isFrozen(rules)).toBe(true);
    expect(clear([{ bidder: "solo", amount: 1 }]).winners).toEqual(["solo"]);
  });
});
