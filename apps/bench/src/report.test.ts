import { describe, expect, it } from "vitest";
import type { PeerResult, PeerRun } from "./cases/peers.ts";
import { peersTable } from "./report.ts";

const run = (rowsPerSec: number, consumer: boolean): PeerRun => ({
  entries: 1_000,
  loops: 1,
  producerP50Us: 2,
  producerP99Us: 40,
  loopDelayP99Ms: 12,
  rowsPerSec,
  persisted: 1,
  rssMb: 120,
  cpuS: 1.5,
  spilled: 0,
  ...(consumer ? { consumerRssMb: 90, consumerCpuS: 2 } : {}),
});
const peer = (rowsPerSec: number, consumer: boolean): PeerResult => ({
  ...run(rowsPerSec, consumer),
  loops10: { ...run(rowsPerSec * 2, consumer), loops: 10 },
});

describe("the peers table", () => {
  it("lists every contender once, fastest end-to-end first, with — where a contender has no consumer", () => {
    const lines = peersTable({ slow: peer(500, true), fast: peer(9_000, false) });
    expect(lines[0]).toContain("1000 entries each");
    const body = lines.slice(4);
    expect(body.map((l) => l.split(" | ")[0])).toEqual(["| fast", "| slow"]);
    expect(body[0]?.split(" | ")[7]).toBe("—");
    expect(body[1]?.split(" | ")[7]).toBe("90");
    expect(body[0]?.endsWith("| 18000 |")).toBe(true);
  });
});
