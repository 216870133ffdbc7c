/** What the pooled writer does when its bounded queue is full: block, drop or spill. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { createAuditWriter } from "../src/audit-writer.ts";
import type { AuditReceipt } from "../src/writer-contract.ts";
import { AuditEntryDroppedError } from "../src/errors.ts";
import { memorySinkSpec } from "../src/testing.ts";
import { Cleanup, auditEvent, counts, segmentFiles, sleep } from "./helpers.ts";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe("overflow: block", () => {
  it("keeps record() pending until room frees, and never queues more than maxQueueSize", async () => {
    const reports = cleanup.reports();
    const maxQueueSize = 4;
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: memorySinkSpec({ channel: reports.name, latencyMs: 40 }),
        spoolDir: await cleanup.tempDir(),
        overflow: "block",
        maxQueueSize,
        maxBatchSize: 2,
        maxWorkers: 1,
      }),
    );
    let maxQueued = 0;
    const sampler = setInterval(() => {
      maxQueued = Math.max(maxQueued, writer.stats().queued);
    }, 1);
    try {
      // Two in flight, two queued: the queue is full.
      const first = await Promise.all([1, 2, 3, 4].map((i) => writer.record(auditEvent(i))));
      expect(first.map((r) => r.state)).toEqual(["queued", "queued", "queued", "queued"]);
      await new Promise((resolve) => setImmediate(resolve)); // a full batch leaves on the next turn
      expect(writer.stats()).toMatchObject({ queued: 2, inFlight: 2 });

      let blockedReceipt: AuditReceipt | undefined;
      const blocked = writer.record(auditEvent(5)).then((r) => (blockedReceipt = r));
      await sleep(15);
      expect(blockedReceipt).toBeUndefined();
      expect(writer.stats().queued).toBe(3); // two in the queue, one caller waiting for room
      await blocked;
      expect(blockedReceipt?.state).toBe("queued");

      // A back-pressured producer: each call waits for room before the next.
      const ids = [...first, blockedReceipt as AuditReceipt].map((r) => r.id);
      for (let i = 6; i <= 16; i++) {
        const r = await writer.record(auditEvent(i));
        expect(r.state).toBe("queued");
        expect(writer.stats().queued).toBeLessThanOrEqual(maxQueueSize);
        ids.push(r.id);
      }
      await writer.flush();
      await vi.waitFor(() => expect(reports.writtenIds).toHaveLength(16));
      expect(counts(reports.writtenIds)).toEqual(new Map(ids.map((id) => [id, 1])));
      expect(writer.stats()).toMatchObject({ recorded: 16, written: 16, dropped: 0, spilled: 0, queued: 0 });
    } finally {
      clearInterval(sampler);
    }
    expect(maxQueued).toBeLessThanOrEqual(maxQueueSize);
  });
});

describe("overflow: drop", () => {
  it("counts every dropped entry exactly, reports each to onError, and writes the rest", async () => {
    const reports = cleanup.reports();
    const errors: Error[] = [];
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: memorySinkSpec({ channel: reports.name, latencyMs: 30 }),
        spoolDir: await cleanup.tempDir(),
        overflow: "drop",
        maxQueueSize: 5,
        maxBatchSize: 5,
        maxWorkers: 1,
        onError: (e) => errors.push(e),
      }),
    );
    const receipts = await Promise.all(Array.from({ length: 30 }, (_, i) => writer.record(auditEvent(i))));
    // a second wave while the first batch is still being written
    receipts.push(...(await Promise.all(Array.from({ length: 10 }, (_, i) => writer.record(auditEvent(100 + i))))));
    const dropped = receipts.filter((r) => r.state === "dropped");
    const kept = receipts.filter((r) => r.state === "queued");
    expect(dropped.length).toBeGreaterThan(0);
    expect(dropped.length + kept.length).toBe(40);
    expect(writer.stats().dropped).toBe(dropped.length);
    expect(errors).toHaveLength(dropped.length);
    expect(errors.every((e) => e instanceof AuditEntryDroppedError)).toBe(true);
    expect(errors.map((e) => (e as AuditEntryDroppedError).id)).toEqual(dropped.map((r) => r.id));
    expect(errors[0]?.message).toMatch(/queue is full \(5 entries\) and overflow is "drop"/);

    await writer.flush();
    await vi.waitFor(() => expect(reports.writtenIds).toHaveLength(kept.length));
    expect(new Set(reports.writtenIds)).toEqual(new Set(kept.map((r) => r.id)));
    expect(writer.stats()).toMatchObject({ recorded: 40, written: kept.length, dropped: dropped.length });
  });
});

describe("overflow: spill", () => {
  it("loses nothing: entries past the bound wait on disk and are replayed until all are written", async () => {
    const reports = cleanup.reports();
    const spoolDir = await cleanup.tempDir();
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: memorySinkSpec({ channel: reports.name, latencyMs: 5 }),
        spoolDir,
        overflow: "spill",
        maxQueueSize: 10,
        maxBatchSize: 5,
        maxWorkers: 2,
        segmentMaxEntries: 40,
      }),
    );
    const receipts = await Promise.all(Array.from({ length: 200 }, (_, i) => writer.record(auditEvent(i))));
    const spilled = receipts.filter((r) => r.state === "spilled");
    expect(spilled.length).toBeGreaterThan(0);
    expect(receipts.every((r) => r.state === "queued" || r.state === "spilled")).toBe(true);
    expect(writer.stats().spilled).toBe(spilled.length);

    await writer.flush();
    await vi.waitFor(() => expect(reports.writtenIds.length).toBeGreaterThanOrEqual(200));
    expect(counts(reports.writtenIds)).toEqual(new Map(receipts.map((r) => [r.id, 1])));
    const stats = writer.stats();
    expect(stats).toMatchObject({ recorded: 200, written: 200, spoolBacklog: 0, queued: 0, inFlight: 0 });
    expect(stats.replayed).toBe(stats.spilled);
    expect(await segmentFiles(spoolDir)).toEqual([]);
  });

  it("close() drains the spill backlog when the sink is healthy, and reports drained", async () => {
    const reports = cleanup.reports();
    const spoolDir = await cleanup.tempDir();
    const writer = await createAuditWriter({
      sink: memorySinkSpec({ channel: reports.name, latencyMs: 2 }),
      spoolDir,
      overflow: "spill",
      maxQueueSize: 10,
      maxBatchSize: 5,
      maxWorkers: 2,
      segmentMaxEntries: 20,
    });
    const receipts = await Promise.all(Array.from({ length: 150 }, (_, i) => writer.record(auditEvent(i))));
    expect(receipts.some((r) => r.state === "spilled")).toBe(true);
    const report = await writer.close({ deadlineMs: 5_000 });
    expect(report).toMatchObject({ drained: true, recorded: 150, written: 150, spoolBacklog: 0 });
    expect(report.replayed).toBe(report.spilled);
    await vi.waitFor(() => expect(new Set(reports.writtenIds).size).toBe(150));
    expect(await segmentFiles(spoolDir)).toEqual([]);
  });
});

describe("overflow: spill under a flood", () => {
  it("loses nothing when live records refill the queue while spooled entries are being read back", async () => {
    const reports = cleanup.reports();
    const spoolDir = await cleanup.tempDir();
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: memorySinkSpec({ channel: reports.name, latencyMs: 2 }),
        spoolDir,
        overflow: "spill",
        maxQueueSize: 1_000,
        maxBatchSize: 100,
        segmentMaxEntries: 500,
      }),
    );
    const ids: string[] = [];
    // 100 rounds of 200 concurrent records, one event-loop turn apart: replay reads interleave
    // with live records competing for the same room.
    for (let round = 0; round < 100; round++) {
      const receipts = await Promise.all(Array.from({ length: 200 }, (_, i) => writer.record(auditEvent(round * 200 + i))));
      ids.push(...receipts.map((r) => r.id));
      await sleep(0);
    }
    await writer.flush();
    const stats = writer.stats();
    expect(stats.spilled).toBeGreaterThan(0);
    expect(stats).toMatchObject({ recorded: 20_000, written: 20_000, replayed: stats.spilled, spoolBacklog: 0, queued: 0 });
    await vi.waitFor(() => expect(new Set(reports.writtenIds).size).toBe(20_000));
    const written = new Set(reports.writtenIds);
    expect(ids.filter((id) => !written.has(id))).toEqual([]);
    // Checkpoints enqueued after the first flush (they follow acknowledgements) are its successor's.
    await writer.flush();
    expect(await segmentFiles(spoolDir)).toEqual([]);
  }, 30_000);
});
