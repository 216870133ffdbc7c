/**
 * Tamper evidence on a real database: entries written by the pooled writer verify; rows changed,
 * deleted or reordered directly in SQL are each named by verifyAuditTrail; PostgreSQL
 * refuses UPDATE and DELETE on the audit table by trigger; the retention purge is the one way
 * out, and verification still passes after it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChainStream, type ChainedEntry, createAuditWriter, stampEvent } from "@auditrail/audit-core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DatabaseHandle, createDatabase } from "../src/client.ts";
import { purgeAuditEntries } from "../src/retention.ts";
import { createSink, prismaSinkSpec } from "../src/sink.ts";
import { type TestDatabase, createTestDatabase, runRawSql, testProviders } from "../src/testing.ts";
import { verifyAuditTrail } from "../src/verify.ts";

const tamper = (db: TestDatabase, sql: string) => runRawSql(db.url, sql);

describe.each(testProviders())("tamper evidence on %s", (provider) => {
  let db: TestDatabase;
  let handle: DatabaseHandle;
  let spoolDir: string;
  let rows: ChainedEntry[];
  let secondHalf: Date;

  beforeAll(async () => {
    db = await createTestDatabase(provider);
    handle = createDatabase(db.url);
    spoolDir = await mkdtemp(join(tmpdir(), "auditrail-tamper-"));
    const writer = await createAuditWriter({ sink: prismaSinkSpec({ url: db.url }), spoolDir, maxWorkers: 2, maxBatchSize: 25 });
    // Two halves, 20 ms apart, so the purge below has a cut-off with entries on both sides.
    for (let i = 0; i < 400; i++) {
      if (i === 200) {
        await writer.flush();
        await new Promise((resolve) => setTimeout(resolve, 20));
        secondHalf = new Date();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await writer.record({ action: "patient.read", entity: "Patient", entityId: `p-${i}`, after: { i } });
    }
    await writer.flush();
    await writer.close();
    rows = (await handle.prisma.auditEntry.findMany({ where: { streamId: { not: null } }, orderBy: [{ streamId: "asc" }, { seq: "asc" }] })).map(
      (r) => ({ ...r, occurredAt: r.occurredAt.toISOString() }) as unknown as ChainedEntry,
    );
  });
  afterAll(async () => {
    await handle?.close();
    await db?.drop();
    await rm(spoolDir, { recursive: true, force: true });
  });

  /** A row of the longest stream at position `index`. */
  function rowAt(index: number): ChainedEntry {
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(r.streamId, (counts.get(r.streamId) ?? 0) + 1);
    const longest = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
    const row = rows.filter((r) => r.streamId === longest)[index];
    if (!row) throw new Error("no such row");
    return row;
  }

  async function restore(...ids: string[]): Promise<void> {
    await tamper(db, `DELETE FROM "AuditEntry" WHERE "id" IN (${ids.map((id) => `'${id}'`).join(", ")})`);
    const sink = createSink({ url: db.url });
    await sink.write(rows.filter((r) => ids.includes(r.id)));
    await sink.close();
    expect((await verifyAuditTrail(handle)).ok).toBe(true);
  }

  it("verifies what the writer wrote: every worker's chain", async () => {
    const report = await verifyAuditTrail(handle);
    expect(report).toMatchObject({ ok: true, problems: [] });
    expect(report.entries).toBe(rows.length);
    expect(report.entries).toBeGreaterThanOrEqual(400);
  });

  it("names a modified row", async () => {
    const victim = rowAt(10);
    await tamper(db, `UPDATE "AuditEntry" SET "outcome" = 'FORBIDDEN' WHERE "id" = '${victim.id}'`);
    const report = await verifyAuditTrail(handle);
    expect(report.problems).toEqual([expect.objectContaining({ kind: "modified", id: victim.id, seq: victim.seq })]);
    await restore(victim.id);
  });

  it("names a deleted row by its missing seq", async () => {
    const victim = rowAt(20);
    await tamper(db, `DELETE FROM "AuditEntry" WHERE "id" = '${victim.id}'`);
    const report = await verifyAuditTrail(handle);
    expect(report.problems).toEqual([expect.objectContaining({ kind: "deleted", streamId: victim.streamId, seq: victim.seq })]);
    await restore(victim.id);
  });

  it("names reordered rows", async () => {
    const [a, b] = [rowAt(30), rowAt(31)];
    await tamper(db, `UPDATE "AuditEntry" SET "seq" = -1 WHERE "id" = '${a.id}';
      UPDATE "AuditEntry" SET "seq" = ${a.seq} WHERE "id" = '${b.id}';
      UPDATE "AuditEntry" SET "seq" = ${b.seq} WHERE "id" = '${a.id}';`);
    const report = await verifyAuditTrail(handle);
    expect(report.problems).toEqual([expect.objectContaining({ kind: "reordered", streamId: a.streamId, seq: a.seq })]);
    await restore(a.id, b.id);
  });

  it.runIf(provider === "postgresql")("refuses UPDATE and DELETE on the audit table with the trigger's message", async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await expect(client.query(`UPDATE "AuditEntry" SET "outcome" = 'x'`)).rejects.toThrow(/AuditEntry is append-only: UPDATE is not allowed/);
      await expect(client.query(`DELETE FROM "AuditEntry"`)).rejects.toThrow(/AuditEntry is append-only: DELETE is not allowed/);
      await expect(client.query(`TRUNCATE "AuditEntry"`)).rejects.toThrow(/append-only: TRUNCATE/);
    } finally {
      await client.end();
    }
    expect(await handle.prisma.auditEntry.count({ where: { streamId: { not: null } } })).toBe(rows.length);
  });

  it("purges entries older than the cut-off through the controlled path, records it, and still verifies", async () => {
    const cutoff = secondHalf;
    const report = await purgeAuditEntries(handle, { olderThan: cutoff, actor: { id: "admin-1", role: "admin" }, reason: "test policy" });
    expect(report.deleted).toBeGreaterThanOrEqual(200);
    expect(await handle.prisma.auditEntry.count({ where: { action: "patient.read" } })).toBe(200);
    expect(await handle.prisma.auditEntry.count({ where: { occurredAt: { lt: cutoff }, streamId: { not: null } } })).toBe(0);
    const entry = await handle.prisma.auditEntry.findUniqueOrThrow({ where: { id: report.entryId } });
    expect(entry).toMatchObject({ action: "audit.purge", actorId: "admin-1" });
    expect(entry.metadata).toMatchObject({ deleted: report.deleted, reason: "test policy" });
    expect(await verifyAuditTrail(handle)).toMatchObject({ ok: true, problems: [] });
  });

  it("purges whole chain prefixes only: an old entry linked after a younger one stays, and a second purge keeps the first one's starts", async () => {
    const stream = new ChainStream();
    const now = Date.now();
    const at = (daysAgo: number, i: number) =>
      stampEvent({ action: "record.read", entity: "DentalRecord", entityId: `r-${i}`, occurredAt: new Date(now - daysAgo * 86_400_000) }, undefined);
    // Linked in this order: very old, old, young, old again (a late replay, say).
    const chained = stream.link([at(500, 0), at(400, 1), at(1, 2), at(400, 3)]);
    const sink = createSink({ url: db.url });
    await sink.write(chained);
    await sink.close();
    await purgeAuditEntries(handle, { olderThan: new Date(now - 450 * 86_400_000), reason: "first" });
    const second = await purgeAuditEntries(handle, { olderThan: new Date(now - 300 * 86_400_000), reason: "second" });
    const left = await handle.prisma.auditEntry.findMany({ where: { streamId: stream.streamId }, orderBy: { seq: "asc" } });
    expect(left.map((r) => r.entityId)).toEqual(["r-2", "r-3"]); // r-3 is old but linked after r-2
    expect(second.streams).toEqual([expect.objectContaining({ streamId: stream.streamId, firstSeq: 3 })]);
    expect(await handle.prisma.auditEntry.count({ where: { action: "audit.purge" } })).toBe(3);
    expect(await verifyAuditTrail(handle)).toMatchObject({ ok: true, problems: [] });
  });
});
