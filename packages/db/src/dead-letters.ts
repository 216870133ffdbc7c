/**
 * `@auditrail/db/dead-letters`: the entries the database rejected as invalid (poison), kept by the
 * SQL sinks in the DeadLetter table with their error — the entry as JSON text, which accepts
 * anything the writer accepted. List them to see what went wrong; once the cause is fixed (a
 * constraint relaxed, a column widened), replay them: each entry is inserted again through the
 * same sink (skip duplicates, so a replay repeated or interrupted never doubles a row) and its
 * letter is marked `replayedAt`. Letters still rejected stay pending, with the new error and one
 * more attempt counted.
 * Letters that reached no table (the database was unreachable when they were decided) wait in the
 * writer's fallback file, `<spoolDir>/dead-letters.ndjson`: pass `spoolDir` and they are listed
 * too, and moved into the table before a replay (`importDeadLetterFile`). CLI:
 * `pnpm --filter @auditrail/db dead-letters list|replay [--spool <dir>]`.
 */
import { rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import {
  type AuditEntry,
  AuditEntrySchema,
  type ChainLink,
  DEAD_LETTER_FILE,
  classifyError,
  messageOf,
  readDeadLetterFile,
} from "@auditrail/audit-core";
import { type DatabaseHandle, createDatabase } from "./client.ts";
import type { SinkEntry } from "./audit-rows.ts";
import { createSink } from "./sink.ts";

/** The chain link a dead-lettered entry carries (the writer linked it before the sink refused it), if any. */
function linkOf(stored: unknown): Partial<ChainLink> {
  if (stored === null || typeof stored !== "object") return {};
  const { streamId, seq, prevHash, hash } = stored as Record<string, unknown>;
  if (typeof streamId !== "string" || typeof seq !== "number" || typeof hash !== "string") return {};
  if (prevHash !== null && typeof prevHash !== "string") return {};
  return { streamId, seq, prevHash, hash };
}

export interface DeadLetterRow {
  readonly id: string;
  /** The entry, parsed from its stored JSON text. */
  readonly entry: unknown;
  readonly error: string;
  readonly attempts: number;
  readonly failedAt: Date;
  readonly replayedAt: Date | null;
  /** table: the DeadLetter table; file: the writer's fallback file, not imported yet. */
  readonly source: "table" | "file";
}

export interface ListDeadLettersOptions {
  /** Only letters not replayed yet (default true). */
  readonly pending?: boolean;
  readonly limit?: number;
  /** The writer's spool folder: letters waiting in its fallback file are listed too (first). */
  readonly spoolDir?: string;
}

/** Dead letters, oldest first. `db` is an open handle or a database URL. */
export async function listDeadLetters(db: DatabaseHandle | string, options: ListDeadLettersOptions = {}): Promise<DeadLetterRow[]> {
  const fromFile: DeadLetterRow[] = options.spoolDir
    ? (await readDeadLetterFile(options.spoolDir)).map((l) => ({
        id: l.entry.id,
        entry: l.entry,
        error: l.error,
        attempts: l.attempts,
        failedAt: new Date(l.failedAt),
        replayedAt: null,
        source: "file" as const,
      }))
    : [];
  const rows = await withHandle(db, (handle) =>
    handle.prisma.deadLetter.findMany({
      where: (options.pending ?? true) ? { replayedAt: null } : {},
      orderBy: [{ failedAt: "asc" }, { id: "asc" }],
      ...(options.limit === undefined ? {} : { take: options.limit }),
    }),
  );
  const all = [...fromFile, ...rows.map((r) => ({ ...r, entry: parseStored(r.entry), source: "table" as const }))];
  return options.limit === undefined ? all : all.slice(0, options.limit);
}

/** The stored text parsed; text that is not JSON (never written by the sinks) stays text. */
function parseStored(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * Moves the letters of the writer's fallback file into the DeadLetter table (skipping ids kept
 * already) and removes the file; returns how many it moved. The file is renamed first, so a
 * writer appending meanwhile starts a new one, and an import interrupted is finished by the next.
 */
export async function importDeadLetterFile(url: string, spoolDir: string): Promise<number> {
  const importing = join(spoolDir, "dead-letters.importing.ndjson");
  await rename(join(spoolDir, DEAD_LETTER_FILE), importing).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT") throw error;
  });
  const letters = await readDeadLetterFile(spoolDir, "dead-letters.importing.ndjson");
  if (letters.length > 0) {
    const sink = createSink({ url });
    try {
      await sink.deadLetter(letters);
    } finally {
      await sink.close();
    }
  }
  await unlink(importing).catch(() => undefined);
  return letters.length;
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
  options: { readonly ids?: readonly string[]; readonly batchSize?: number; readonly spoolDir?: string } = {},
): Promise<ReplayReport> {
  const batchSize = options.batchSize ?? 500;
  if (options.spoolDir) await importDeadLetterFile(url, options.spoolDir);
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
        const entries: SinkEntry[] = [];
        for (const row of rows) {
          const stored = parseStored(row.entry);
          const parsed = AuditEntrySchema.safeParse(stored);
          // The schema keeps the entry's fields only; its chain link goes back with it, or the
          // replayed row would leave a gap in its stream and stand outside every seal.
          if (parsed.success) entries.push({ ...parsed.data, ...linkOf(stored) });
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
