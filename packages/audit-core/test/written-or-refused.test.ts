/**
 * Every entry written or refused at record(): oversize refused up front, a worker-killing entry
 * dead-lettered while the rest flows, flush() with a watermark, one writer per spool directory,
 * a close that keeps its deadline whatever the sink does, and errors that never vanish.
 */
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createAuditWriter } from "../src/audit-writer.ts";
import { EntryTooLargeError, SpoolLockedError, WorkerDiedError } from "../src/errors.ts";
import { stampEvent } from "../src/event.ts";
import { memorySinkSpec } from "../src/testing.ts";
import { DEAD_LETTER_FILE } from "../src/writer/dead-letter.ts";
import { LOCK_FILE } from "../src/writer/lock.ts";
import { CLOSE_MARGIN_MS } from "../src/writer/shutdown.ts";
import { Cleanup, auditEvent, counts, segmentFiles, sleep } from "./helpers.ts";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const fastRetry = { initialDelayMs: 1, maxDelayMs: 10 };

describe("record() refuses what could never be stored", () => {
  it("rejects an entry over maxEntryBytes with EntryTooLargeError and counts nothing", async () => {
    const writer = cleanup.writer(
      await createAuditWriter({ sink: memorySinkSpec(), spoolDir: await cleanup.tempDir(), maxEntryBytes: 16_384 }),
    );
    const huge = Array.from({ length: 100_000 }, (_, i) => ({ i, name: `item ${i}` }));
    await expect(writer.record(auditEvent(1, { after: huge }))).rejects.toBeInstanceOf(EntryTooLargeError);
    expect(writer.stats()).toMatchObject({ recorded: 0, queued: 0, inFlight: 0 });
  });
});

describe("a worker that dies is a poison signal", () => {
  it("dead-letters the entry that kills workers, with the reason, writes every other entry, and flush() resolves", async () => {
    const reports = cleanup.reports();
    const errors: Error[] = [];
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: memorySinkSpec({ channel: reports.name, crashAction: "crash.me" }),
        spoolDir: await cleanup.tempDir(),
        maxWorkers: 2,
        maxBatchSize: 16,
        retry: fastRetry,
        onError: (e) => errors.push(e),
      }),
    );
    const receipts = await Promise.all(
      Array.from({ length: 40 }, (_, i) => writer.record(auditEvent(i, i === 17 ? { action: "crash.me" } : {}))),
    );
    await writer.flush();
    const killer = receipts[17]?.id as string;
    const innocent = receipts.filter((r) => r.id !== killer).map((r) => r.id);
    await vi.waitFor(() => expect(reports.deadLetters.map((l) => l.entry.id)).toEqual([killer]));
    expect(reports.deadLetters[0]?.error).toMatch(/worker .* died: .*worker crashed on an entry with action crash\.me/);
    expect(new Set(reports.writtenIds)).toEqual(new Set(innocent));
    expect(counts(reports.writtenIds).get(killer)).toBeUndefined();
    expect(writer.stats()).toMatchObject({ recorded: 40, written: 39, deadLettered: 1, queued: 0, inFlight: 0 });
    expect(errors.some((e) => e instanceof WorkerDiedError)).toBe(true);
    expect(writer.stats().errors).toBe(errors.length);
  });
});

describe("flush() has a watermark", () => {
  it("resolves under sustained traffic once every entry recorded before the call is written", async () => {
    const reports = cleanup.reports();
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: memorySinkSpec({ channel: reports.name, latencyMs: 2 }),
        spoolDir: await cleanup.tempDir(),
        maxBatchSize: 50,
      }),
    );
    let running = true;
    const before: string[] = [];
    const traffic = (async () => {
      for (let i = 0; running; i++) {
        await writer.record(auditEvent(i));
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await sleep(50);
    // Everything recorded up to here belongs to the flush; the traffic goes on regardless.
    for (let i = 0; i < 100; i++) before.push((await writer.record(auditEvent(10_000 + i))).id);
    const recordedBefore = writer.stats().recorded;
    await writer.flush();
    const stats = writer.stats();
    running = false;
    await traffic;
    expect(stats.queued + stats.inFlight).toBeGreaterThan(0); // not idle: traffic kept coming
    expect(stats.recorded).toBeGreaterThan(recordedBefore);
    expect(stats.written).toBeGreaterThanOrEqual(recordedBefore);
    await vi.waitFor(() => expect(before.filter((id) => !new Set(reports.writtenIds).has(id))).toEqual([]));
  });
});

describe("one writer per spool directory", () => {
  it("refuses a second live writer with SpoolLockedError naming the owner, and lets one in after close", async () => {
    const spoolDir = await cleanup.tempDir();
    const first = await createAuditWriter({ sink: memorySinkSpec(), spoolDir });
    const error = await createAuditWriter({ sink: memorySinkSpec(), spoolDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpoolLockedError);
    expect((error as SpoolLockedError).message).toContain(`in use by process ${process.pid}`);
    expect(JSON.parse(await readFile(join(spoolDir, LOCK_FILE), "utf8"))).toMatchObject({ pid: process.pid });
    await first.close();
    const second = cleanup.writer(await createAuditWriter({ sink: memorySinkSpec(), spoolDir }));
    expect(second.mode).toBe("async");
  });

  it("takes over the lock of a dead owner and replays the spool it left", async () => {
    const spoolDir = await cleanup.tempDir();
    const child = spawn(process.execPath, ["-e", ""]);
    const pid = child.pid as number;
    await new Promise((resolve) => child.on("exit", resolve));
    await writeFile(join(spoolDir, LOCK_FILE), JSON.stringify({ pid, start: "1" }));
    const left = [stampEvent(auditEvent(1), undefined), stampEvent(auditEvent(2), undefined)];
    await writeFile(join(spoolDir, "segment-0000000000000001.ndjson"), left.map((e) => `${JSON.stringify(e)}\n`).join(""));

    const reports = cleanup.reports();
    const writer = cleanup.writer(await createAuditWriter({ sink: memorySinkSpec({ channel: reports.name }), spoolDir }));
    await writer.flush();
    expect(new Set(reports.writtenIds)).toEqual(new Set(left.map((e) => e.id)));
    expect(JSON.parse(await readFile(join(spoolDir, LOCK_FILE), "utf8"))).toMatchObject({ pid: process.pid });
    expect(await segmentFiles(spoolDir)).toEqual([]);
  });
});

describe("close() keeps its deadline", () => {
  it(`returns within the deadline plus CLOSE_MARGIN_MS (${CLOSE_MARGIN_MS} ms) while the sink blocks its thread and ignores stop requests`, async () => {
    const spoolDir = await cleanup.tempDir();
    const writer = await createAuditWriter({
      sink: memorySinkSpec({ blockFirst: 1_000, blockMs: 60_000 }),
      spoolDir,
      maxWorkers: 1,
      maxBatchSize: 5,
      retry: { writeTimeoutMs: 30_000 },
    });
    const ids = (await Promise.all(Array.from({ length: 20 }, (_, i) => writer.record(auditEvent(i))))).map((r) => r.id);
    await sleep(100); // a batch is in the worker, blocking it
    const started = performance.now();
    const report = await writer.close({ deadlineMs: 150 });
    const elapsed = performance.now() - started;
    // Without the bound it waited writeTimeoutMs (30 s here) or the 60 s block. The margin below
    // is wide on purpose (a loaded 2-core machine), yet far below either.
    expect(elapsed).toBeLessThan(150 + CLOSE_MARGIN_MS + 4_000);
    expect(report).toMatchObject({ drained: false, recorded: 20, written: 0, spilled: 20 });

    const reports = cleanup.reports();
    const next = cleanup.writer(await createAuditWriter({ sink: memorySinkSpec({ channel: reports.name }), spoolDir }));
    await next.flush();
    expect(new Set(reports.writtenIds)).toEqual(new Set(ids));
  });
});

describe("errors never vanish", () => {
  it("without onError, reports to process.emitWarning at most once per code per interval, and counts every one", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const spoolDir = await cleanup.tempDir();
      const writer = cleanup.writer(
        await createAuditWriter({
          sink: memorySinkSpec({ crashAction: "crash.me" }),
          spoolDir,
          maxBatchSize: 1,
          maxWorkers: 1,
          retry: fastRetry,
        }),
      );
      await writer.record(auditEvent(1, { action: "crash.me" }));
      await writer.record(auditEvent(2, { action: "crash.me" }));
      await writer.flush();
      expect(writer.stats()).toMatchObject({ deadLettered: 2 });
      expect(writer.stats().errors).toBeGreaterThanOrEqual(4); // two deaths per entry: retried, then dead-lettered
      await vi.waitFor(() => expect(warnings.length).toBeGreaterThan(0));
      const died = warnings.filter((w) => (w as Error & { code?: string }).code === "ERR_AUDIT_WORKER_DIED");
      expect(died).toHaveLength(1);
      expect(died[0]?.name).toBe("AuditrailWarning");
      expect(died[0]?.message).toMatch(/^auditrail writer: The audit worker writing this entry died/);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("a dead letter no store would take lands in the fallback file and is counted, not lost", async () => {
    const spoolDir = await cleanup.tempDir();
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: memorySinkSpec({ poisonAction: "bad", rejectDeadLetters: true }),
        spoolDir,
        onError: () => undefined,
      }),
    );
    const receipt = await writer.record(auditEvent(1, { action: "bad" }));
    await writer.flush();
    expect(await readFile(join(spoolDir, DEAD_LETTER_FILE), "utf8")).toContain(receipt.id);
    expect(writer.stats()).toMatchObject({ deadLettered: 1 });
  });
});
