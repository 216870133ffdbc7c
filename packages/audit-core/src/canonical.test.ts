import { describe, expect, it } from "vitest";
import { canonicalJson, canonicalJsonBySteps, canonicalString } from "./canonical.ts";

/** A double from its IEEE 754 bits, as RFC 8785 Appendix B lists them. */
const fromBits = (hex: string) => Buffer.from(hex, "hex").readDoubleBE(0);

describe("canonicalJson is RFC 8785 (JCS)", () => {
  it("gives the RFC's §3.2.2 example its canonical text (literals, numbers, string escapes)", () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    );
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it("sorts members by UTF-16 code units (§3.2.3), index-like names included", () => {
    const input = {
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis",
    };
    expect(canonicalJson(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it("serialises numbers as Appendix B does", () => {
    const vectors: [string, string][] = [
      ["0000000000000000", "0"],
      ["8000000000000000", "0"],
      ["0000000000000001", "5e-324"],
      ["8000000000000001", "-5e-324"],
      ["7fefffffffffffff", "1.7976931348623157e+308"],
      ["ffefffffffffffff", "-1.7976931348623157e+308"],
      ["4340000000000000", "9007199254740992"],
      ["c340000000000000", "-9007199254740992"],
      ["4430000000000000", "295147905179352830000"],
      ["44b52d02c7e14af5", "9.999999999999997e+22"],
      ["44b52d02c7e14af6", "1e+23"],
      ["44b52d02c7e14af7", "1.0000000000000001e+23"],
      ["444b1ae4d6e2ef4e", "999999999999999700000"],
      ["444b1ae4d6e2ef4f", "999999999999999900000"],
      ["444b1ae4d6e2ef50", "1e+21"],
      ["3eb0c6f7a0b5ed8c", "9.999999999999997e-7"],
      ["3eb0c6f7a0b5ed8d", "0.000001"],
      ["41b3de4355555553", "333333333.3333332"],
      ["41b3de4355555554", "333333333.33333325"],
      ["41b3de4355555555", "333333333.3333333"],
      ["41b3de4355555556", "333333333.3333334"],
      ["41b3de4355555557", "333333333.33333343"],
      ["becbf647612f3696", "-0.0000033333333333333333"],
      ["43143ff3c1cb0959", "1424953923781206.2"],
    ];
    for (const [bits, text] of vectors) {
      expect(canonicalJson(fromBits(bits))).toBe(text);
      expect(canonicalJson({ n: [fromBits(bits)] })).toBe(`{"n":[${text}]}`);
    }
  });

  it("writes what JCS refuses as it always did: non-finite numbers as null, undefined members left out", () => {
    expect(canonicalJson(fromBits("7ff0000000000000"))).toBe("null");
    expect(canonicalJson(Number.NaN)).toBe("null");
    expect(canonicalJson(undefined)).toBe("null");
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: null }], c: undefined } })).toBe('{"a":{"d":[2,{"e":null,"f":1}]},"b":1}');
    expect(canonicalJson([undefined, 1])).toBe("[null,1]");
    expect(canonicalJson({ at: new Date(0) })).toBe('{"at":{}}');
  });
});

describe("canonicalJson's shortcut", () => {
  /** A small deterministic generator (mulberry32), so a failure names the same value every run. */
  function random(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const KEYS = ["a", "b", "Z", "é", "10", "9", "0", "01", "-1", "\ud83d\ude00", "\ufb33", "", " ", "\u0000", "toJSON", "__proto__x"];
  const STRINGS = ["", "plain", 'quote " and \\', "line\nbreak\t", "\u0001\u001f", "\ud800 lone", "pair \ud83d\ude00", "\u2028", "é€"];
  const NUMBERS = [0, -0, 1, -1.5, 1e21, 1e-7, 3.2, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, Number.NaN, Number.POSITIVE_INFINITY];

  function value(next: () => number, depth: number): unknown {
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
    const kind = Math.floor(next() * (depth > 3 ? 5 : 8));
    if (kind === 0) return pick(STRINGS);
    if (kind === 1) return pick(NUMBERS);
    if (kind === 2) return pick([true, false, null]);
    if (kind === 3) return undefined;
    if (kind === 4) return pick(STRINGS);
    if (kind === 5) return Array.from({ length: Math.floor(next() * 4) }, () => value(next, depth + 1));
    const record: Record<string, unknown> = {};
    for (let i = Math.floor(next() * 5); i > 0; i--) record[pick(KEYS)] = value(next, depth + 1);
    return record;
  }

  it("gives the member-by-member text for 5,000 generated values", () => {
    const next = random(8785);
    for (let i = 0; i < 5_000; i++) {
      const v = value(next, 0);
      expect(canonicalJson(v)).toBe(canonicalJsonBySteps(v));
    }
  });

  it("leaves objects of other classes to the definition, toJSON or not", () => {
    const withToJson = { toJSON: () => "no", a: 1 };
    expect(canonicalJson(withToJson)).toBe(canonicalJsonBySteps(withToJson));
    expect(canonicalJson([new Date(0), new Map()])).toBe("[{},{}]");
  });

  it("quotes strings exactly as JSON.stringify does", () => {
    for (const s of [...STRINGS, ...KEYS]) expect(canonicalString(s)).toBe(JSON.stringify(s));
  });
});
