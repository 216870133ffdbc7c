/**
 * Why the sink does not use Prisma's createMany: the same 1,000-row batches inserted through
 * `prisma.auditEntry.createMany` and through the sink's own path (SQLite: one transaction of
 * prepared statements; PostgreSQL: one `unnest` statement), best of `rounds`, in one run.
 */
import { type AuditEntry, stampEvent } from "@auditrail/audit-core";
import { createSink, writeInTransaction } from "@auditrail/db/sink";
import { type Target, patientUpdate, tagFor } from "../target.ts";

export interface BatchInsertResult {
  readonly batch: number;
  readonly createManyMs: number;
  readonly sinkMs: number;
  /** createMany time / sink time: how many times faster the sink's path is. */
  readonly sinkSpeedup: number;
}

function entries(n: number, action: string): AuditEntry[] {
  return Array.from({ length: n }, () => stampEvent(patientUpdate(action), undefined));
}

export async function batchInsert(target: Target, batch: number, rounds: number): Promise<BatchInsertResult> {
  const sink = createSink({ url: target.url });
  let createManyMs = Number.POSITIVE_INFINITY;
  let sinkMs = Number.POSITIVE_INFINITY;
  for (let round = 0; round < rounds + 1; round++) {
    const a = entries(batch, tagFor("createMany"));
    let t0 = performance.now();
    await writeInTransaction(target.db.prisma, a); // Prisma's createMany, as transactional mode uses it
    const cm = performance.now() - t0;
    const b = entries(batch, tagFor("sinkWrite"));
    t0 = performance.now();
    await sink.write(b);
    const sw = performance.now() - t0;
    if (round > 0) {
      // round 0 warms both paths
      createManyMs = Math.min(createManyMs, cm);
      sinkMs = Math.min(sinkMs, sw);
    }
  }
  await sink.close();
  return { batch, createManyMs, sinkMs, sinkSpeedup: createManyMs / sinkMs };
}
