import type { CurveSpec } from "./cases/throughput.ts";

/** How much work each case does. `quick` is CI's (the whole run well under 3 minutes); `full` is the default. */
export interface Profile {
  readonly name: "quick" | "full";
  /** Entries timed one by one in the enqueue case. */
  readonly enqueue: number;
  /** Entries the writer writes in the throughput case, and rows the ceiling writes. */
  readonly throughput: number;
  /** The writer's throughput at other worker counts and batch sizes (none in quick). */
  readonly curve: CurveSpec;
  /** Rows written one statement each (the single-row baseline). */
  readonly singleRow: number;
  /** Entries recorded in the memory case. */
  readonly memory: number;
  /** Requests per audit mode in the api case. */
  readonly apiRequests: number;
  /** Rows in the bulk case. */
  readonly bulk: number;
  /** Rows in the sealed trail the verify case walks. */
  readonly verify: number;
  /** Entries per run (1, then 2 ingest processes) in the jetstream case (PostgreSQL). */
  readonly jetstream: number;
  /** Entries each contender of the peers case (PostgreSQL) hands over, per run. */
  readonly peers: number;
}

export const PROFILES: Record<Profile["name"], Profile> = {
  quick: {
    name: "quick",
    enqueue: 100_000,
    throughput: 20_000,
    curve: { entries: 0, maxWorkers: [], maxBatchSize: [] },
    singleRow: 1_000,
    memory: 200_000,
    apiRequests: 500,
    bulk: 1_000,
    peers: 1_000,
    verify: 200_000,
    jetstream: 20_000,
  },
  full: {
    name: "full",
    enqueue: 100_000,
    throughput: 100_000,
    curve: { entries: 50_000, maxWorkers: [1, 2], maxBatchSize: [500, 2_000, 5_000] },
    singleRow: 5_000,
    memory: 1_000_000,
    apiRequests: 2_000,
    bulk: 1_000,
    peers: 10_000,
    verify: 1_000_000,
    jetstream: 100_000,
  },
};
