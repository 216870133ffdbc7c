/** The async writer end to end: real worker threads writing to MemorySinks that report on a channel. */
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createAuditWriter } from "../src/audit-writer.ts";
import { memorySinkSpec } from "../src/testing.ts";
import { readDeadLetterFile } from "../src/writer/dead-letter.ts";
import { backoffDelay } from "../src/writer/retry.ts";
import { Cleanup, auditEvent, counts } from "./helpers.ts";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe("async writer", () => {
  it("writes 1,000 entries from 20 concurrent callers exactly once; flush completes within 2 s", async () => {
    const reports = cleanup.reports();
    const writer = cleanup.writer(
      await createAuditWriter({ sink: memorySinkSpec({ channel: reports.name }), spoolDir: await cleanup.tempDir() }),
    );
    expect(writer.mode).toBe("async");
    const receipts = (
      await Promise.all(
        Array.from({ length: 20 }, async (_, caller) => {
          const mine = [];
          for (let i = 0; i < 50; i++) mine.push(await writer.record(auditEvent(caller * 50 + i)));
          return mine;
        }),
      )
    ).flat();
    expect(receipts.every((r) => r.state === "queued")).toBe(true);
    const ids = receipts.map((r) => r.id);
    expect(new Set(ids).size).toBe(1_000);

    const started = performance.now();
    await writer.flush();
    // In-memory sink: a flush that waited on a timer or a retry would take far longer; the wide
    // bound holds on a loaded 2-core machine.
    expect(performance.now() - started).toBeLessThan(10_000);

    await vi.waitFor(() => expect(reports.writtenIds.length).toBeGreaterThanOrEqual(1_000), { timeout: 2_000 });
    expect(reports.writtenIds).toHaveLength(1_000);
    expect(new Set(reports.writtenIds)).toEqual(new Set(ids));
    expect(writer.stats()).toMatchObject({ recorded: 1_000, written: 1_000, queued: 0, inFlight: 0, retried: 0, dropped: 0 });
    expect(writer.stats().writeMs.max).toBeGreaterThan(0);
  });

  it("flush resolves at once when nothing is pending", async () => {
    const writer = cleanup.writer(await createAuditWriter({ sink: memorySinkSpec(), spoolDir: await cleanup.tempDir() }));
    await writer.flush();
    expect(writer.stats().recorded).toBe(0);
  });

  it("sends a partial batch once it has waited maxBatchWaitMs, without a flush", async () => {
    const reports = cleanup.reports();
    const writer = cleanup.writer(
      await createAuditWriter({ sink: memorySinkSpec({ channel: reports.name }), spoolDir: await cleanup.tempDir(), maxBatchWaitMs: 5 }),
    );
    const { id } = await writer.record(auditEvent(1));
    await vi.waitFor(() => expect(reports.writtenIds).toEqual([id]), { timeout: 2_000 });
  });

  it("retries a refused connection with backoff within growing ceilings, then writes every entry once", async () => {
    const reports = cleanup.reports();
    const retry = { initialDelayMs: 20, multiplier: 2, maxDelayMs: 1_000 };
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: memorySinkSpec({ channel: reports.name, failFirst: 4 }),
        spoolDir: await cleanup.tempDir(),
        maxWorkers: 1,
        maxBatchSize: 100,
        retry,
      }),
    );
    const ids = (await Promise.all(Array.from({ length: 10 }, (_, i) => writer.record(auditEvent(i))))).map((r) => r.id);
    await writer.flush();
    await vi.waitFor(() => expect(reports.writtenIds).toHaveLength(10));

    const attempts = reports.attempts;
    expect(attempts.map((a) => a.ok)).toEqual([false, false, false, false, true]);
    expect(attempts.every((a) => a.ids.length === 10)).toBe(true);
    expect(reports.failedAttempts.every((a) => a.error === "ECONNREFUSED")).toBe(true);
    // Each wait is a full-jitter draw under a ceiling that doubles: 20, 40, 80, 160 ms.
    const ceilings = [1, 2, 3, 4].map((attempt) =>
      backoffDelay(attempt, { ...retry, maxAttempts: 1, unknownErrorAttempts: 1, writeTimeoutMs: 1 }, () => 1),
    );
    expect(ceilings).toEqual([20, 40, 80, 160]);
    const gaps = attempts.slice(1).map((a, i) => a.at - (attempts[i]?.at ?? 0));
    for (const [i, gap] of gaps.entries()) expect(gap).toBeLessThanOrEqual((ceilings[i] ?? 0) + 150);
    expect(counts(reports.writtenIds)).toEqual(new Map(ids.map((id) => [id, 1])));
    expect(writer.stats()).toMatchObject({ written: 10, retried: 4 });
  });

  it("times out a hung write after writeTimeoutMs and retries it", async () => {
    const reports = cleanup.reports();
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: memorySinkSpec({ channel: reports.name, hangFirst: 1 }),
        spoolDir: await cleanup.tempDir(),
        maxWorkers: 1,
        retry: { writeTimeoutMs: 60, initialDelayMs: 1, maxDelayMs: 5 },
      }),
    );
    const ids = (await Promise.all([1, 2, 3].map((i) => writer.record(auditEvent(i))))).map((r) => r.id);
    const started = performance.now();
    await writer.flush();
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    await vi.waitFor(() => expect(reports.writtenIds).toHaveLength(3));
    expect(new Set(reports.writtenIds)).toEqual(new Set(ids));
    expect(writer.stats()).toMatchObject({ written: 3, retried: 1 });
  });

  it("dead-letters poison entries mixed into a batch with their error, and writes every other entry exactly once", async () => {
    const reports = cleanup.reports();
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: memorySinkSpec({ channel: reports.name, poisonAction: "patient.poison" }),
        spoolDir: await cleanup.tempDir(),
        maxWorkers: 1,
        maxBatchSize: 50,
      }),
    );
    const receipts = await Promise.all(
      Array.from({ length: 50 }, (_, i) => writer.record(auditEvent(i, i % 10 === 3 ? { action: "patient.poison" } : {}))),
    );
    const poison = receipts.filter((_, i) => i % 10 === 3).map((r) => r.id);
    const good = receipts.filter((_, i) => i % 10 !== 3).map((r) => r.id);
    await writer.flush();
    await vi.waitFor(() => expect(reports.deadLetters).toHaveLength(5));
    await vi.waitFor(() => expect(reports.writtenIds).toHaveLength(45));

    expect(new Set(reports.deadLetters.map((l) => l.entry.id))).toEqual(new Set(poison));
    for (const letter of reports.deadLetters) {
      expect(letter.error).toBe(`check constraint violated by entry ${letter.entry.id}`);
      expect(letter.entry.action).toBe("patient.poison");
    }
    expect(counts(reports.writtenIds)).toEqual(new Map(good.map((id) => [id, 1])));
    expect(writer.stats()).toMatchObject({ written: 45, deadLettered: 5 });
  });

  it("keeps dead letters the sink refuses in the spool folder's dead-letter file", async () => {
    const reports = cleanup.reports();
    const spoolDir = await cleanup.tempDir();
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: memorySinkSpec({ channel: reports.name, poisonAction: "bad", rejectDeadLetters: true }),
        spoolDir,
        maxWorkers: 1,
      }),
    );
    const bad = await writer.record(auditEvent(1, { action: "bad" }));
    const good = await writer.record(auditEvent(2));
    await writer.flush();
    const letters = await readDeadLetterFile(spoolDir);
    expect(letters.map((l) => l.entry.id)).toEqual([bad.id]);
    expect(letters[0]?.error).toBe(`check constraint violated by entry ${bad.id}`);
    await vi.waitFor(() => expect(reports.writtenIds).toEqual([good.id]));
    expect(reports.deadLetters).toEqual([]);
  });

  it("reports a worker that cannot build its sink, backs off and retries the batch until it succeeds", async () => {
    const reports = cleanup.reports();
    const errors: Error[] = [];
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: {
          module: fileURLToPath(new URL("./fixtures/flaky-sink.mjs", import.meta.url)),
          options: { failCreates: 2, memory: { channel: reports.name } },
        },
        spoolDir: await cleanup.tempDir(),
        maxWorkers: 1,
        retry: { initialDelayMs: 5, maxDelayMs: 20 },
        onError: (e) => errors.push(e),
      }),
    );
    const ids = (await Promise.all([1, 2, 3].map((i) => writer.record(auditEvent(i))))).map((r) => r.id);
    await writer.flush();
    expect(errors.map((e) => e.message)).toEqual(["sink unavailable (1)", "sink unavailable (2)"]);
    await vi.waitFor(() => expect(new Set(reports.writtenIds)).toEqual(new Set(ids)));
    expect(writer.stats()).toMatchObject({ written: 3, queued: 0, inFlight: 0 });
  });
});
