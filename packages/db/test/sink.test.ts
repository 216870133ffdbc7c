import { once } from "node:events";
import { type AddressInfo, type Socket, connect, createServer } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import {
  type AuditEntry,
  type AuditWriter,
  CLOSE_STOP_WAIT_MS,
  type ChainedEntry,
  ChainStream,
  EntriesStoredElsewhereError,
  classifyError,
  createAuditWriter,
  uuidv7,
} from "@auditrail/audit-core";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type DatabaseHandle, createDatabase } from "../src/client.ts";
import { createSink, defaultSqliteBusyTimeoutMs, sqlSinkSpec, writeInTransaction } from "../src/sink.ts";
import { sqlitePath } from "../src/sqlite-sink.ts";
import { type TestDatabase, clearAuditTrail, createTestDatabase, testProviders } from "../src/testing.ts";

function entry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    id: uuidv7(),
    occurredAt: new Date().toISOString(),
    action: "patient.update",
    entity: "Patient",
    entityId: "p-1",
    outcome: "ok",
    actorId: "u-1",
    actorRole: "dentist",
    path: "patient.update",
    durationMs: 1.5,
    before: { phone: "1" },
    after: { phone: "2" },
    diff: { phone: ["1", "2"] },
    metadata: null,
    requestId: "req-1",
    ip: "127.0.0.1",
    userAgent: "vitest",
    ...overrides,
  };
}

/** Adds a constraint that rejects entries whose action is "poison": a real database-side poison. */
async function rejectPoison(db: TestDatabase): Promise<void> {
  if (db.provider === "sqlite") {
    const raw = new Database(sqlitePath(db.url));
    raw.exec(`CREATE TRIGGER reject_poison BEFORE INSERT ON "AuditEntry" WHEN NEW.action = 'poison'
              BEGIN SELECT RAISE(ABORT, 'poison entry rejected'); END;`);
    raw.close();
  } else {
    const client = new pg.Client({ connectionString: db.ownerUrl });
    await client.connect();
    await client.query(`ALTER TABLE "AuditEntry" ADD CONSTRAINT no_poison CHECK (action <> 'poison')`);
    await client.end();
  }
}

describe.each(testProviders())("the SQL audit sink on %s", (provider) => {
  let db: TestDatabase;
  let handle: DatabaseHandle;
  let spoolDir: string;
  let writer: AuditWriter | undefined;

  beforeAll(async () => {
    db = await createTestDatabase(provider);
    handle = createDatabase(db.url);
    await rejectPoison(db);
  });
  afterEach(async () => {
    await writer?.close({ deadlineMs: 5_000 });
    writer = undefined;
    await clearAuditTrail(handle);
    if (spoolDir) await rm(spoolDir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await handle?.close();
    await db?.drop();
  });

  async function newWriter(extra: { maxBatchSize?: number; maxWorkers?: number } = {}): Promise<AuditWriter> {
    spoolDir = await mkdtemp(join(tmpdir(), "auditrail-spool-"));
    writer = await createAuditWriter({
      sink: sqlSinkSpec({ url: db.url, sqliteBusyTimeoutMs: 100 }),
      spoolDir,
      maxWorkers: 2,
      retry: { initialDelayMs: 10, maxDelayMs: 100 },
      ...extra,
    });
    return writer;
  }

  it("writes 1,000 async entries from 20 concurrent callers as exactly 1,000 rows, flush() resolving within 10 s (a bound that holds on a loaded 2-core machine)", async () => {
    const w = await newWriter();
    const ids = new Set<string>();
    await Promise.all(
      Array.from({ length: 20 }, async (_, caller) => {
        for (let i = 0; i < 50; i++) {
          const receipt = await w.record({ action: "patient.read", entity: "Patient", entityId: `${caller}-${i}` });
          ids.add(receipt.id);
        }
      }),
    );
    const started = performance.now();
    await w.flush();
    expect(performance.now() - started).toBeLessThan(10_000);
    const rows = await handle.prisma.auditEntry.findMany({ select: { id: true } });
    expect(rows).toHaveLength(1_000);
    expect(new Set(rows.map((r) => r.id))).toEqual(ids);
    expect(w.stats()).toMatchObject({ recorded: 1_000, written: 1_000, deadLettered: 0, dropped: 0 });
  });

  it("stores rows Prisma reads back unchanged: time, JSON and nulls", async () => {
    const sink = createSink({ url: db.url });
    const e = entry({ occurredAt: "2026-11-28T10:11:12.345Z", metadata: { nested: [1, "two", null] } });
    await sink.write([e]);
    await sink.close();
    const row = await handle.prisma.auditEntry.findUniqueOrThrow({ where: { id: e.id } });
    expect(row.occurredAt.toISOString()).toBe("2026-11-28T10:11:12.345Z");
    expect(row.before).toEqual({ phone: "1" });
    expect(row.metadata).toEqual({ nested: [1, "two", null] });
    expect(row.durationMs).toBe(1.5);
    expect(row.streamId).toBeNull();
  });

  it("stores text exactly, whatever it holds: tabs, newlines, backslashes, quotes, \\N, unicode", async () => {
    const sink = createSink({ url: db.url });
    const awkward = "a\tb\nc\r\\d \"e\" 'f' \\N \\. ü 🦷";
    const e = entry({ userAgent: awkward, entityId: "\\N", before: { note: awkward }, path: "" });
    await sink.write([e]);
    await sink.close();
    const row = await handle.prisma.auditEntry.findUniqueOrThrow({ where: { id: e.id } });
    expect(row.userAgent).toBe(awkward);
    expect(row.entityId).toBe("\\N");
    expect(row.path).toBe("");
    expect(row.before).toEqual({ note: awkward });
  });

  it("stays usable after the database rejects a batch: the next batch on the same connection is written", async () => {
    const sink = createSink({ url: db.url, pgPoolSize: 1 });
    await expect(sink.write([entry(), entry({ action: "poison" })])).rejects.toThrow(
      provider === "sqlite" ? /poison entry rejected/ : /no_poison/,
    );
    const next = [entry(), entry()];
    await sink.write(next);
    await sink.close();
    expect(await handle.prisma.auditEntry.count()).toBe(2);
  });

  it("skips ids already stored, so a retried batch never doubles a row", async () => {
    const sink = createSink({ url: db.url });
    const batch = [entry(), entry(), entry()];
    await sink.write(batch);
    await sink.write([...batch, entry()]);
    await sink.close();
    expect(await handle.prisma.auditEntry.count()).toBe(4);
  });

  it("writes a new batch on the same connection after a retried one (stored ids) was skipped", async () => {
    const sink = createSink({ url: db.url, pgPoolSize: 1 });
    const batch = [entry(), entry()];
    await sink.write(batch);
    await sink.write(batch);
    await sink.write([entry(), entry(), entry()]);
    await sink.close();
    expect(await handle.prisma.auditEntry.count()).toBe(5);
  });

  it("refuses a chained batch whose entry is stored under another stream's link: EntriesStoredElsewhereError, nothing of the batch stored", async () => {
    const sink = createSink({ url: db.url, pgPoolSize: 1 });
    const taken = entry();
    await sink.write(new ChainStream("other").link([taken]));
    const ours = new ChainStream("ours");
    const [before, again, after] = ours.link([entry(), taken, entry()]) as [ChainedEntry, ChainedEntry, ChainedEntry];

    const error = await sink.write([before, again, after]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EntriesStoredElsewhereError);
    expect((error as EntriesStoredElsewhereError).ids).toEqual([taken.id]);
    expect(await handle.prisma.auditEntry.findMany({ select: { id: true, streamId: true } })).toEqual([
      { id: taken.id, streamId: "other" },
    ]);

    // The same connection goes on: the batch linked again without it is written.
    await sink.write(new ChainStream("ours-again").link([before, after]));
    await sink.close();
    expect(await handle.prisma.auditEntry.count()).toBe(3);
  });

  it("skips a chained row stored with the same link (a retried batch): no error, each row once", async () => {
    const sink = createSink({ url: db.url });
    const stream = new ChainStream("ours");
    const batch = stream.link([entry(), entry()]);
    await sink.write(batch);
    await sink.write([...batch, ...stream.link([entry()])]);
    await sink.close();
    expect(await handle.prisma.auditEntry.count()).toBe(3);
  });

  it("tells which ids are stored already, as rows or as dead letters (so a replay is not linked twice)", async () => {
    const sink = createSink({ url: db.url });
    const [stored, rejected, fresh] = [entry(), entry(), entry()];
    await sink.write([stored]);
    await sink.deadLetter([{ entry: rejected, error: "rejected", attempts: 1, failedAt: new Date().toISOString() }]);
    expect(await sink.existing?.([stored.id, rejected.id, fresh.id])).toEqual(new Set([stored.id, rejected.id]));
    await sink.close();
  });

  it("dead-letters entries the database rejects, with the error, and writes their neighbours once", async () => {
    const w = await newWriter({ maxBatchSize: 100 });
    const recorded = [];
    for (let i = 0; i < 100; i++) {
      recorded.push(await w.record({ action: i % 25 === 7 ? "poison" : "patient.read", entity: "Patient" }));
    }
    await w.flush();
    expect(await handle.prisma.auditEntry.count()).toBe(96);
    const letters = await handle.prisma.deadLetter.findMany();
    expect(letters).toHaveLength(4);
    for (const letter of letters) {
      expect(letter.error).toMatch(provider === "sqlite" ? /poison entry rejected/ : /no_poison/);
      expect((JSON.parse(letter.entry) as { action: string }).action).toBe("poison");
    }
    expect(w.stats()).toMatchObject({ written: 96, deadLettered: 4 });
  });

  it("inserts entries inside the caller's transaction: a rollback leaves neither change nor entry", async () => {
    await expect(
      handle.prisma.$transaction(async (tx) => {
        await tx.patient.create({ data: { firstName: "Roll", lastName: "Back", dateOfBirth: new Date("1990-01-01") } });
        await writeInTransaction(tx, [entry({ action: "patient.create" })]);
        throw new Error("business rule failed");
      }),
    ).rejects.toThrow("business rule failed");
    expect(await handle.prisma.patient.count({ where: { lastName: "Back" } })).toBe(0);
    expect(await handle.prisma.auditEntry.count()).toBe(0);

    await handle.prisma.$transaction(async (tx) => {
      await tx.patient.create({ data: { firstName: "Commit", lastName: "Ted", dateOfBirth: new Date("1990-01-01") } });
      await writeInTransaction(tx, [entry({ action: "patient.create" })]);
    });
    expect(await handle.prisma.auditEntry.count()).toBe(1);
    await handle.prisma.patient.deleteMany({ where: { lastName: "Ted" } });
  });

  it.runIf(provider === "sqlite")("waits out another connection's write lock (SQLITE_BUSY is retried)", async () => {
    // One worker, warmed by a first write: its thread, sink module and connection are up before the
    // lock is taken, so nothing slow stands between handing it a batch and its meeting the lock.
    const w = await newWriter({ maxWorkers: 1 });
    await w.record({ action: "patient.read", entity: "Patient" });
    await w.flush();
    expect(w.stats().retried).toBe(0);
    const locker = new Database(sqlitePath(db.url));
    locker.exec("BEGIN IMMEDIATE");
    for (let i = 0; i < 200; i++) await w.record({ action: "patient.read", entity: "Patient" });
    // The signal: a batch is in the worker's hands. Then ten busy timeouts (100 ms each) for it to
    // meet the lock and be refused at least once.
    await vi.waitFor(() => expect(w.stats().inFlight).toBeGreaterThan(0), { timeout: 30_000, interval: 20 });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await handle.prisma.auditEntry.count()).toBe(1);
    locker.exec("COMMIT");
    locker.close();
    await w.flush();
    expect(await handle.prisma.auditEntry.count()).toBe(201);
    expect(w.stats().retried).toBeGreaterThan(0);
  });

  it.runIf(provider === "sqlite")(
    "on the main thread (sync writer, sealer, CLIs) a write waits out another thread's lock held for 600 ms",
    async () => {
      // Worker threads default to 250 ms (close() must never terminate one mid-wait); the main
      // thread, which nothing terminates, waits 5 s: a sync write is not failed by a short lock.
      expect(defaultSqliteBusyTimeoutMs()).toBe(5_000);
      const lockCode = `const { parentPort, workerData } = require("node:worker_threads");
      const db = new (require(workerData.module))(workerData.path);
      db.exec("BEGIN IMMEDIATE");
      parentPort.postMessage("locked");
      setTimeout(() => { db.exec("COMMIT"); db.close(); }, 600);`;
      const locker = new Worker(lockCode, {
        eval: true,
        workerData: { module: createRequire(import.meta.url).resolve("better-sqlite3"), path: sqlitePath(db.url) },
      });
      await once(locker, "message");
      const sink = createSink({ url: db.url });
      const e = entry();
      try {
        await sink.write([e]); // SQLITE_BUSY here if the main thread's busy timeout were 250 ms
      } finally {
        await sink.close();
        await once(locker, "exit");
      }
      expect(await handle.prisma.auditEntry.count({ where: { id: e.id } })).toBe(1);
    },
  );

  it.runIf(provider === "postgresql")(
    "survives its connection reset mid-write: that write fails retryably, the process gets no unhandled 'error', the next write goes through",
    async () => {
      // pg emits a reset socket's error on the client as well as failing its query; a checked-out
      // client with no listener crashed the process (an ingest process did, in a CI run).
      const uncaught: unknown[] = [];
      const onUncaught = (error: unknown) => uncaught.push(error);
      process.on("uncaughtException", onUncaught);
      const proxy = await resettableProxy(db.url);
      const sink = createSink({ url: proxy.url });
      const locker = new pg.Client({ connectionString: db.ownerUrl });
      await locker.connect();
      try {
        // The write waits on the lock, its connection checked out, until the reset.
        await locker.query("BEGIN");
        await locker.query(`LOCK TABLE "AuditEntry" IN ACCESS EXCLUSIVE MODE`);
        const blocked = sink.write([entry()]).then(
          () => undefined,
          (e: unknown) => e,
        );
        // Looked for outside the locker's transaction: inside one, pg_stat_activity is a snapshot.
        const copyWaiting = async () =>
          (
            await handle.prisma.$queryRawUnsafe<unknown[]>(
              `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'COPY%'`,
            )
          ).length;
        await vi.waitFor(async () => expect(await copyWaiting()).toBe(1), { timeout: 30_000, interval: 20 });
        expect(proxy.open()).toBe(1);
        proxy.reset();
        expect(classifyError(await blocked, sink)).toBe("retryable");
        await locker.query("ROLLBACK");
        const next = entry();
        await sink.write([next]);
        expect(await sink.existing?.([next.id])).toEqual(new Set([next.id]));
        expect(uncaught).toEqual([]);
      } finally {
        process.off("uncaughtException", onUncaught);
        await locker.end();
        await sink.close();
        await proxy.close();
      }
    },
  );

  it.runIf(provider === "sqlite")(
    "closes past its deadline while its worker waits on a lock, without terminating it mid-wait (default busy timeout)",
    async () => {
      // Terminating a thread inside better-sqlite3's busy wait would abort this very process: the
      // default busy timeout is short enough that the worker is back in JavaScript, sees the stop
      // request and goes by itself within the second close() gives it.
      spoolDir = await mkdtemp(join(tmpdir(), "auditrail-spool-"));
      const w = await createAuditWriter({ sink: sqlSinkSpec({ url: db.url }), spoolDir, maxWorkers: 1 });
      await w.record({ action: "patient.read", entity: "Patient" });
      await w.flush();
      const locker = new Database(sqlitePath(db.url));
      locker.exec("BEGIN IMMEDIATE");
      for (let i = 0; i < 50; i++) await w.record({ action: "patient.read", entity: "Patient" });
      await vi.waitFor(() => expect(w.stats().inFlight).toBeGreaterThan(0), { timeout: 30_000, interval: 20 });
      const started = performance.now();
      const report = await w.close({ deadlineMs: 100 });
      // Back before close's wait for busy workers ran out, i.e. the worker went by itself (it was
      // not terminated): past its deadline close waits CLOSE_STOP_WAIT_MS, then terminates.
      expect(performance.now() - started).toBeLessThan(100 + CLOSE_STOP_WAIT_MS);
      expect(report.drained).toBe(false);
      locker.exec("COMMIT");
      locker.close();
      // What close left in the spool is written by the next writer.
      writer = await createAuditWriter({ sink: sqlSinkSpec({ url: db.url }), spoolDir, maxWorkers: 1 });
      await writer.flush();
      expect(await handle.prisma.auditEntry.count()).toBe(51);
    },
  );
});

/** A TCP proxy to the database whose open connections reset() ends with a TCP RST (the client reads ECONNRESET). */
async function resettableProxy(dbUrl: string): Promise<{ url: string; open(): number; reset(): void; close(): Promise<void> }> {
  const target = new URL(dbUrl);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const socket of [client, upstream]) socket.on("error", () => undefined);
    sockets.add(client);
    client.pipe(upstream).pipe(client);
    client.on("close", () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(dbUrl);
  url.hostname = "127.0.0.1";
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    open: () => sockets.size,
    reset: () => {
      for (const socket of sockets) socket.resetAndDestroy();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
