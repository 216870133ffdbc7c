/** Bad input is refused up front, with errors that name what was wrong. */
import { afterEach, describe, expect, it } from "vitest";
import { type AuditWriterOptions, createAuditWriter } from "../src/index.ts";
import { InvalidAuditEventError, InvalidOptionsError, SinkLoadError, WriterClosedError } from "../src/errors.ts";
import type { AuditEvent } from "../src/event.ts";
import { memorySinkSpec } from "../src/testing.ts";
import { Cleanup, auditEvent } from "./helpers.ts";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe("createAuditWriter", () => {
  it("rejects invalid options with InvalidOptionsError naming each bad field", async () => {
    const options = { maxWorkers: 0, mode: "fast", retryCount: 3 } as unknown as AuditWriterOptions;
    const error = await createAuditWriter(options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionsError);
    const message = (error as InvalidOptionsError).message;
    expect(message).toMatch(/^- maxWorkers: /m);
    expect(message).toMatch(/^- mode: .*"async"/m);
    expect(message).toMatch(/^- \(options\): .*"retryCount"/m);
    expect(message).toMatch(/^- sink: /m);
    expect((error as InvalidOptionsError).issues).toHaveLength(4);
  });

  it("rejects a sink module that cannot be imported, or exports no createSink, with SinkLoadError", async () => {
    const spoolDir = await cleanup.tempDir();
    for (const mode of ["async", "sync", "durable"] as const) {
      await expect(createAuditWriter({ sink: { module: "/does/not/exist.js" }, mode, spoolDir })).rejects.toBeInstanceOf(SinkLoadError);
    }
    await expect(createAuditWriter({ sink: { module: "node:os" }, spoolDir })).rejects.toThrow(/does not export a createSink/);
  });
});

describe.each(["async", "durable", "sync"] as const)("record() in %s mode", (mode) => {
  it.each<[string, AuditEvent, string]>([
    ["a missing action", { entity: "Patient" } as AuditEvent, "action"],
    ["an oversized entity", { action: "patient.update", entity: "P".repeat(129) }, "entity"],
    ["a bad occurredAt", { action: "patient.update", entity: "Patient", occurredAt: "31/12/2024" }, "occurredAt"],
  ])("refuses %s with InvalidAuditEventError naming the field, enqueueing nothing", async (_label, event, field) => {
    const writer = cleanup.writer(await createAuditWriter({ sink: memorySinkSpec(), mode, spoolDir: await cleanup.tempDir() }));
    await writer.record(auditEvent(1));
    const before = writer.stats();
    const error = await writer.record(event).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidAuditEventError);
    expect((error as InvalidAuditEventError).issues.map((i) => i.split(":")[0])).toEqual([field]);
    expect((error as InvalidAuditEventError).message).toContain(`- ${field}: `);
    const after = writer.stats();
    expect(after.recorded).toBe(before.recorded);
    expect(after.queued + after.inFlight + after.written).toBeLessThanOrEqual(1);
  });

  it("rejects record() after close() with WriterClosedError", async () => {
    const writer = await createAuditWriter({ sink: memorySinkSpec(), mode, spoolDir: await cleanup.tempDir() });
    const closing = writer.close({ deadlineMs: 1_000 });
    await expect(writer.record(auditEvent(1))).rejects.toBeInstanceOf(WriterClosedError);
    await closing;
    await expect(writer.record(auditEvent(2))).rejects.toThrow("record() was called after close()");
  });
});
