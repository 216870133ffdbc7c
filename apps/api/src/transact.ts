/**
 * Every write transaction of the API: SERIALIZABLE (the only level SQLite has, and what makes the
 * double-booking check safe on PostgreSQL without locks), retried with jittered backoff when the
 * database aborts it as a conflict with a concurrent transaction:
 * - PostgreSQL: a serialization failure or deadlock (40001 / 40P01, Prisma P2034);
 * - SQLite: SQLITE_BUSY (Prisma P1008). Prisma opens transactions with a deferred BEGIN, so one
 *   that reads first and then writes cannot upgrade its lock if another connection — an audit
 *   writer's worker, say — committed in between (SQLITE_BUSY_SNAPSHOT, no busy wait); a retry
 *   starts from a fresh snapshot.
 * A TRPCError thrown by the callback rolls back and is never retried.
 */
import type { Database, Transaction } from "@auditrail/db";

const ATTEMPTS = 5;

export async function transact<T>(prisma: Database, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await prisma.$transaction(fn, { isolationLevel: "Serializable", maxWait: 10_000, timeout: 20_000 });
    } catch (error) {
      if (attempt >= ATTEMPTS || !isSerializationFailure(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * 2 ** attempt));
    }
  }
}

/** Prisma's P2034 ("write conflict or deadlock") or P1008 (SQLite busy), or PostgreSQL's 40001 / 40P01 underneath. */
export function isSerializationFailure(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e: unknown = error; e && typeof e === "object" && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (code === "P2034" || code === "P1008" || code === "40001" || code === "40P01") return true;
    const meta = (e as { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown; kind?: unknown } } } }).meta;
    const cause = meta?.driverAdapterError?.cause;
    if (cause?.originalCode === "40001" || cause?.originalCode === "40P01" || cause?.kind === "TransactionWriteConflict") return true;
  }
  return false;
}
