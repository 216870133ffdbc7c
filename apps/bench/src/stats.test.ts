import { describe, expect, it } from "vitest";
import { median, summarize } from "./stats.ts";

describe("stats", () => {
  it("median: the middle value, or the mean of the two middle ones; the input is not reordered", () => {
    const values = [3, 1, 2];
    expect(median(values)).toBe(2);
    expect(values).toEqual([3, 1, 2]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([1.63, 1.02, 1.05])).toBe(1.05); // one loaded round does not move the result
  });

  it("summarize: nearest-rank percentiles", () => {
    const s = summarize(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(s).toMatchObject({ n: 100, p50: 50, p95: 95, p99: 99, max: 100, mean: 50.5 });
  });
});
