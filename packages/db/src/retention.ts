/**
 * Retention: the one controlled way audit entries leave the table. Entries older than the cut-off
 * go, stream by stream as whole prefixes (so no stream is left with a hole: a prefix stops before
 * the first entry young enough to keep), inside one transaction that also records the purge as an
 * audit entry. That entry says where each purged stream now starts (first seq kept, and the hash
 * it links to), so `verifyAuditTrail` still passes afterwards, while a deletion made any other way
 * fails it. Limitation: purge entries themselves are not chained, so someone who can write SQL
 * can forge one to hide a deleted prefix.
 *
 * On PostgreSQL the append-only trigger (migration audit_append_only) refuses every UPDATE and
 * DELETE unless `auditrail.purge` is set for the transaction, which only this module does.
 */
import { type AuditActor, PURGE_ACTION, type PurgeStart, stampEvent } from "@auditrail/audit-core";
import type { DatabaseHandle, Transaction } from "./client.ts";
import { writeInTransaction } from "./sink.ts";

export interface PurgeOptions {
  /** Entries that occurred before this instant are purged. */
  readonly olderThan: Date;
  /** Who purges (recorded in the purge's own entry). */
  readonly actor?: AuditActor | undefined;
  /** Why (recorded too), e.g. "retention policy: 6 years". */
  readonly reason?: string | undefined;
}

export interface PurgeReport {
  readonly deleted: number;
  readonly streams: readonly PurgeStart[];
  /** The id of the purge's own audit entry. */
  readonly entryId: string;
}

export async function purgeAuditEntries(handle: Pick<DatabaseHandle, "prisma" | "provider">, options: PurgeOptions): Promise<PurgeReport> {
  const { olderThan } = options;
  return handle.prisma.$transaction(
    async (tx) => {
      await allowPurge(handle, tx);
      const [oldest, youngest] = await Promise.all([
        tx.auditEntry.groupBy({ by: ["streamId"], where: { occurredAt: { lt: olderThan }, streamId: { not: null } }, _max: { seq: true } }),
        tx.auditEntry.groupBy({ by: ["streamId"], where: { occurredAt: { gte: olderThan }, streamId: { not: null } }, _min: { seq: true } }),
      ]);
      // seq order is not time order (a replayed entry is linked late): a prefix stops before the
      // first entry young enough to keep, so nothing younger than the cut-off goes.
      const firstKept = new Map(youngest.map((y) => [y.streamId as string, y._min.seq as number]));
      const streams: PurgeStart[] = [];
      let deleted = 0;
      for (const cut of oldest) {
        const streamId = cut.streamId as string;
        const lastSeq = Math.min(cut._max.seq as number, (firstKept.get(streamId) ?? Number.POSITIVE_INFINITY) - 1);
        if (lastSeq < 1) continue;
        const last = await tx.auditEntry.findFirst({ where: { streamId, seq: lastSeq }, select: { hash: true } });
        streams.push({ streamId, firstSeq: lastSeq + 1, prevHash: last?.hash ?? null });
        deleted += (await tx.auditEntry.deleteMany({ where: { streamId, seq: { lte: lastSeq } } })).count;
      }
      // Unchained rows (transactional writes) go by time; earlier purges' own entries stay, since
      // they say where purged streams start.
      deleted += (await tx.auditEntry.deleteMany({ where: { streamId: null, occurredAt: { lt: olderThan }, action: { not: PURGE_ACTION } } })).count;
      const entry = stampEvent(
        {
          action: PURGE_ACTION,
          entity: "AuditEntry",
          actor: options.actor,
          metadata: { olderThan: olderThan.toISOString(), deleted, reason: options.reason ?? null, streams: streams.map((s) => ({ ...s })) },
        },
        undefined,
      );
      await writeInTransaction(tx, [entry]);
      return { deleted, streams, entryId: entry.id };
    },
    { timeout: 120_000, maxWait: 10_000 },
  );
}

/** PostgreSQL: lets this transaction (only) delete audit rows past the append-only trigger. */
export async function allowPurge(handle: Pick<DatabaseHandle, "provider">, tx: Transaction): Promise<void> {
  if (handle.provider === "postgresql") await tx.$queryRawUnsafe(`SELECT set_config('auditrail.purge', 'on', true)`);
}
