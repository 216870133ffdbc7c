import { describe, expect, it } from "vitest";
import { evaluateGates, valueAt } from "./gates.ts";

const passing = {
  seed50: { speedup: 250, persisted: 1 },
  nplus1: { page10: 3, page100: 3 },
  throughput: { ratioToCeiling: 0.6 },
  api: { asyncOverhead: 1.05 },
};
/** PostgreSQL also runs the jetstream case. */
const passingPg = {
  ...passing,
  jetstream: { persisted: 1, lagAfter: 0 },
  peers: { auditrail: { persisted: 1, loops10: { persisted: 1 } } },
};

describe("bench gates", () => {
  it("pass when every ratio is within its rule", () => {
    const outcomes = evaluateGates({ sqlite: passing, postgresql: passingPg });
    expect(outcomes).toHaveLength(5 + 9); // SQLite: the five common gates; PostgreSQL: those, jetstream's two and peers' two
    expect(outcomes.every((o) => o.passed)).toBe(true);
  });

  it.each([
    ["seed50.speedup", { ...passingPg, seed50: { speedup: 19.9, persisted: 1 } }],
    ["seed50.persisted", { ...passingPg, seed50: { speedup: 250, persisted: 0.98 } }],
    ["nplus1.page10", { ...passingPg, nplus1: { page10: 3, page100: 12 } }],
    ["throughput.ratioToCeiling", { ...passingPg, throughput: { ratioToCeiling: 0.19 } }],
    ["api.asyncOverhead", { ...passingPg, api: { asyncOverhead: 1.6 } }],
    ["jetstream.persisted", { ...passingPg, jetstream: { persisted: 0.999, lagAfter: 0 } }],
    ["jetstream.lagAfter", { ...passingPg, jetstream: { persisted: 1, lagAfter: 3 } }],
  ])("fail the run when %s breaks its rule", (key, results) => {
    const failed = evaluateGates({ postgresql: results }).filter((o) => !o.passed);
    expect(failed.map((o) => o.key)).toEqual([key]);
  });

  it("hold async to 1.5× an unaudited call on both databases", () => {
    const at = (provider: "sqlite" | "postgresql", asyncOverhead: number) =>
      evaluateGates({ [provider]: { ...(provider === "sqlite" ? passing : passingPg), api: { asyncOverhead } } })
        .filter((o) => !o.passed)
        .map((o) => o.key);
    expect(at("sqlite", 1.45)).toEqual([]);
    expect(at("sqlite", 1.6)).toEqual(["api.asyncOverhead"]);
    expect(at("postgresql", 1.45)).toEqual([]);
    expect(at("postgresql", 1.6)).toEqual(["api.asyncOverhead"]);
  });

  it("apply the peers gates to PostgreSQL only, and fail PostgreSQL when auditrail lost an entry there", () => {
    expect(evaluateGates({ sqlite: passing }).map((o) => o.key)).not.toContain("peers.auditrail.persisted");
    const lossy = { ...passingPg, peers: { auditrail: { persisted: 0.999, loops10: { persisted: 1 } } } };
    expect(
      evaluateGates({ postgresql: lossy })
        .filter((o) => !o.passed)
        .map((o) => o.key),
    ).toEqual(["peers.auditrail.persisted"]);
    const { peers: _peers, ...withoutPeers } = passingPg;
    expect(
      evaluateGates({ postgresql: withoutPeers })
        .filter((o) => !o.passed)
        .map((o) => o.key),
    ).toEqual(["peers.auditrail.persisted", "peers.auditrail.loops10.persisted"]);
  });

  it("fail a gate whose value is missing or not a number", () => {
    const { api: _api, ...withoutApi } = passing;
    const failed = evaluateGates({ sqlite: { ...withoutApi, throughput: { ratioToCeiling: Number.NaN } } }).filter((o) => !o.passed);
    expect(failed.map((o) => o.key).sort()).toEqual(["api.asyncOverhead", "throughput.ratioToCeiling"]);
  });

  it("check a one-provider gate (the PostgreSQL-only jetstream case) on that provider only", () => {
    expect(evaluateGates({ sqlite: passing }).map((o) => o.key)).not.toContain("jetstream.persisted");
    const { jetstream: _jetstream, ...withoutJetstream } = passingPg;
    expect(
      evaluateGates({ postgresql: withoutJetstream })
        .filter((o) => !o.passed)
        .map((o) => o.key),
    ).toEqual(["jetstream.persisted", "jetstream.lagAfter"]);
  });

  it("read dotted paths and nothing else", () => {
    expect(valueAt(passing, "seed50.speedup")).toBe(250);
    expect(valueAt(passing, "seed50.nope")).toBeUndefined();
    expect(valueAt(passing, "seed50")).toBeUndefined();
  });
});
