/**
 * Scenario 2: SQLite, another connection holds the write lock for 3 s in the middle of steady load.
 * The sink's busy timeout is short, so the workers meet SQLITE_BUSY and retry; the queue fills and
 * spills. Nothing may be lost or doubled.
 */
import { createAuditWriter } from "@auditrail/audit-core";
import { sqlSinkSpec } from "@auditrail/db/sink";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { printAccounting, reconcile, segmentFiles, storedIds } from "../src/accounting.ts";
import { startLoad } from "../src/load.ts";
import { Scope, sleep, until, watchBacklog } from "./helpers.ts";

const MAX_QUEUE = 500;

describe("scenario 2: SQLite write lock held by another connection mid-load", () => {
  const scope = new Scope();
  afterEach(() => scope.close());

  it("loses nothing while another connection holds the write lock for 3 s", async () => {
    const { db, handle } = await scope.database("sqlite");
    const spoolDir = await scope.tempDir();
    const writer = scope.writer(
      await createAuditWriter({
        sink: sqlSinkSpec({ url: db.url, sqliteBusyTimeoutMs: 250 }),
        spoolDir,
        overflow: "spill",
        maxWorkers: 2,
        maxQueueSize: MAX_QUEUE,
        maxBatchSize: 100,
        retry: { initialDelayMs: 20, maxDelayMs: 300, writeTimeoutMs: 2_000 },
      }),
    );
    const backlog = watchBacklog(writer);
    const load = startLoad(writer, { ratePerSec: 400, concurrency: 8 });
    await sleep(1_500);

    const locker = new Database(db.url.slice("file:".length));
    locker.exec("BEGIN IMMEDIATE");
    // A batch acknowledged just after the lock was taken committed before it: count from 300 ms on.
    await sleep(300);
    const lockedAt = writer.stats().written;
    await sleep(2_700);
    const whileLocked = writer.stats().written - lockedAt;
    locker.exec("COMMIT");
    locker.close();

    await sleep(1_500);
    const result = await load.stop();
    const recorded = result.receipts.map((r) => r.id);
    await until(
      () => {
        const s = writer.stats();
        return s.written === recorded.length && s.queued + s.inFlight + s.spoolBacklog === 0;
      },
      20_000,
      () => JSON.stringify(writer.stats()),
    );
    backlog.stop();
    const stats = writer.stats();
    const r = reconcile({ recorded, stored: await storedIds(handle) });
    printAccounting("sqlite-lock", {
      recorded: recorded.length,
      written: r.written,
      deadLettered: stats.deadLettered,
      spilled: stats.spilled,
      replayed: stats.replayed,
      lost: r.lost.length,
      extra: { writtenWhileLocked: whileLocked, retried: stats.retried, maxInMemory: backlog.max() },
    });

    expect(result.rejected).toBe(0);
    expect(r).toMatchObject({ lost: [], unexpected: [], duplicates: [] });
    expect(r.written).toBe(recorded.length);
    expect(whileLocked).toBe(0);
    expect(stats).toMatchObject({ written: recorded.length, deadLettered: 0, dropped: 0 });
    expect(stats.retried).toBeGreaterThan(0);
    expect(stats.spilled).toBeGreaterThan(0);
    expect(stats.replayed).toBe(stats.spilled);
    expect(backlog.max()).toBeLessThanOrEqual(MAX_QUEUE);
    expect(await writer.close()).toMatchObject({ drained: true });
    expect(await segmentFiles(spoolDir)).toEqual([]);
  });
});
