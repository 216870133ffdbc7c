/**
 * Scenarios 3 and 4: a writer process under load, stopped by a signal while the database is
 * unavailable (PostgreSQL: the proxy black-holes it; SQLite: another connection holds the write
 * lock), so there is a backlog it cannot write.
 *
 * 3. SIGTERM (async mode): the process exits within its close deadline; every recorded entry is
 *    in the database or in the spool; the next start replays the spool and then every entry is
 *    written exactly once.
 * 4. SIGKILL (durable mode): every entry whose record() resolved is written after a restart.
 */
import { createAuditWriter } from "@auditrail/audit-core";
import type { TestDatabase } from "@auditrail/db/testing";
import { sqlSinkSpec } from "@auditrail/db/sink";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { printAccounting, reconcile, segmentFiles, spoolIds, storedIds } from "../src/accounting.ts";
import { WriterChild, type WriterChildConfig } from "../src/child.ts";
import { startFaultProxy } from "../src/proxy.ts";
import { Scope, providers, sleep, targetOf } from "./helpers.ts";

const CLOSE_DEADLINE_MS = 1_500;

/** How the database is made unavailable to the child: the URL its sink uses, and the switch. */
interface Outage {
  readonly sinkUrl: string;
  begin(): void;
  end(): void;
}

async function outageFor(scope: Scope, db: TestDatabase): Promise<Outage> {
  if (db.provider === "postgresql") {
    const proxy = scope.proxy(await startFaultProxy({ target: targetOf(db.url) }));
    return { sinkUrl: proxy.url(db.url), begin: () => proxy.mode("blackhole"), end: () => proxy.mode("pass") };
  }
  let locker: Database.Database | undefined;
  const end = () => {
    if (locker?.inTransaction) locker.exec("COMMIT");
    locker?.close();
    locker = undefined;
  };
  scope.defer(async () => end());
  return {
    sinkUrl: db.url,
    begin: () => {
      locker = new Database(db.url.slice("file:".length));
      locker.exec("BEGIN IMMEDIATE");
    },
    end,
  };
}

function childConfig(sinkUrl: string, spoolDir: string, mode: "async" | "durable"): WriterChildConfig {
  return {
    writer: {
      // SQLite: workers spend most of a lock wait inside the native busy wait (500 ms) rather than
      // in backoff (≤ 50 ms): the state in which stopping a worker used to abort the process.
      sink: sqlSinkSpec({ url: sinkUrl, sqliteBusyTimeoutMs: 500, pgConnectTimeoutMs: 1_000, pgQueryTimeoutMs: 2_000 }),
      mode,
      spoolDir,
      overflow: "spill",
      maxWorkers: 2,
      maxQueueSize: 2_000,
      maxBatchSize: 200,
      maxBatchWaitMs: 20,
      segmentMaxEntries: 500,
      retry: { initialDelayMs: 20, maxDelayMs: 50, writeTimeoutMs: 1_000 },
    },
    load: { ratePerSec: 600, concurrency: 8 },
    closeDeadlineMs: CLOSE_DEADLINE_MS,
  };
}

describe.each(providers)("signals on %s", (provider) => {
  const scope = new Scope();
  afterEach(() => scope.close());

  it("scenario 3, SIGTERM mid-load: exits within its deadline, every entry is in the DB or the spool, the next start replays the spool", async () => {
    const { db, handle } = await scope.database(provider);
    const spoolDir = await scope.tempDir();
    const outage = await outageFor(scope, db);
    const child = await WriterChild.start(childConfig(outage.sinkUrl, spoolDir, "async"));
    await child.reached(1_000);
    outage.begin();
    await sleep(700);
    const exit = await child.kill("SIGTERM");
    outage.end();

    // At exit: every recorded entry is written or on disk.
    const recorded = child.recorded;
    const atExit = reconcile({ recorded, stored: await storedIds(handle), spooled: await spoolIds(spoolDir) });
    expect(atExit.lost).toHaveLength(0);
    expect(atExit).toMatchObject({ unexpected: [], duplicates: [] });
    expect(atExit.onlyInSpool).toBeGreaterThan(0);

    // A clean exit (no crash while stopping the workers), within the deadline: the drain gives up
    // at the deadline; spilling and stopping the workers take a moment more.
    expect(child.stderr).toBe("");
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(CLOSE_DEADLINE_MS + 1_500);
    const report = child.report;
    expect(report).toMatchObject({ drained: false, recorded: recorded.length, deadLettered: 0, dropped: 0 });
    if (!report) throw new Error("no close report");

    // The next start replays the spool.
    const next = scope.writer(await createAuditWriter({ sink: sqlSinkSpec({ url: db.url }), spoolDir, maxWorkers: 2 }));
    await next.flush();
    const restart = await next.close();
    const after = reconcile({ recorded, stored: await storedIds(handle) });
    printAccounting(`sigterm-${provider}`, {
      recorded: recorded.length,
      written: after.written,
      deadLettered: report.deadLettered,
      spilled: report.spilled,
      replayed: restart.replayed,
      lost: after.lost.length,
      extra: { writtenBeforeExit: atExit.written, onlyInSpoolAtExit: atExit.onlyInSpool, closeMs: child.closeMs ?? -1, exitMs: exit.ms },
    });
    expect(after).toMatchObject({ lost: [], unexpected: [], duplicates: [] });
    expect(after.written).toBe(recorded.length);
    expect(report.spilled).toBeGreaterThan(0);
    expect(restart.replayed).toBeGreaterThanOrEqual(atExit.onlyInSpool);
    expect(restart).toMatchObject({ drained: true, deadLettered: 0 });
    expect(await segmentFiles(spoolDir)).toEqual([]);
  });

  it("scenario 4, SIGKILL mid-load in durable mode: every entry whose record() resolved is written after restart", async () => {
    const { db, handle } = await scope.database(provider);
    const spoolDir = await scope.tempDir();
    const outage = await outageFor(scope, db);
    const child = await WriterChild.start(childConfig(outage.sinkUrl, spoolDir, "durable"));
    await child.reached(800);
    outage.begin();
    const beforeOutage = child.recorded.length;
    await child.reached(beforeOutage + 300);
    const exit = await child.kill("SIGKILL");
    outage.end();
    expect(exit).toMatchObject({ code: null, signal: "SIGKILL" });
    expect(child.stderr).toBe("");

    const resolved = child.recorded;
    const atKill = reconcile({ recorded: resolved, stored: await storedIds(handle), spooled: await spoolIds(spoolDir) });
    // Durable: a resolved entry is fsynced, so it is on disk if it is not yet in the database.
    expect(atKill.lost).toEqual([]);
    expect(atKill.onlyInSpool).toBeGreaterThan(0);

    const next = scope.writer(await createAuditWriter({ sink: sqlSinkSpec({ url: db.url }), mode: "durable", spoolDir, maxWorkers: 2 }));
    await next.flush();
    const restart = await next.close();
    const stored = await storedIds(handle);
    const after = reconcile({ recorded: resolved, stored });
    // Entries fsynced but killed before their record() reported back are written too: they are
    // "unexpected" only to the test, which never heard of them (never more than were in flight).
    const unreported = after.unexpected.length;
    printAccounting(`sigkill-durable-${provider}`, {
      recorded: resolved.length,
      written: stored.length - unreported,
      deadLettered: restart.deadLettered,
      spilled: child.states.spilled ?? 0,
      replayed: restart.replayed,
      lost: after.lost.length,
      extra: { writtenBeforeKill: atKill.written, onlyInSpoolAtKill: atKill.onlyInSpool, fsyncedUnreported: unreported },
    });
    expect(after.lost).toEqual([]);
    expect(after.duplicates).toEqual([]);
    expect(new Set(stored).size).toBe(stored.length);
    expect(unreported).toBeLessThanOrEqual(8);
    expect(restart.replayed).toBeGreaterThanOrEqual(atKill.onlyInSpool);
    expect(restart).toMatchObject({ drained: true, deadLettered: 0 });
    expect(await segmentFiles(spoolDir)).toEqual([]);
  });

  it('scenario 4b, "async, kill -9" with default options: every entry whose record() resolved is written after restart', async () => {
    const { db, handle } = await scope.database(provider);
    const spoolDir = await scope.tempDir();
    const outage = await outageFor(scope, db);
    const sink = sqlSinkSpec({ url: outage.sinkUrl, sqliteBusyTimeoutMs: 500, pgConnectTimeoutMs: 1_000, pgQueryTimeoutMs: 2_000 });
    // Nothing but the sink and the spool folder: the defaults are what is promised.
    const child = await WriterChild.start({ writer: { sink, spoolDir }, load: { ratePerSec: 600, concurrency: 8 } });
    await child.reached(800);
    outage.begin();
    const beforeOutage = child.recorded.length;
    await child.reached(beforeOutage + 300);
    const exit = await child.kill("SIGKILL");
    outage.end();
    expect(exit).toMatchObject({ code: null, signal: "SIGKILL" });
    expect(child.stderr).toBe("");

    const resolved = child.recorded;
    const atKill = reconcile({ recorded: resolved, stored: await storedIds(handle), spooled: await spoolIds(spoolDir) });
    expect(atKill.lost).toEqual([]);
    expect(atKill.onlyInSpool).toBeGreaterThan(0);

    const next = scope.writer(await createAuditWriter({ sink: sqlSinkSpec({ url: db.url }), spoolDir }));
    await next.flush();
    const restart = await next.close();
    const stored = await storedIds(handle);
    const after = reconcile({ recorded: resolved, stored });
    const unreported = after.unexpected.length;
    printAccounting(`async-sigkill-${provider}`, {
      recorded: resolved.length,
      written: stored.length - unreported,
      deadLettered: restart.deadLettered,
      spilled: child.states.spilled ?? 0,
      replayed: restart.replayed,
      lost: after.lost.length,
      extra: { writtenBeforeKill: atKill.written, onlyInSpoolAtKill: atKill.onlyInSpool, appendedUnreported: unreported },
    });
    expect(after.lost).toEqual([]);
    expect(after.duplicates).toEqual([]);
    expect(new Set(stored).size).toBe(stored.length);
    // Appended but killed before their record() reported back: never more than were in flight.
    expect(unreported).toBeLessThanOrEqual(8);
    expect(restart.replayed).toBeGreaterThanOrEqual(atKill.onlyInSpool);
    expect(restart).toMatchObject({ drained: true, deadLettered: 0 });
    expect(await segmentFiles(spoolDir)).toEqual([]);
  });
});
