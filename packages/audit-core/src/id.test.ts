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
});
