/**
 * `@auditrail/db/dead-letters`: the entries the database rejected as invalid (poison), kept by the
 * SQL sinks in the DeadLetter table with their error. List them to see what went wrong; once the
 * cause is fixed (a constraint relaxed, a column widened), replay them: each entry is inserted
 * again through the same sink (skip duplicates, so a replay repeated or interrupted never doubles
 * a row) and its letter is marked `replayedAt`. Letters still rejected stay pending, with the new
 * error and one more attempt counted.
 */
import { type AuditEntry, AuditEntrySchema, classifyError, messageOf } from "@auditrail/audit-core";
import { type DatabaseHandle, createDatabase } from "./client.ts";
import { createSink } from "./sink.ts";

export interface DeadLetterRow {
  readonly id: string;
  readonly entry: unknown;
  readonly error: string;
  readonly attempts: number;
  readonly failedAt: Date;
  readonly replayedAt: Date | null;
}

export interface ListDeadLettersOptions {
  /** Only letters not replayed yet (default true). */
  readonly pending?: boolean;
  readonly limit?: number;
}

/** Dead letters, oldest first. `db` is an open handle or a database URL. */
export async function listDeadLetters(db: DatabaseHandle | string, options: ListDeadLettersOptions = {}): Promise<DeadLetterRow[]> {
  return withHandle(db, (handle) =>
    handle.prisma.deadLetter.findMany({
      where: (options.pending ?? true) ? { replayedAt: null } : {},
      orderBy: [{ failedAt: "asc" }, { id: "asc" }],
      ...(options.limit === undefined ? {} : { take: options.limit }),
    }),
  );
}

export interface ReplayReport {
  /** Letters whose entry is now in AuditEntry (inserted now, or found there already). */
  readonly replayed: number;
  /** Letters the database still rejects (they stay pending), with the error. */
  readonly failed: ReadonlyArray<{ readonly id: string; readonly error: string }>;
}

/**
 * Re-inserts the entries of pending dead letters (optionally only `ids`) and marks them replayed.
 * A retryable error (the database unreachable) stops the replay and is thrown: nothing is marked
 * that was not written, so running it again later is safe.
 */
export async function replayDeadLetters(
  url: string,
  options: { readonly ids?: readonly string[]; readonly batchSize?: number } = {},
): Promise<ReplayReport> {
  const batchSize = options.batchSize ?? 500;
  const sink = createSink({ url });
  const failed: Array<{ id: string; error: string }> = [];
  let replayed = 0;
  try {
    await withHandle(url, async (handle) => {
      const { prisma } = handle;
      const done = async (ids: readonly string[]) => {
        await prisma.deadLetter.updateMany({ where: { id: { in: [...ids] } }, data: { replayedAt: new Date() } });
        replayed += ids.length;
      };
      const reject = async (id: string, error: unknown) => {
        const message = messageOf(error);
        failed.push({ id, error: message });
        await prisma.deadLetter.update({ where: { id }, data: { error: message, attempts: { increment: 1 } } });
      };
      const write = async (entries: readonly AuditEntry[]) => {
        try {
          await sink.write(entries);
          return undefined;
        } catch (error) {
          if (classifyError(error, sink) === "retryable") throw error;
          return error;
        }
      };
      let after = "";
      for (;;) {
        const rows = await prisma.deadLetter.findMany({
          where: { replayedAt: null, id: { gt: after, ...(options.ids ? { in: [...options.ids] } : {}) } },
          orderBy: { id: "asc" },
          take: batchSize,
        });
        if (rows.length === 0) break;
        after = (rows.at(-1) as { id: string }).id;
        const entries: AuditEntry[] = [];
        for (const row of rows) {
          const parsed = AuditEntrySchema.safeParse(row.entry);
          if (parsed.success) entries.push(parsed.data);
          else await reject(row.id, new Error(`stored entry is not a valid audit entry: ${parsed.error.message}`));
        }
        if (entries.length === 0) continue;
        // The whole batch in one go; if the database still rejects some, find them one by one.
        if ((await write(entries)) === undefined) {
          await done(entries.map((e) => e.id));
          continue;
        }
        for (const entry of entries) {
          const error = await write([entry]);
          if (error === undefined) await done([entry.id]);
          else await reject(entry.id, error);
        }
      }
    });
  } finally {
    await sink.close();
  }
  return { replayed, failed };
}


async function withHandle<T>(db: DatabaseHandle | string, fn: (handle: DatabaseHandle) => Promise<T>): Promise<T> {
  if (typeof db !== "string") return fn(db);
  const handle = createDatabase(db);
  try {
    return await fn(handle);
  } finally {
    await handle.close();
  }
}
