/**
 * Every write transaction of the API: SERIALIZABLE (the only level SQLite has, and what makes the
 * double-booking check safe on PostgreSQL without locks), retried with jittered backoff when the
 * database aborts it as a conflict with a concurrent transaction:
 * - PostgreSQL: a serialization failure or deadlock (40001 / 40P01, Prisma P2034);
 * - SQLite: SQLITE_BUSY (Prisma P1008). Prisma opens transactions with a deferred BEGIN, so one
 *   that reads first and then writes cannot upgrade its lock if another connection — an audit
 *   writer's worker, say — committed in between (SQLITE_BUSY_SNAPSHOT, no busy wait); a retry
 *   starts from a fresh snapshot.
 * Retries are bounded (RETRY_LIMITS: attempts and total time); past the bound the call fails with
 * CONFLICT ("try again"), never with the database's error. A TRPCError thrown by the callback
 * rolls back and is never retried.
 */
import type { Database, Transaction } from "@auditrail/db";
import { TRPCError } from "@trpc/server";

export interface RetryLimits {
  /** Tries in all (the first included). */
  readonly attempts: number;
  /** No new try starts this long after the first began. */
  readonly budgetMs: number;
  /** Backoff before try n: uniformly random in [0, min(capMs, baseMs · 2^n)). */
  readonly baseMs: number;
  readonly capMs: number;
}

export const RETRY_LIMITS: RetryLimits = { attempts: 12, budgetMs: 10_000, baseMs: 10, capMs: 500 };

export function transact<T>(prisma: Database, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  return retryConflicts(() => prisma.$transaction(fn, { isolationLevel: "Serializable", maxWait: 10_000, timeout: 20_000 }));
}

/**
 * Runs `attempt` again while it fails with a serialization failure or a busy database, within
 * `limits`; then throws CONFLICT (the last failure as its cause). Other errors pass through.
 */
export async function retryConflicts<T>(attempt: () => Promise<T>, limits: RetryLimits = RETRY_LIMITS, what = "The change"): Promise<T> {
  const started = Date.now();
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isSerializationFailure(error)) throw error;
      const delay = Math.random() * Math.min(limits.capMs, limits.baseMs * 2 ** n);
      if (n >= limits.attempts || Date.now() - started + delay >= limits.budgetMs) {
        throw new TRPCError({
          code: "CONFLICT",
          message: `${what} collided with concurrent writes ${n} times in ${Math.round((Date.now() - started) / 100) / 10} s and was not made: try again.`,
          cause: error,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * Prisma's P2034 ("write conflict or deadlock") or P1008 (SQLite busy), PostgreSQL's 40001 / 40P01
 * underneath, or a driver adapter's error of kind TransactionWriteConflict (PostgreSQL) or
 * SocketTimeout (SQLite busy) — raw statements (`$executeRaw` in a transaction) throw those
 * without a Prisma code.
 */
export function isSerializationFailure(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e: unknown = error; e && typeof e === "object" && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const { code, kind } = e as { code?: unknown; kind?: unknown };
    if (code === "P2034" || code === "P1008" || code === "40001" || code === "40P01") return true;
    if (kind === "TransactionWriteConflict" || kind === "SocketTimeout") return true;
    const meta = (e as { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown; kind?: unknown } } } }).meta;
    const cause = meta?.driverAdapterError?.cause;
    if (cause?.originalCode === "40001" || cause?.originalCode === "40P01" || cause?.kind === "TransactionWriteConflict") return true;
  }
  return false;
}
