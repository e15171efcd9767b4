import { describe, expect, it } from "vitest";
import { randomShareOfStrongCalls, shareOfStrongCalls } from "../../../src/eval/routing/strong-share.js";

describe("shareOfStrongCalls: the share of strong calls for 95% of the strong accuracy, along a sweep", () => {
  const reference = { strongAccuracy: 0.9, weakAccuracy: 0.6 };

  it("interpolates linearly between the two points around the bar (0.855)", () => {
    const points = [
      { strongShare: 0.6, accuracy: 0.9 },
      { strongShare: 0.2, accuracy: 0.7 },
      { strongShare: 0, accuracy: 0.6 },
    ];
    // 0.855 lies 0.155 / 0.2 = 77.5% of the way from share 0.2 to share 0.6.
    expect(shareOfStrongCalls(points, reference)).toBeCloseTo(0.2 + 0.775 * 0.4, 10);
  });

  it("reads the first point that reaches the bar when the sweep starts above it", () => {
    expect(shareOfStrongCalls([{ strongShare: 0.1, accuracy: 0.88 }], reference)).toBe(0.1);
  });

  it("closes the sweep with the strong model alone: a sweep that never reaches the bar needs share 1", () => {
    expect(shareOfStrongCalls([{ strongShare: 0.3, accuracy: 0.7 }], reference)).toBeCloseTo(
      0.3 + ((0.855 - 0.7) / (0.9 - 0.7)) * 0.7,
      10,
    );
    expect(shareOfStrongCalls([], reference)).toBeCloseTo(1, 10);
  });

  it("does not smooth a dip: the first crossing counts, not a later better point", () => {
    const points = [
      { strongShare: 0.1, accuracy: 0.86 },
      { strongShare: 0.5, accuracy: 0.7 },
    ];
    expect(shareOfStrongCalls(points, reference)).toBe(0.1);
  });
});

describe("randomShareOfStrongCalls: closed form", () => {
  it("is (0.95·strong − weak) ÷ (strong − weak), clipped to [0, 1]", () => {
    expect(randomShareOfStrongCalls({ strongAccuracy: 0.9, weakAccuracy: 0.6 })).toBeCloseTo(0.85, 10);
    expect(randomShareOfStrongCalls({ strongAccuracy: 0.9, weakAccuracy: 0.88 })).toBe(0);
    expect(randomShareOfStrongCalls({ strongAccuracy: 0.5, weakAccuracy: 0.6, target: 1 })).toBe(0);
    expect(randomShareOfStrongCalls({ strongAccuracy: 0.8, weakAccuracy: 0.8, target: 1 })).toBe(0);
  });
});
