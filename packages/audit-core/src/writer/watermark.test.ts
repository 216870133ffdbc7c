import { describe, expect, it } from "vitest";
import { Watermark } from "./watermark.ts";

const settledYet = async (p: Promise<void>) =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setImmediate(() => r(false)))]);

describe("Watermark", () => {
  it("resolves a flush once its epoch and every earlier one are settled, whatever comes after", async () => {
    const w = new Watermark();
    w.add(w.current, 2);
    const first = w.mark();
    w.add(w.current, 1); // recorded after the flush: not waited for
    expect(await settledYet(first)).toBe(false);
    w.settle(1);
    expect(await settledYet(first)).toBe(false);
    w.settle(1);
    expect(await settledYet(first)).toBe(true);
    expect(w.waiting).toBe(false);
  });

  it("waits for entries left by an earlier process (epoch 0) too", async () => {
    const w = new Watermark();
    w.add(0);
    const flush = w.mark();
    expect(await settledYet(flush)).toBe(false);
    w.settle(0);
    expect(await settledYet(flush)).toBe(true);
  });

  it("resolves at once when nothing is outstanding, and releases every waiter at close", async () => {
    const w = new Watermark();
    expect(await settledYet(w.mark())).toBe(true);
    w.add(w.current);
    const pending = w.mark();
    w.releaseAll();
    expect(await settledYet(pending)).toBe(true);
  });
});
