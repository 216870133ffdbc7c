/**
 * Retention: the one controlled way audit entries leave the table. Entries older than the cut-off
 * go, stream by stream as whole prefixes (a prefix stops before the first entry young enough to
 * keep, so no stream is left with a hole), in one transaction that also appends the purge's own
 * entry to the database's stream. That entry records, per stream, the first seq kept, the hash it
 * links to and the Merkle log over the removed prefix (`PurgeRecord`), so verify can go on
 * checking the sealed roots from there.
 *
 * A purge is only accepted by verify once a signed seal carries the new starts: the caller hands
 * `report.streams` to the sealer (`sealer.notePurge`). A purge nobody signed — or a purge entry
 * forged in SQL — leaves rows missing below a signed start, which verify reports.
 *
 * The deletion itself: PostgreSQL — the SECURITY DEFINER function auditrail_purge() (migration
 * `seals`), the only path past the append-only triggers for the application's role; SQLite — the
 * connection's auditrail_purging() flag, raised inside this transaction only.
 */
import { type AuditActor, type ChainedEntry, MerkleLog, PURGE_ACTION, entryLeaf, stampEvent } from "@auditrail/audit-core";
import type { DatabaseHandle, Transaction } from "./client.ts";
import { whileSqlitePurging } from "./purge-flag.ts";
import { writeInTransaction } from "./sink.ts";
import type { PurgeRecord } from "./verify.ts";

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
  /** Where each purged stream now starts: hand these to the sealer (notePurge) to sign them. */
  readonly streams: readonly PurgeRecord[];
  /** The id of the purge's own audit entry. */
  readonly entryId: string;
}

const PAGE = 10_000;

export async function purgeAuditEntries(handle: Pick<DatabaseHandle, "prisma" | "provider">, options: PurgeOptions): Promise<PurgeReport> {
  const { olderThan } = options;
  return handle.prisma.$transaction(
    async (tx) => {
      const [oldest, youngest, earlier] = await Promise.all([
        tx.auditEntry.groupBy({ by: ["streamId"], where: { occurredAt: { lt: olderThan }, streamId: { not: null } }, _max: { seq: true } }),
        tx.auditEntry.groupBy({
          by: ["streamId"],
          where: { occurredAt: { gte: olderThan }, streamId: { not: null } },
          _min: { seq: true },
        }),
        tx.auditEntry.findMany({ where: { action: PURGE_ACTION }, select: { metadata: true } }),
      ]);
      // seq order is not time order (a replayed entry is linked late): a prefix stops before the
      // first entry young enough to keep, so nothing younger than the cut-off goes.
      const firstKept = new Map(youngest.map((y) => [y.streamId as string, y._min.seq as number]));
      const previous = latestRecords(earlier.map((e) => e.metadata));
      const streams: PurgeRecord[] = [];
      for (const cut of oldest) {
        const streamId = cut.streamId as string;
        const lastSeq = Math.min(cut._max.seq as number, (firstKept.get(streamId) ?? Number.POSITIVE_INFINITY) - 1);
        const from = previous.get(streamId);
        if (lastSeq < (from?.firstSeq ?? 1)) continue;
        streams.push(await prefixRecord(tx, streamId, from, lastSeq));
      }
      const cuts = streams.map((s) => ({ streamId: s.streamId, lastSeq: s.firstSeq - 1 }));
      const deleted = await deletePrefixes(handle.provider, tx, olderThan, cuts);
      const entry = stampEvent(
        {
          action: PURGE_ACTION,
          entity: "AuditEntry",
          actor: options.actor,
          metadata: {
            olderThan: olderThan.toISOString(),
            deleted,
            reason: options.reason ?? null,
            streams: streams.map((s) => ({ ...s, prefix: { ...s.prefix, frontier: [...s.prefix.frontier] } })),
          },
        },
        undefined,
      );
      await writeInTransaction(tx, [entry]);
      return { deleted, streams, entryId: entry.id };
    },
    { timeout: 120_000, maxWait: 10_000 },
  );
}

/** Per stream, the purge record with the highest start among earlier purges' entries. */
function latestRecords(metadata: readonly unknown[]): Map<string, PurgeRecord> {
  const latest = new Map<string, PurgeRecord>();
  for (const m of metadata) {
    const streams = (m as { streams?: unknown } | null)?.streams;
    if (!Array.isArray(streams)) continue;
    for (const s of streams as PurgeRecord[]) {
      if (typeof s?.streamId !== "string" || typeof s.prefix !== "object") continue;
      const known = latest.get(s.streamId);
      if (!known || s.firstSeq > known.firstSeq) latest.set(s.streamId, s);
    }
  }
  return latest;
}

/**
 * The record for removing seqs up to `lastSeq`: the Merkle log over them (continued from the
 * previous purge's record, if any), read page by page; dead letters fill their own seqs.
 */
async function prefixRecord(tx: Transaction, streamId: string, from: PurgeRecord | undefined, lastSeq: number): Promise<PurgeRecord> {
  const log = from ? MerkleLog.restore(from.prefix) : new MerkleLog();
  let prevHash = from?.prevHash ?? null;
  const letters = new Map<number, string>();
  for (const { entry } of await tx.deadLetter.findMany({ select: { entry: true } })) {
    const e = (typeof entry === "string" ? JSON.parse(entry) : entry) as Partial<ChainedEntry> | null;
    if (e?.streamId === streamId && typeof e.seq === "number" && typeof e.hash === "string") letters.set(e.seq, e.hash);
  }
  let next = log.size + 1;
  while (next <= lastSeq) {
    const rows = await tx.auditEntry.findMany({
      where: { streamId, seq: { gte: next, lte: lastSeq } },
      orderBy: { seq: "asc" },
      select: { seq: true, hash: true },
      take: PAGE,
    });
    for (const row of rows) {
      for (; next < (row.seq as number); next++) appendLetter(log, letters, streamId, next);
      if (row.seq !== next) continue; // a duplicate seq: verify reports it; the first one counts
      log.append(entryLeaf(row.hash as string));
      prevHash = row.hash;
      next++;
    }
    if (rows.length < PAGE) break;
  }
  for (; next <= lastSeq; next++) prevHash = appendLetter(log, letters, streamId, next);
  return { streamId, firstSeq: lastSeq + 1, prevHash, prefix: log.state() };
}

function appendLetter(log: MerkleLog, letters: ReadonlyMap<number, string>, streamId: string, seq: number): string {
  const hash = letters.get(seq);
  if (hash === undefined) throw new PurgeGapError(streamId, seq);
  log.append(entryLeaf(hash));
  return hash;
}

/** A purge found a hole in what it was to remove: it refuses rather than sign over it. */
export class PurgeGapError extends Error {
  constructor(
    readonly streamId: string,
    readonly seq: number,
  ) {
    super(`cannot purge stream ${streamId}: seq ${seq} is neither stored nor dead-lettered (run verify)`);
    this.name = "PurgeGapError";
  }
}

async function deletePrefixes(
  provider: DatabaseHandle["provider"],
  tx: Transaction,
  olderThan: Date,
  cuts: readonly { streamId: string; lastSeq: number }[],
): Promise<number> {
  if (provider === "postgresql") {
    const [row] = await tx.$queryRawUnsafe<{ n: number }[]>(
      `SELECT auditrail_purge($1::timestamp, $2::jsonb) AS n`,
      olderThan.toISOString(),
      JSON.stringify(cuts),
    );
    return Number(row?.n ?? 0);
  }
  return whileSqlitePurging(async () => {
    let deleted = 0;
    for (const { streamId, lastSeq } of cuts) {
      deleted += (await tx.auditEntry.deleteMany({ where: { streamId, seq: { lte: lastSeq } } })).count;
    }
    // Unchained rows (written before transactional entries were chained) go by time; earlier
    // purges' own entries stay.
    deleted += (await tx.auditEntry.deleteMany({ where: { streamId: null, occurredAt: { lt: olderThan }, action: { not: PURGE_ACTION } } }))
      .count;
    return deleted;
  });
}
