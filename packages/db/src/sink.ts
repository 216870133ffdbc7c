/**
 * `@auditrail/db/sink`: the audit sink module workers load by spec. It picks the SQL sink for the
 * URL; `sqlSinkSpec(url)` is what an app passes to createAuditWriter. `writeInTransaction`
 * serves transactional mode: the entries are inserted by the business transaction itself, so
 * both commit or neither does.
 */
import { isMainThread } from "node:worker_threads";
import { type AuditEntry, type AuditSink, type ChainedEntry, type SinkOptions, type SinkSpec, chainHash } from "@auditrail/audit-core";
import { z } from "zod";
import type { Transaction } from "./client.ts";
import { PostgresAuditSink } from "./postgres-sink.ts";
import { SqliteAuditSink } from "./sqlite-sink.ts";
import { providerOf } from "./url.ts";

export const SqlSinkOptionsSchema = z.strictObject({
  url: z.string().min(1),
  /**
   * SQLite: how long to wait on another writer's lock before SQLITE_BUSY (retried with backoff
   * anyway). In a worker thread the wait blocks inside a native call, where it cannot see a stop
   * request: a closing writer waits 1 s (CLOSE_STOP_WAIT_MS) for a busy worker to stop by itself,
   * then terminates it — and terminating a thread inside that call aborts the process. So the
   * default is 250 ms in worker threads (close() never needs to terminate one mid-wait) and 5 s on
   * the main thread (the sync writer, the sealer, the dead-letter CLI), which nothing terminates.
   */
  sqliteBusyTimeoutMs: z.number().int().min(0).optional(),
  /** PostgreSQL: connections per worker. */
  pgPoolSize: z.number().int().min(1).max(50).default(2),
  /**
   * PostgreSQL: a connection attempt (or the wait for a free pooled connection) taking longer
   * fails, retryably. Without it a connect into a silent network hangs for good.
   */
  pgConnectTimeoutMs: z.number().int().min(1).max(600_000).default(5_000),
  /**
   * PostgreSQL: a query unanswered this long fails (retryably) and its connection is dropped from
   * the pool. Without it a connection that went silent (network partition, lost NAT/firewall
   * state, server host gone) keeps its pooled client checked out forever, and once every client
   * is stuck the writer never writes again, even after the database is back. Keep it at or above
   * the writer's retry.writeTimeoutMs, which abandons the attempt first.
   */
  pgQueryTimeoutMs: z.number().int().min(1).max(600_000).default(15_000),
});

export type SqlSinkOptions = z.input<typeof SqlSinkOptionsSchema>;

/** The module entry: builds the sink for `options.url` (throws on a URL of no known provider). */
export function createSink(options: SinkOptions): AuditSink {
  const { url, sqliteBusyTimeoutMs, pgPoolSize, pgConnectTimeoutMs, pgQueryTimeoutMs } = SqlSinkOptionsSchema.parse(options);
  return providerOf(url) === "sqlite"
    ? new SqliteAuditSink(url, sqliteBusyTimeoutMs ?? defaultSqliteBusyTimeoutMs())
    : new PostgresAuditSink(url, { poolSize: pgPoolSize, connectTimeoutMs: pgConnectTimeoutMs, queryTimeoutMs: pgQueryTimeoutMs });
}

/** The busy timeout when none is given: short in worker threads, 5 s on the main thread (see the option). */
export function defaultSqliteBusyTimeoutMs(): number {
  return isMainThread ? 5_000 : 250;
}

/** The spec naming this module's built file, for createAuditWriter({ sink }). */
export function sqlSinkSpec(options: SqlSinkOptions): SinkSpec {
  providerOf(options.url);
  // Resolves to dist/sink.js from src/ (tests, tsx) and from dist/ alike: workers need built JS.
  return { module: new URL("../dist/sink.js", import.meta.url).href, options: { ...options } };
}

/**
 * The database's own stream: entries written by business transactions (transactional mode) and
 * purge entries. The writer's workers each chain their own stream; these rows are chained here, in
 * the transaction that writes them, so a seal covers them like any other stream.
 */
export const TRANSACTIONAL_STREAM = "transactional";

/**
 * Transactional mode: inserts the entries inside the caller's Prisma transaction, chained as the
 * next links of the database's stream. The stream's head row stays locked until the transaction
 * ends (PostgreSQL: row lock; SQLite: the write lock), so such appends are serialised, and one
 * that rolls back leaves no gap. Returns the entries as stored.
 */
export async function writeInTransaction(tx: Transaction, entries: readonly AuditEntry[]): Promise<ChainedEntry[]> {
  if (entries.length === 0) return [];
  const head = await lockStreamHead(tx, TRANSACTIONAL_STREAM);
  let prevHash = head.hash;
  let seq = head.seq;
  const chained = entries.map((entry): ChainedEntry => {
    const hash = chainHash(entry, TRANSACTIONAL_STREAM, prevHash);
    const link = { ...entry, streamId: TRANSACTIONAL_STREAM, seq: ++seq, prevHash, hash };
    prevHash = hash;
    return link;
  });
  await tx.auditEntry.createMany({
    // A JSON column left out is stored as NULL (Prisma takes no plain null for a Json field).
    data: chained.map(({ before, after, diff, metadata, ...e }) => ({
      ...e,
      occurredAt: new Date(e.occurredAt),
      ...(before != null && { before }),
      ...(after != null && { after }),
      ...(diff != null && { diff }),
      ...(metadata != null && { metadata }),
    })),
  });
  await tx.$executeRaw`UPDATE "AuditStreamHead" SET "seq" = ${seq}, "hash" = ${prevHash} WHERE "streamId" = ${TRANSACTIONAL_STREAM}`;
  return chained;
}

/** Locks the stream's head row (made on first use) for this transaction and reads it: one statement. */
async function lockStreamHead(tx: Transaction, streamId: string): Promise<{ seq: number; hash: string | null }> {
  const [row] = await tx.$queryRaw<{ seq: number; hash: string | null }[]>`
    INSERT INTO "AuditStreamHead" ("streamId", "seq", "hash") VALUES (${streamId}, 0, NULL)
    ON CONFLICT ("streamId") DO UPDATE SET "seq" = "AuditStreamHead"."seq"
    RETURNING "seq", "hash"`;
  return { seq: Number(row?.seq ?? 0), hash: row?.hash ?? null };
}
