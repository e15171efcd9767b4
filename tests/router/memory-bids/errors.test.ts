import { describe, expect, it } from "vitest";
import { GavelError } from "../../../src/errors.js";
import { MemoryEmbedderMismatchError, RouterOutcomeError } from "../../../src/router/memory-bids/index.js";

describe("memory-bid errors", () => {
  it("MemoryEmbedderMismatchError names both embedders, or the dimension problem, and the fix", () => {
    const mismatch = new MemoryEmbedderMismatchError("hashing-64", "OpenAIEmbeddings");
    expect(GavelError.isInstance(mismatch)).toBe(true);
    expect(mismatch.name).toBe("MemoryEmbedderMismatchError");
    expect(mismatch.message).toContain('embedded with "OpenAIEmbeddings", but the router embeds with "hashing-64"');
    const cause = new Error("dimension 64 ≠ 512");
    const dimension = new MemoryEmbedderMismatchError("hashing-64", undefined, {
      reason: "vectors of 512 numbers",
      cause,
    });
    expect(dimension.found).toBeUndefined();
    expect(dimension.cause).toBe(cause);
    expect(dimension.message).toContain("(vectors of 512 numbers)");
    expect(dimension.message).toContain("Fix:");
  });

  it("RouterOutcomeError carries the reason, the auction and the member", () => {
    for (const reason of ["unknown_auction", "already_scored", "member_not_called"] as const) {
      const error = new RouterOutcomeError(reason, "a1", "mini");
      expect(RouterOutcomeError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ name: "RouterOutcomeError", reason, auctionId: "a1", member: "mini" });
      expect(error.message).toContain('"a1"');
      expect(error.message).toContain("Fix:");
    }
    expect(new RouterOutcomeError("member_not_called", "a1", "large").message).toContain(
      'member "large" was not called',
    );
    expect(new RouterOutcomeError("unknown_auction", "zz").member).toBeUndefined();
  });
});
