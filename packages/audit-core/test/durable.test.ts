/** Durable mode: record() resolves once the entry is fsynced, so a crash loses no resolved entry. */
import { spawn } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createAuditWriter } from "../src/audit-writer.ts";
import { SpoolCorruptError } from "../src/errors.ts";
import { type AuditEntry, stampEvent } from "../src/event.ts";
import { memorySinkSpec } from "../src/testing.ts";
import { Cleanup, auditEvent, counts, segmentFiles } from "./helpers.ts";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const segmentName = (id: number) => `segment-${String(id).padStart(16, "0")}.ndjson`;
const stamped = (n: number): AuditEntry[] => Array.from({ length: n }, (_, i) => stampEvent(auditEvent(i), undefined));
const lines = (entries: readonly AuditEntry[]) => entries.map((e) => `${JSON.stringify(e)}\n`).join("");

/** Runs the fixture until it has printed `atLeast` resolved ids, SIGKILLs it, returns the ids. */
async function killMidLoad(spoolDir: string, atLeast: number, mode: "durable" | "async" = "durable"): Promise<string[]> {
  const child = spawn(process.execPath, [fileURLToPath(new URL("./fixtures/durable-child.mjs", import.meta.url)), spoolDir, mode], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
    if (out.split("\n").length > atLeast && !child.killed) child.kill("SIGKILL");
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    err += chunk;
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on("exit", (c, s) => resolve([c, s])),
  );
  expect(err).toBe("");
  expect({ code, signal }).toEqual({ code: null, signal: "SIGKILL" });
  // Only whole lines count: a line cut by the kill is an id whose print did not finish.
  return out.split("\n").slice(0, -1);
}

describe("durable writer", () => {
  it("resolves record() as spooled once the entry is on disk, then writes it", async () => {
    const reports = cleanup.reports();
    const spoolDir = await cleanup.tempDir();
    const writer = cleanup.writer(await createAuditWriter({ sink: memorySinkSpec({ channel: reports.name }), mode: "durable", spoolDir }));
    expect(writer.mode).toBe("durable");
    const receipt = await writer.record(auditEvent(1));
    expect(receipt.state).toBe("spooled");
    const [segment] = await segmentFiles(spoolDir);
    expect(await readFile(join(spoolDir, segment as string), "utf8")).toContain(`"id":"${receipt.id}"`);
    await writer.flush();
    await vi.waitFor(() => expect(reports.writtenIds).toEqual([receipt.id]));
    const report = await writer.close();
    expect(report).toMatchObject({ drained: true, written: 1, spilled: 0 });
    expect(await segmentFiles(spoolDir)).toEqual([]);
  });

  it("spills entries that find the queue full and writes them all once room frees", async () => {
    const reports = cleanup.reports();
    const spoolDir = await cleanup.tempDir();
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: memorySinkSpec({ channel: reports.name, latencyMs: 3 }),
        mode: "durable",
        spoolDir,
        maxQueueSize: 8,
        maxBatchSize: 4,
      }),
    );
    const receipts = await Promise.all(Array.from({ length: 60 }, (_, i) => writer.record(auditEvent(i))));
    expect(new Set(receipts.map((r) => r.state))).toEqual(new Set(["spooled", "spilled"]));
    await writer.flush();
    await vi.waitFor(() => expect(reports.writtenIds.length).toBeGreaterThanOrEqual(60));
    expect(counts(reports.writtenIds)).toEqual(new Map(receipts.map((r) => [r.id, 1])));
    const stats = writer.stats();
    expect(stats.spilled).toBe(receipts.filter((r) => r.state === "spilled").length);
    expect(stats.replayed).toBe(stats.spilled);
  });

  it("rejects record() when the entry cannot be fsynced, and does not count it", async () => {
    const spoolDir = await cleanup.tempDir();
    const writer = cleanup.writer(
      await createAuditWriter({ sink: memorySinkSpec(), mode: "durable", spoolDir: join(spoolDir, "spool"), maxQueueSize: 1 }),
    );
    await rm(join(spoolDir, "spool"), { recursive: true });
    const results = await Promise.allSettled([writer.record(auditEvent(1)), writer.record(auditEvent(2))]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(writer.stats()).toMatchObject({ recorded: 0, spilled: 0, queued: 0 });
  });

  it("loses no resolved entry when the process is SIGKILLed mid-load: a new writer replays them all", async () => {
    const spoolDir = await cleanup.tempDir();
    const printed = await killMidLoad(spoolDir, 300);
    expect(printed.length).toBeGreaterThanOrEqual(300);
    for (const id of printed) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect((await segmentFiles(spoolDir)).length).toBeGreaterThan(1);

    const reports = cleanup.reports();
    const writer = cleanup.writer(
      await createAuditWriter({ sink: memorySinkSpec({ channel: reports.name }), spoolDir, maxWorkers: 2, maxBatchSize: 100 }),
    );
    await writer.flush();
    await vi.waitFor(() => {
      const written = new Set(reports.writtenIds);
      expect(printed.filter((id) => !written.has(id))).toEqual([]);
    });
    expect(writer.stats().replayed).toBeGreaterThanOrEqual(printed.length);
    expect(await segmentFiles(spoolDir)).toEqual([]);
  });

  it("async mode with default options: loses no resolved entry on SIGKILL either (each turn's entries are in the page cache)", async () => {
    const spoolDir = await cleanup.tempDir();
    const printed = await killMidLoad(spoolDir, 2_000, "async");
    expect(printed.length).toBeGreaterThanOrEqual(2_000);
    expect((await segmentFiles(spoolDir)).length).toBeGreaterThan(0);

    const reports = cleanup.reports();
    const writer = cleanup.writer(await createAuditWriter({ sink: memorySinkSpec({ channel: reports.name }), spoolDir }));
    await writer.flush();
    await vi.waitFor(() => {
      const written = new Set(reports.writtenIds);
      expect(printed.filter((id) => !written.has(id))).toEqual([]);
    });
    expect(writer.stats().replayed).toBeGreaterThanOrEqual(printed.length);
    expect(await segmentFiles(spoolDir)).toEqual([]);
  });

  it("replays a segment with a torn last line, skipping only that line", async () => {
    const spoolDir = await cleanup.tempDir();
    const whole = stamped(3);
    await writeFile(join(spoolDir, segmentName(1)), lines(whole) + JSON.stringify(stamped(1)[0]).slice(0, 50));
    const reports = cleanup.reports();
    const writer = cleanup.writer(await createAuditWriter({ sink: memorySinkSpec({ channel: reports.name }), spoolDir }));
    await writer.flush();
    await vi.waitFor(() => expect(new Set(reports.writtenIds)).toEqual(new Set(whole.map((e) => e.id))));
    expect(writer.stats()).toMatchObject({ replayed: 3, written: 3 });
    expect(await segmentFiles(spoolDir)).toEqual([]);
  });

  it("reports a corrupt middle line (SpoolCorruptError), sets it aside, and replays every valid entry", async () => {
    const spoolDir = await cleanup.tempDir();
    const [a, b] = stamped(2);
    await writeFile(join(spoolDir, segmentName(1)), `${JSON.stringify(a)}\nnot json\n${JSON.stringify(b)}\n`);
    const errors: Error[] = [];
    const writer = await createAuditWriter({ sink: memorySinkSpec(), spoolDir, onError: (e) => errors.push(e) });
    await vi.waitFor(() => expect(errors[0]).toBeInstanceOf(SpoolCorruptError));
    expect(errors[0]?.message).toMatch(/segment-0000000000000001\.ndjson line 2 is not a valid entry/);
    await writer.flush();
    const report = await writer.close({ deadlineMs: 1_000 });
    expect(report).toMatchObject({ drained: true, replayed: 2, written: 2 });
    expect(await segmentFiles(spoolDir)).toEqual([]);
    expect(await readFile(join(spoolDir, "corrupt.ndjson"), "utf8")).toContain('"text":"not json"');
  });
});
