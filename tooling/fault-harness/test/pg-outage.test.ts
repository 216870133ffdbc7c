/**
 * Scenario 1: a PostgreSQL outage of 10 s in the middle of steady load, made by the fault proxy in
 * front of the server (black-hole 6 s, then reset 4 s, then restored). The writer must lose
 * nothing, recover by itself (no flush, no restart), and keep its in-memory queue bounded —
 * spilling to disk or blocking callers, as configured.
 */
import { type AuditWriter, type AuditWriterOptions, createAuditWriter } from "@auditrail/audit-core";
import { sqlSinkSpec } from "@auditrail/db/sink";
import { afterEach, describe, expect, it } from "vitest";
import { printAccounting, reconcile, segmentFiles, storedIds } from "../src/accounting.ts";
import { startLoad } from "../src/load.ts";
import { startFaultProxy } from "../src/proxy.ts";
import { Scope, hasPostgres, sleep, targetOf, until, watchBacklog } from "./helpers.ts";

const MAX_QUEUE = 1_000;
const RATE = 400;
const CALLERS = 8;

describe.runIf(hasPostgres)("scenario 1: PostgreSQL outage mid-load (proxy)", () => {
  const scope = new Scope();
  afterEach(() => scope.close());

  async function setup(overflow: "spill" | "block") {
    const { db, handle } = await scope.database("postgresql");
    const proxy = scope.proxy(await startFaultProxy({ target: targetOf(db.url) }));
    const spoolDir = await scope.tempDir();
    const errors: string[] = [];
    const options: AuditWriterOptions = {
      sink: sqlSinkSpec({ url: proxy.url(db.url), pgConnectTimeoutMs: 1_000, pgQueryTimeoutMs: 2_000 }),
      spoolDir,
      overflow,
      maxWorkers: 2,
      maxQueueSize: MAX_QUEUE,
      maxBatchSize: 200,
      maxBatchWaitMs: 20,
      retry: { initialDelayMs: 50, maxDelayMs: 500, writeTimeoutMs: 1_000 },
      onError: (e) => errors.push(e.message),
    };
    const writer = scope.writer(await createAuditWriter(options));
    return { handle, proxy, spoolDir, writer, errors };
  }

  /** Waits, without flush(), until every accepted entry is acknowledged and nothing is left anywhere. */
  const recovered = (writer: AuditWriter, recorded: number) =>
    until(
      () => {
        const s = writer.stats();
        return s.written === recorded && s.queued === 0 && s.inFlight === 0 && s.spoolBacklog === 0;
      },
      30_000,
      () => `writer did not recover: ${JSON.stringify(writer.stats())}`,
    );

  it.each(["spill", "block"] as const)(
    "overflow %s: 10 s outage (black-hole, reset, restore) loses nothing, recovers by itself, queue stays bounded",
    async (overflow) => {
      const { handle, proxy, spoolDir, writer } = await setup(overflow);
      const backlog = watchBacklog(writer);
      const load = startLoad(writer, { ratePerSec: RATE, concurrency: CALLERS });
      await sleep(2_000);
      // Under load the workers may not have written yet: wait for the first acknowledgement, not a fixed time.
      await until(
        () => writer.stats().written > 0,
        30_000,
        () => `nothing written before the outage: ${JSON.stringify(writer.stats())}`,
      );
      const beforeOutage = writer.stats().written;
      expect(beforeOutage).toBeGreaterThan(0);

      proxy.mode("blackhole");
      await sleep(6_000);
      proxy.mode("reset");
      await sleep(4_000);
      const duringOutage = writer.stats();
      proxy.mode("pass");
      await sleep(3_000);
      const result = await load.stop();
      const recorded = result.receipts.map((r) => r.id);

      await recovered(writer, recorded.length);
      backlog.stop();
      const stats = writer.stats();
      const stored = await storedIds(handle);
      const r = reconcile({ recorded, stored });
      const report = await writer.close({ deadlineMs: 5_000 });
      printAccounting(`pg-outage-${overflow}`, {
        recorded: recorded.length,
        written: r.written,
        deadLettered: stats.deadLettered,
        spilled: stats.spilled,
        replayed: stats.replayed,
        lost: r.lost.length,
        extra: { maxInMemory: backlog.max(), maxOnDisk: backlog.maxSpoolBacklog(), retried: stats.retried },
      });

      expect(result.rejected).toBe(0);
      expect(r).toMatchObject({ lost: [], unexpected: [], duplicates: [] });
      expect(stored).toHaveLength(recorded.length);
      expect(stats).toMatchObject({ recorded: recorded.length, written: recorded.length, deadLettered: 0, dropped: 0 });
      expect(stats.retried).toBeGreaterThan(0);
      // The outage really stopped writes: little was acknowledged while the database was away.
      expect(duringOutage.written - beforeOutage).toBeLessThan(MAX_QUEUE + 200 * 2);
      if (overflow === "spill") {
        // Memory stayed bounded; the excess went to disk and came back.
        expect(backlog.max()).toBeLessThanOrEqual(MAX_QUEUE);
        expect(stats.spilled).toBeGreaterThan(0);
        expect(stats.replayed).toBe(stats.spilled);
        expect(result.states.spilled).toBe(stats.spilled);
      } else {
        // Callers waited instead: only they (one each) sit beyond the queue's capacity.
        expect(backlog.max()).toBeLessThanOrEqual(MAX_QUEUE + CALLERS);
        expect(stats.spilled).toBe(0);
      }
      expect(report).toMatchObject({ drained: true });
      expect(await segmentFiles(spoolDir)).toEqual([]);
    },
  );

  it("recovers by itself when the black hole ends without a reset (stale connections are dropped by the sink's timeouts)", async () => {
    const { handle, proxy, writer } = await setup("spill");
    const load = startLoad(writer, { ratePerSec: 200, concurrency: 4 });
    await sleep(1_000);
    proxy.mode("blackhole");
    await sleep(3_000);
    // Connections opened before and during the black hole stay dead; only new ones work.
    proxy.mode("pass");
    await sleep(1_000);
    const result = await load.stop();
    const recorded = result.receipts.map((r) => r.id);
    await recovered(writer, recorded.length);
    const stats = writer.stats();
    const r = reconcile({ recorded, stored: await storedIds(handle) });
    printAccounting("pg-blackhole-no-reset", {
      recorded: recorded.length,
      written: r.written,
      deadLettered: stats.deadLettered,
      spilled: stats.spilled,
      replayed: stats.replayed,
      lost: r.lost.length,
      extra: { blackholedConnections: proxy.stats().blackholed },
    });
    expect(r).toMatchObject({ lost: [], unexpected: [], duplicates: [] });
    expect(r.written).toBe(recorded.length);
    expect(proxy.stats().blackholed).toBeGreaterThan(0);
  });
});
