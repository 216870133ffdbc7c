/** close(): drain until the deadline, spill the rest, and the next writer replays it. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { createAuditWriter } from "../src/audit-writer.ts";
import type { AuditReceipt } from "../src/writer-contract.ts";
import { SpillFailedError, WriterClosedError } from "../src/errors.ts";
import { memorySinkSpec } from "../src/testing.ts";
import { CLOSE_MARGIN_MS } from "../src/writer/shutdown.ts";
import { spoolFs } from "../src/writer/spool.ts";
import { Cleanup, auditEvent, counts, segmentFiles } from "./helpers.ts";

const cleanup = new Cleanup();
afterEach(async () => {
  vi.restoreAllMocks();
  await cleanup.run();
});

const unreachable = memorySinkSpec({ failFirst: 1_000_000_000 });
const fastRetry = { initialDelayMs: 1, maxDelayMs: 10 };

describe("close", () => {
  it("with the database unreachable spills everything by the deadline; a new writer replays it all and deletes the segments", async () => {
    const spoolDir = await cleanup.tempDir();
    const writer = await createAuditWriter({
      sink: unreachable,
      spoolDir,
      maxWorkers: 2,
      maxBatchSize: 20,
      segmentMaxEntries: 50,
      retry: fastRetry,
    });
    const ids = (await Promise.all(Array.from({ length: 120 }, (_, i) => writer.record(auditEvent(i))))).map((r) => r.id);

    const started = performance.now();
    const report = await writer.close({ deadlineMs: 150 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    // Within the deadline plus the documented margin; the extra 3 s is slack for a loaded 2-core
    // machine, still far below the writeTimeoutMs (10 s) it used to wait for workers.
    expect(performance.now() - started).toBeLessThan(150 + CLOSE_MARGIN_MS + 3_000);
    expect(report).toMatchObject({ drained: false, recorded: 120, written: 0, spilled: 120, queued: 0, dropped: 0 });
    expect((await segmentFiles(spoolDir)).length).toBeGreaterThan(0);
    await expect(writer.record(auditEvent(999))).rejects.toBeInstanceOf(WriterClosedError);

    const reports = cleanup.reports();
    const next = cleanup.writer(await createAuditWriter({ sink: memorySinkSpec({ channel: reports.name }), spoolDir }));
    await next.flush();
    await vi.waitFor(() => expect(reports.writtenIds.length).toBeGreaterThanOrEqual(120));
    expect(counts(reports.writtenIds)).toEqual(new Map(ids.map((id) => [id, 1])));
    expect(next.stats()).toMatchObject({ recorded: 0, replayed: 120, written: 120, spoolBacklog: 0 });
    expect(await segmentFiles(spoolDir)).toEqual([]);
  });

  it("drains everything before the deadline when the database is healthy", async () => {
    const reports = cleanup.reports();
    const spoolDir = await cleanup.tempDir();
    const writer = await createAuditWriter({ sink: memorySinkSpec({ channel: reports.name }), spoolDir });
    const ids = (await Promise.all(Array.from({ length: 50 }, (_, i) => writer.record(auditEvent(i))))).map((r) => r.id);
    const report = await writer.close();
    expect(report).toMatchObject({ drained: true, recorded: 50, written: 50, spilled: 0 });
    await vi.waitFor(() => expect(new Set(reports.writtenIds)).toEqual(new Set(ids)));
    expect(await segmentFiles(spoolDir)).toEqual([]);
  });

  it("is idempotent: a second close returns the same report", async () => {
    const writer = await createAuditWriter({ sink: memorySinkSpec(), spoolDir: await cleanup.tempDir() });
    const first = writer.close({ deadlineMs: 100 });
    const second = writer.close({ deadlineMs: 5 });
    expect(second).toBe(first);
    expect((await first).drained).toBe(true);
  });

  it("spills callers blocked for room at the deadline and resolves them as spilled", async () => {
    const spoolDir = await cleanup.tempDir();
    const writer = await createAuditWriter({
      sink: unreachable,
      spoolDir,
      overflow: "block",
      maxQueueSize: 2,
      maxBatchSize: 1,
      maxWorkers: 1,
      retry: fastRetry,
    });
    const pending = Array.from({ length: 5 }, (_, i) => writer.record(auditEvent(i)));
    const report = await writer.close({ deadlineMs: 80 });
    const receipts: AuditReceipt[] = await Promise.all(pending);
    expect(receipts.map((r) => r.state)).toEqual(["queued", "queued", "spilled", "spilled", "spilled"]);
    expect(report).toMatchObject({ drained: false, spilled: 5, written: 0 });

    const reports = cleanup.reports();
    const next = cleanup.writer(await createAuditWriter({ sink: memorySinkSpec({ channel: reports.name }), spoolDir }));
    await next.flush();
    await vi.waitFor(() => expect(new Set(reports.writtenIds)).toEqual(new Set(receipts.map((r) => r.id))));
  });

  it("rejects callers blocked for room with SpillFailedError when the spill at the deadline fails (disk full)", async () => {
    const writer = await createAuditWriter({
      sink: unreachable,
      spoolDir: await cleanup.tempDir(),
      overflow: "block",
      maxQueueSize: 2,
      maxBatchSize: 1,
      maxWorkers: 1,
      retry: fastRetry,
    });
    const pending = Array.from({ length: 5 }, (_, i) => writer.record(auditEvent(i)));
    const queued = await Promise.all(pending.slice(0, 2)); // on disk already (appended before queued)
    const outcomes: unknown[] = [];
    for (const receipt of pending.slice(2)) {
      receipt.then(
        () => outcomes.push("resolved"),
        (error: unknown) => outcomes.push(error),
      );
    }
    vi.spyOn(spoolFs, "writeSync").mockImplementation(() => {
      throw Object.assign(new Error("ENOSPC: injected"), { code: "ENOSPC" });
    });
    await expect(writer.close({ deadlineMs: 80 })).rejects.toMatchObject({ code: "ENOSPC" });
    await new Promise((resolve) => setImmediate(resolve));
    expect(outcomes).toHaveLength(3); // none is left waiting
    for (const outcome of outcomes) {
      expect(outcome).toBeInstanceOf(SpillFailedError);
      expect(outcome).toMatchObject({ code: "ERR_AUDIT_SPILL_FAILED", cause: { code: "ENOSPC" } });
    }
    expect(queued.map((r) => r.state)).toEqual(["queued", "queued"]);
    expect(writer.stats()).toMatchObject({ recorded: 2, spilled: 0 }); // the refused three were never accepted
  });

  it("uses closeDeadlineMs when no deadline is given", async () => {
    const writer = await createAuditWriter({ sink: unreachable, spoolDir: await cleanup.tempDir(), closeDeadlineMs: 50, retry: fastRetry });
    await writer.record(auditEvent(1));
    const started = performance.now();
    const report = await writer.close();
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    expect(report).toMatchObject({ drained: false, spilled: 1 });
  });
});
