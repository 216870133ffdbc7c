/**
 * Why the sink does not use Prisma's createMany: the same 1,000-row batches inserted through
 * `prisma.auditEntry.createMany` and through the sink's own path (SQLite: one transaction of
 * prepared statements; PostgreSQL: one `unnest` statement), best of `rounds`, in one run.
 */
import { type AuditEntry, uuidv7 } from "@auditrail/audit-core";
import { createSink } from "@auditrail/db/sink";
import { type Target, patientUpdate, tagFor } from "../target.ts";

export interface BatchInsertResult {
  readonly batch: number;
  readonly createManyMs: number;
  readonly sinkMs: number;
  /** createMany time / sink time: how many times faster the sink's path is. */
  readonly sinkSpeedup: number;
}

function entries(n: number, action: string): AuditEntry[] {
  return Array.from({ length: n }, () => {
    const e = patientUpdate(action);
    return {
      id: uuidv7(), occurredAt: new Date().toISOString(), action, entity: e.entity, entityId: e.entityId ?? null,
      outcome: "ok", actorId: e.actor?.id ?? null, actorRole: e.actor?.role ?? null, path: e.path ?? null,
      durationMs: e.durationMs ?? null, before: e.before ?? null, after: e.after ?? null, diff: e.diff ?? null,
      metadata: null, requestId: e.requestId ?? null, ip: e.ip ?? null, userAgent: e.userAgent ?? null,
    };
  });
}

export async function batchInsert(target: Target, batch: number, rounds: number): Promise<BatchInsertResult> {
  const sink = createSink({ url: target.url });
  let createManyMs = Number.POSITIVE_INFINITY;
  let sinkMs = Number.POSITIVE_INFINITY;
  for (let round = 0; round < rounds + 1; round++) {
    const a = entries(batch, tagFor("createMany"));
    let t0 = performance.now();
    await target.db.prisma.auditEntry.createMany({
      data: a.map((e) => ({ ...e, occurredAt: new Date(e.occurredAt), before: e.before ?? undefined, after: e.after ?? undefined, diff: e.diff ?? undefined, metadata: undefined })),
    });
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
