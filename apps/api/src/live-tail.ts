/**
 * The live tail behind `audit.tail`: entries matching a filter as they land in the table. The
 * writers insert in batches from worker threads (and other processes, transactions and
 * replays insert too), so an entry can become visible some time after its `occurredAt`. The tail
 * therefore polls a window — every entry stamped within the last `lagMs` — every `intervalMs`,
 * and emits the ids it has not emitted yet (oldest first within a poll). Memory is bounded by the
 * ids seen inside the window. One poll reads at most `maxPerPoll` rows; a poll cut short is
 * continued by the next one after its last row, and once a poll reaches the end the next starts
 * at the window's start again, so entries landing late are still caught while inside the window.
 * Under a load that keeps more rows in the window than the polls can read in `lagMs`, late ones
 * can be missed: it is a live view; the list and the export are the record.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Database, Prisma, Provider } from "@auditrail/db";
import { type AuditFilter, type AuditKey, type EntryOut, auditWhere, entryOut } from "./audit-query.ts";

export interface TailOptions {
  /** Pause between polls (default 500 ms). */
  readonly intervalMs?: number;
  /** How late after its time an entry may land in the table and still be shown (default 10 s). */
  readonly lagMs?: number;
  /** Rows read per poll at most (default 500). */
  readonly maxPerPoll?: number;
  /** The clock (default Date.now). */
  readonly now?: () => number;
}

/** Oldest first: the list's order (AUDIT_ORDER) reversed. */
const ASCENDING = [{ occurredAt: "asc" }, { id: "asc" }] satisfies Prisma.AuditEntryOrderByWithRelationInput[];

/**
 * Yields every entry matching `filter` that lands in the table after the call, until `signal`
 * aborts. Entries already stored when it starts are not yielded.
 */
export async function* tailEntries(
  prisma: Database,
  provider: Provider,
  filter: AuditFilter,
  signal: AbortSignal,
  options: TailOptions = {},
): AsyncGenerator<EntryOut> {
  const { intervalMs = 500, lagMs = 10_000, maxPerPoll = 500, now = Date.now } = options;
  /** Ids emitted (or present at the start), with their time, for entries inside the window. */
  const seen = new Map<string, number>();
  /** Where the last poll stopped reading when it hit maxPerPoll; the next one starts after it. */
  let resumeAfter: AuditKey | undefined;

  const poll = async () => {
    const windowStart = now() - lagMs;
    for (const [id, at] of seen) if (at < windowStart) seen.delete(id);
    const start = resumeAfter && Date.parse(resumeAfter[0]) >= windowStart ? resumeAfter : undefined;
    const rows = await prisma.auditEntry.findMany({
      where: {
        AND: [
          auditWhere(provider, filter),
          start
            ? { OR: [{ occurredAt: { gt: new Date(start[0]) } }, { occurredAt: new Date(start[0]), id: { gt: start[1] } }] }
            : { occurredAt: { gte: new Date(windowStart) } },
        ],
      },
      orderBy: ASCENDING,
      take: maxPerPoll,
    });
    const last = rows.at(-1);
    resumeAfter = rows.length === maxPerPoll && last ? [last.occurredAt.toISOString(), last.id] : undefined;
    const fresh = rows.filter((row) => !seen.has(row.id));
    for (const row of fresh) seen.set(row.id, row.occurredAt.getTime());
    return fresh;
  };

  await poll(); // what is already there is not news
  while (!signal.aborted) {
    await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
    if (signal.aborted) return;
    for (const row of await poll()) yield entryOut(row);
  }
}
