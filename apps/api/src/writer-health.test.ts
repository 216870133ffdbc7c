import { describe, expect, it } from "vitest";
import { RateMeter } from "./writer-health.ts";

describe("RateMeter", () => {
  it("has no rate until two samples are minSpanMs apart, then the growth per second over the window", () => {
    let now = 0;
    const meter = new RateMeter({ windowMs: 10_000, minSpanMs: 500, now: () => now });
    expect(meter.sample(100)).toBeNull();
    now = 200;
    expect(meter.sample(150)).toBeNull();
    now = 1_000;
    expect(meter.sample(300)).toBe(200);
    now = 3_000;
    expect(meter.sample(700)).toBe(200);
  });

  it("forgets samples older than the window, so the rate follows the recent load", () => {
    let now = 0;
    const meter = new RateMeter({ windowMs: 5_000, minSpanMs: 500, now: () => now });
    meter.sample(0);
    now = 1_000;
    meter.sample(10_000); // a burst early on
    now = 7_000;
    meter.sample(10_000);
    now = 12_000;
    // The base is the newest sample older than the window (t = 7 s): nothing written since.
    expect(meter.sample(10_000)).toBe(0);
  });
});
