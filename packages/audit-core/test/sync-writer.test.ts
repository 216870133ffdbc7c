/** Sync mode: record() resolves once the row is committed, in the caller's thread. */
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createAuditWriter } from "../src/audit-writer.ts";
import { type ChainedEntry, verifyChain } from "../src/chain.ts";
import { withAuditContext } from "../src/context.ts";
import { AuditWriteError, InvalidAuditEventError, WriterClosedError } from "../src/errors.ts";
import { parseOptions } from "../src/options.ts";
import { MemorySink, memorySinkSpec } from "../src/testing.ts";
import { readDeadLetterFile } from "../src/writer/dead-letter.ts";
import { DirectWriter } from "../src/writer/direct.ts";
import { Cleanup, auditEvent } from "./helpers.ts";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const fastRetry = { initialDelayMs: 1, maxDelayMs: 5 };

describe("sync writer (through createAuditWriter, sink loaded in the main thread)", () => {
  it("resolves record() with state written once the sink has stored the row", async () => {
    const reports = cleanup.reports();
    const writer = cleanup.writer(
      await createAuditWriter({ sink: memorySinkSpec({ channel: reports.name }), mode: "sync", spoolDir: await cleanup.tempDir() }),
    );
    expect(writer.mode).toBe("sync");
    const receipt = await writer.record(auditEvent(1));
    expect(receipt.state).toBe("written");
    expect(writer.stats()).toMatchObject({ recorded: 1, written: 1, inFlight: 0 });
    await vi.waitFor(() => expect(reports.writtenIds).toEqual([receipt.id]));
    expect(reports.attempts).toHaveLength(1);
  });

  it("hands a forwarding sink (a transport) the entry unlinked", async () => {
    const sink = new MemorySink({ forwards: true });
    const writer = cleanup.writer(
      new DirectWriter(parseOptions({ sink: memorySinkSpec(), mode: "sync", spoolDir: await cleanup.tempDir() }), sink),
    );
    const receipt = await writer.record(auditEvent(1));
    expect(receipt.state).toBe("written");
    expect(sink.rows.get(receipt.id)).not.toHaveProperty("hash");
  });

  it("rejects with AuditWriteError after retry.syncMaxAttempts when the sink keeps failing", async () => {
    const reports = cleanup.reports();
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: memorySinkSpec({ channel: reports.name, failFirst: 100 }),
        mode: "sync",
        spoolDir: await cleanup.tempDir(),
        retry: { ...fastRetry, syncMaxAttempts: 4 },
      }),
    );
    const error = await writer.record(auditEvent(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuditWriteError);
    expect((error as AuditWriteError).message).toMatch(/not written after 4 attempt\(s\): connect ECONNREFUSED/);
    await vi.waitFor(() => expect(reports.failedAttempts).toHaveLength(4));
    expect(reports.writtenIds).toEqual([]);
    expect(writer.stats()).toMatchObject({ recorded: 1, written: 0 });
  });

  it("writes after transient failures within its attempts", async () => {
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: memorySinkSpec({ failFirst: 2 }),
        mode: "sync",
        spoolDir: await cleanup.tempDir(),
        retry: fastRetry,
      }),
    );
    expect((await writer.record(auditEvent(1))).state).toBe("written");
    expect(writer.stats()).toMatchObject({ written: 1, retried: 2 });
  });

  it("rejects a poison entry with AuditWriteError and dead-letters it", async () => {
    const reports = cleanup.reports();
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: memorySinkSpec({ channel: reports.name, poisonAction: "bad" }),
        mode: "sync",
        spoolDir: await cleanup.tempDir(),
      }),
    );
    const error = await writer.record(auditEvent(1, { action: "bad" })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuditWriteError);
    expect((error as AuditWriteError).message).toMatch(/check constraint violated by entry/);
    await vi.waitFor(() => expect(reports.deadLetters).toHaveLength(1));
    expect(reports.deadLetters[0]?.entry.action).toBe("bad");
    expect(writer.stats()).toMatchObject({ recorded: 1, written: 0, deadLettered: 1 });
  });

  it("keeps a poison entry the sink will not store in the dead-letter file, creating the folder", async () => {
    const spoolDir = join(await cleanup.tempDir(), "never-opened");
    const writer = cleanup.writer(
      await createAuditWriter({ sink: memorySinkSpec({ poisonAction: "bad", rejectDeadLetters: true }), mode: "sync", spoolDir }),
    );
    const error = await writer.record(auditEvent(1, { action: "bad" })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuditWriteError);
    const letters = await readDeadLetterFile(spoolDir);
    expect(letters).toHaveLength(1);
    expect(letters[0]?.error).toMatch(/check constraint violated by entry/);
  });

  it("rejects invalid events without recording them, and record() after close()", async () => {
    const writer = await createAuditWriter({ sink: memorySinkSpec(), mode: "sync", spoolDir: await cleanup.tempDir() });
    await expect(writer.record({ action: "", entity: "E" })).rejects.toBeInstanceOf(InvalidAuditEventError);
    expect(writer.stats().recorded).toBe(0);
    const report = await writer.close();
    expect(report).toMatchObject({ drained: true, recorded: 0 });
    expect(writer.close()).toBe(writer.close());
    await expect(writer.record(auditEvent(1))).rejects.toBeInstanceOf(WriterClosedError);
  });
});

describe("DirectWriter (with a MemorySink in this thread)", () => {
  const open = async (sink: MemorySink) =>
    cleanup.writer(new DirectWriter(parseOptions({ sink: { module: "unused" }, mode: "sync", spoolDir: await cleanup.tempDir() }), sink));

  it("has the row in the sink by the time record() resolves", async () => {
    const sink = new MemorySink();
    const writer = await open(sink);
    const { id } = await writer.record(auditEvent(1));
    expect(sink.rows.get(id)).toMatchObject({ id, action: "patient.update", entityId: "p-1" });
  });

  it("chains its writes in order, and after a write that failed for good starts a new chain, so no gap is left", async () => {
    const sink = new MemorySink({ failFirst: 3 }); // the first record's three attempts all fail
    const writer = cleanup.writer(
      new DirectWriter(
        parseOptions({
          sink: { module: "unused" },
          mode: "sync",
          spoolDir: await cleanup.tempDir(),
          retry: { initialDelayMs: 1, maxDelayMs: 2 },
        }),
        sink,
      ),
    );
    const results = await Promise.allSettled([1, 2, 3, 4].map((i) => writer.record(auditEvent(i))));
    expect(results.map((r) => r.status)).toEqual(["rejected", "fulfilled", "fulfilled", "fulfilled"]);
    const rows = [...sink.rows.values()] as ChainedEntry[];
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(new Set(rows.map((r) => r.streamId)).size).toBe(1);
    expect(verifyChain({ rows })).toMatchObject({ ok: true });
  });

  it("stamps the audit context of the caller; explicit event fields win", async () => {
    const sink = new MemorySink();
    const writer = await open(sink);
    const context = { actor: { id: "u1", role: "dentist" }, requestId: "req-1", ip: "10.0.0.1", userAgent: "Mozilla/5.0" };
    const [fromContext, explicit] = await withAuditContext(context, () =>
      Promise.all([writer.record(auditEvent(1)), writer.record(auditEvent(2, { actor: { id: "system" }, ip: "127.0.0.1" }))]),
    );
    expect(sink.rows.get(fromContext.id)).toMatchObject({
      actorId: "u1",
      actorRole: "dentist",
      requestId: "req-1",
      ip: "10.0.0.1",
      userAgent: "Mozilla/5.0",
    });
    expect(sink.rows.get(explicit.id)).toMatchObject({
      actorId: "system",
      actorRole: null,
      requestId: "req-1",
      ip: "127.0.0.1",
      userAgent: "Mozilla/5.0",
    });
  });

  it("flush waits for writes in progress; close waits for them too", async () => {
    const sink = new MemorySink({ latencyMs: 20 });
    const writer = await open(sink);
    const pending = writer.record(auditEvent(1));
    expect(writer.stats().inFlight).toBe(1);
    await writer.flush();
    expect(sink.rows.size).toBe(1);
    const { id } = await pending;
    const late = writer.record(auditEvent(2));
    const report = await writer.close({ deadlineMs: 1_000 });
    expect(report).toMatchObject({ drained: true, written: 2, inFlight: 0 });
    expect(sink.rows.has(id)).toBe(true);
    await late;
  });

  it("past the close deadline it still lets pending writes end within their attempts", async () => {
    const sink = new MemorySink({ latencyMs: 60 });
    const writer = await open(sink);
    const pending = writer.record(auditEvent(1));
    const report = await writer.close({ deadlineMs: 10 });
    expect(report.drained).toBe(false);
    expect((await pending).state).toBe("written");
  });
});
