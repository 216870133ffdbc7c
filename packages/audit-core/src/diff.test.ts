import { describe, expect, it } from "vitest";
import { diffJson, equalJson, toJson } from "./diff.ts";

describe("toJson", () => {
  it("turns values into the JSON they would be stored as", () => {
    const when = new Date("2026-01-02T03:04:05.678Z");
    expect(
      toJson({
        when,
        big: 12n,
        nan: Number.NaN,
        inf: Number.POSITIVE_INFINITY,
        gone: undefined,
        fn: () => 1,
        sym: Symbol("s"),
        list: [1, undefined, () => 2],
        set: new Set(["a", "b"]),
        map: new Map([["k", 1]]),
        decimal: { toJSON: () => "12.50" },
        bad: new Date(Number.NaN),
      }),
    ).toEqual({
      when: "2026-01-02T03:04:05.678Z",
      big: "12",
      nan: null,
      inf: null,
      list: [1, null, null],
      set: ["a", "b"],
      map: { k: 1 },
      decimal: "12.50",
      bad: null,
    });
  });

  it("keeps undefined as undefined and marks cycles instead of recursing forever", () => {
    expect(toJson(undefined)).toBeUndefined();
    const loop: Record<string, unknown> = { name: "a" };
    loop.self = loop;
    expect(toJson(loop)).toEqual({ name: "a", self: "[Circular]" });
    const shared = { x: 1 };
    expect(toJson({ a: shared, b: shared })).toEqual({ a: { x: 1 }, b: { x: 1 } });
  });
});

describe("diffJson", () => {
  it("lists the changed leaves with dotted paths, and nothing for equal values", () => {
    const before = { name: "Ann", address: { city: "Oslo", zip: "0150" }, tags: ["a"] };
    const after = { name: "Ann", address: { city: "Bergen", zip: "0150" }, tags: ["a"] };
    expect(diffJson(before, after)).toEqual([{ path: "address.city", from: "Oslo", to: "Bergen" }]);
    expect(diffJson(before, structuredClone(before))).toEqual([]);
  });

  it("reports added and removed fields without the missing side", () => {
    expect(diffJson({ a: 1, b: 2 }, { a: 1, c: 3 })).toEqual([
      { path: "b", from: 2 },
      { path: "c", to: 3 },
    ]);
  });

  it("compares arrays as whole values", () => {
    expect(diffJson({ teeth: [1, 2] }, { teeth: [2, 1] })).toEqual([{ path: "teeth", from: [1, 2], to: [2, 1] }]);
  });

  it("lists every field of a record that appears (create) or disappears, from undefined or null", () => {
    expect(diffJson(undefined, { id: "p1", name: "Ann" })).toEqual([
      { path: "id", to: "p1" },
      { path: "name", to: "Ann" },
    ]);
    expect(diffJson(null, { id: "p1" })).toEqual([{ path: "id", to: "p1" }]);
    expect(diffJson({ id: "p1" }, undefined)).toEqual([{ path: "id", from: "p1" }]);
  });

  it("records a change of type as one change, and a scalar change at the root with an empty path", () => {
    expect(diffJson({ a: { b: 1 } }, { a: "flat" })).toEqual([{ path: "a", from: { b: 1 }, to: "flat" }]);
    expect(diffJson(1, 2)).toEqual([{ path: "", from: 1, to: 2 }]);
    expect(diffJson(undefined, undefined)).toEqual([]);
  });
});

describe("equalJson", () => {
  it("ignores key order and compares deeply", () => {
    expect(equalJson({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(equalJson({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(equalJson([1, 2], [1, 2, 3])).toBe(false);
    expect(equalJson({ a: null }, { b: null })).toBe(false);
    expect(equalJson("1", 1)).toBe(false);
  });
});
