import { describe, expect, it } from "vitest";
import { uuidv7 } from "./id.ts";

describe("uuidv7", () => {
  it("is a canonical UUID with version nibble 7 and the RFC 9562 variant bits", () => {
    for (let i = 0; i < 200; i++) {
      const id = uuidv7();
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
  });

  it("carries the Unix milliseconds in its first 48 bits", () => {
    const now = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
    const id = uuidv7(now);
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(now);
    expect(uuidv7(0).startsWith("00000000-0000-7")).toBe(true);
  });

  it("sorts by time: an id made later has a greater prefix", () => {
    const ids = [1_000, 2_000, 1_700_000_000_000, 1_700_000_000_001].map((t) => uuidv7(t));
    expect([...ids].sort()).toEqual(ids);
    const a = uuidv7(1_700_000_000_000);
    const b = uuidv7(1_700_000_000_000);
    expect(a.slice(0, 13)).toBe(b.slice(0, 13));
    expect(a).not.toBe(b);
  });

  it("is unique across many calls in the same millisecond", () => {
    const ids = Array.from({ length: 10_000 }, () => uuidv7(42));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("stays well-formed and unique across many random pools, filled within one turn or between turns", async () => {
    const ids: string[] = [];
    for (let turn = 0; turn < 4; turn++) {
      // 2,500 ids in one turn use up more than two pools: the spare cannot be ready for all of them.
      for (let i = 0; i < 2_500; i++) ids.push(uuidv7(7));
      // Between turns the spare pool can be filled in the background.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    for (const id of ids) expect(id).toMatch(/^00000000-0007-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // Every variant digit turns up: its two random bits are used.
    expect(new Set(ids.map((id) => id[19]))).toEqual(new Set(["8", "9", "a", "b"]));
  });
});
