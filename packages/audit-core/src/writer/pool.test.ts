import { randomUUID } from "node:crypto";
import { BroadcastChannel } from "node:worker_threads";
import { describe, expect, it, vi } from "vitest";
import { WorkerEntryMissingError } from "../errors.ts";
import { stampEvent } from "../event.ts";
import { memorySinkSpec, type SinkReport } from "../testing.ts";
import { WorkerPool } from "./pool.ts";
import type { RetryPolicy } from "./retry.ts";

const fs = vi.hoisted(() => ({ missing: false }));
vi.mock("node:fs", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs")>();
  return { ...actual, existsSync: (path: string) => !fs.missing && actual.existsSync(path) };
});

const policy: RetryPolicy = {
  initialDelayMs: 1,
  maxDelayMs: 2,
  multiplier: 2,
  maxAttempts: Number.POSITIVE_INFINITY,
  unknownErrorAttempts: 2,
  writeTimeoutMs: 1_000,
};

describe("WorkerPool", () => {
  it("writes a batch in a worker thread and returns its result", async () => {
    const name = `pool-test-${randomUUID()}`;
    const ids: string[] = [];
    const channel = new BroadcastChannel(name);
    channel.onmessage = (m) => {
      const report = (m as { data: SinkReport }).data;
      if (report.type === "attempt" && report.ok) ids.push(...report.ids);
    };
    const pool = new WorkerPool(memorySinkSpec({ channel: name }), policy, 1);
    try {
      const entries = [1, 2, 3].map((i) => stampEvent({ action: "a.b", entity: "E", entityId: String(i) }, undefined));
      const result = await pool.run({ entries, mayExist: false }, new AbortController().signal);
      expect(result).toMatchObject({ written: 3, retries: 0, deadLettered: 0, unstored: [], stream: { from: 0, size: 3 } });
      await vi.waitFor(() => expect(ids).toEqual(entries.map((e) => e.id)));
    } finally {
      await pool.destroy();
      channel.close();
    }
  });

  it("refuses to start when the built worker entry is missing", () => {
    fs.missing = true;
    try {
      expect(() => new WorkerPool(memorySinkSpec(), policy, 1)).toThrow(WorkerEntryMissingError);
      expect(() => new WorkerPool(memorySinkSpec(), policy, 1)).toThrow(/dist\/writer\/worker\.js does not exist: build/);
    } finally {
      fs.missing = false;
    }
  });
});
