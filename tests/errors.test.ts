import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BudgetExhaustedError, ConfigError, GavelError, parseConfig } from "../src/errors.js";
import { importPeer, MissingPeerDependencyError, requirePeer } from "../src/peers.js";
import { RouterCallTimeoutError } from "../src/router/errors.js";

const refusal = new BudgetExhaustedError({
  scope: "run",
  scopeId: "r1",
  unit: "tokens",
  limit: 10,
  spent: 10,
  reserved: 0,
  requested: 5,
});

describe("GavelError.isInstance", () => {
  it("matches the class it is called on and its subclasses, not siblings", () => {
    expect(BudgetExhaustedError.isInstance(refusal)).toBe(true);
    expect(GavelError.isInstance(refusal)).toBe(true);
    expect(RouterCallTimeoutError.isInstance(refusal)).toBe(false);
    expect(RouterCallTimeoutError.isInstance(new RouterCallTimeoutError("mini", "plan", 100))).toBe(true);
    expect(ConfigError.isInstance(new RouterCallTimeoutError("mini", "plan", 100))).toBe(false);
  });

  it("matches a subclass declared outside the package", () => {
    class TooLate extends RouterCallTimeoutError {}
    const error = new TooLate("mini", "answer", 5);
    expect(RouterCallTimeoutError.isInstance(error)).toBe(true);
    expect(TooLate.isInstance(error)).toBe(true);
    expect(TooLate.isInstance(new RouterCallTimeoutError("mini", "answer", 5))).toBe(false);
  });

  it("matches an error from another copy of the package by its marker, not its prototype", () => {
    const otherCopy = { [Symbol.for("langchain-gavel.error")]: ["BudgetExhaustedError", "GavelError"], name: "x" };
    expect(BudgetExhaustedError.isInstance(otherCopy)).toBe(true);
    expect(GavelError.isInstance(otherCopy)).toBe(true);
    expect(RouterCallTimeoutError.isInstance(otherCopy)).toBe(false);
  });

  it("rejects what is not a Gavel error", () => {
    for (const value of [
      new Error("plain"),
      null,
      undefined,
      "BudgetExhaustedError",
      { name: "BudgetExhaustedError" },
    ]) {
      expect(GavelError.isInstance(value)).toBe(false);
      expect(BudgetExhaustedError.isInstance(value)).toBe(false);
    }
  });

  it("works for configuration errors raised by parseConfig", () => {
    try {
      parseConfig("options", z.object({ size: z.number() }).strict(), { size: "big" });
      expect.unreachable();
    } catch (error) {
      expect(ConfigError.isInstance(error)).toBe(true);
      expect(BudgetExhaustedError.isInstance(error)).toBe(false);
    }
  });
});

describe("optional peers", () => {
  it("names the missing package and the command that installs it", async () => {
    const load = importPeer(
      "not-a-real-package-xyz",
      "langchain-gavel/example",
      () => import("not-a-real-package-xyz" as string),
    );
    await expect(load).rejects.toThrow(
      'langchain-gavel/example needs the package "not-a-real-package-xyz", which is not installed. Install it: npm install not-a-real-package-xyz',
    );
    await expect(load).rejects.toSatisfy((error) => MissingPeerDependencyError.isInstance(error));
    expect(() => requirePeer("not-a-real-package-xyz", "langchain-gavel/example")).toThrow(MissingPeerDependencyError);
  });

  it("loads an installed package, and rethrows failures other than a missing package", async () => {
    expect(requirePeer<typeof import("node:path")>("node:path", "test").join("a", "b")).toBe("a/b");
    const broken = importPeer("zod", "test", async () => {
      throw new TypeError("zod is broken");
    });
    await expect(broken).rejects.toThrow(TypeError);
  });
});
