/**
 * The spool: append-only segment files of entries (one JSON line each) on local disk.
 * - async mode: every entry is appended, and `record` resolves once the bytes are written (the
 *   kernel's page cache: they survive the process being killed, not a power loss);
 * - durable mode: every entry is appended, and `record` resolves once its segment is fsynced;
 * - overflow `spill`: entries that find the queue full go here instead of memory;
 * - shutdown: what could not be written before the deadline is spilled here.
 * Appends are group-committed: all appends made while one write (and fsync) runs share the next
 * one, so an event-loop turn's entries cost one write call, not one per entry.
 * One process owns the folder at a time (./lock.ts).
 * Segments are read back ("replayed") oldest first, and a segment is deleted once every entry in
 * it is written or dead-lettered. Segments left by an earlier process are replayed at start;
 * an entry written twice that way is skipped by the sink (ids are unique), never doubled.
 */
import { type FileHandle, appendFile, mkdir, open, readdir, readFile, unlink } from "node:fs/promises";
import { ftruncateSync, writeSync } from "node:fs";
import { join } from "node:path";
import { SpoolCorruptError } from "../errors.ts";
import { type AuditEntry, AuditEntrySchema } from "../event.ts";
import { lockSpool } from "./lock.ts";

interface Segment {
  readonly id: number;
  readonly file: string;
  /** true: its entries are only on disk and must be replayed; false: they were queued as well. */
  readonly replay: boolean;
  appended: number;
  settled: number;
  /** Bytes of the file's committed lines: a failed commit is cut back to it. */
  size: number;
  sealed: boolean;
  /** Entries appended and not written yet; serialised when written, never inside record(). */
  pending: AuditEntry[];
  /** Some waiter asked for an fsync (durable mode, spills at close). */
  fsync: boolean;
  waiters: AppendDone[];
  handle: FileHandle | undefined;
}

/** Called once an append is written (error undefined) or failed; `segment` holds it. */
export type AppendDone = (error: unknown, segment: number) => void;

export interface ReplayChunk {
  readonly segment: number;
  readonly entries: readonly AuditEntry[];
}

const SEGMENT = /^segment-(\d{16})\.ndjson$/;
/** Entries appended without the event loop turning after which group commits wait for a turn. */
const YIELD_AFTER = 1_000;
/** Entries serialised per write call. */
const WRITE_SLICE = 256;
/** Where unreadable spool lines are set aside. */
export const CORRUPT_FILE = "corrupt.ndjson";

/**
 * The file operations a group commit makes, in one object so a test can replace one (vi.spyOn) to
 * make the disk fail (ENOSPC, EIO) at a chosen call.
 */
export const spoolFs = {
  open: (file: string): Promise<FileHandle> => open(file, "a"),
  writeSync: (fd: number, bytes: Buffer, offset: number, length: number): number => writeSync(fd, bytes, offset, length),
  ftruncateSync: (fd: number, length: number): void => ftruncateSync(fd, length),
};

export interface SpoolHooks {
  /** A segment was deleted: every entry in it is written or dead-lettered. */
  readonly onRemoved?: (segment: number) => void;
  /**
   * A segment's file failed to close (a delayed EIO). Its lines were written (and synced, where
   * the mode syncs) before: nothing is lost, and the spool carries on; the error is only told.
   */
  readonly onError?: (error: unknown) => void;
}

export class Spool {
  private readonly segments = new Map<number, Segment>();
  /** The segment appends go to, one for entries also queued and one for entries only on disk. */
  private readonly active = new Map<boolean, Segment>();
  private nextId: number;
  private syncing: Promise<void> = Promise.resolve();
  private syncScheduled = false;
  /** Entries appended since the event loop last turned, and whether a turn is being watched for. */
  private sinceTurn = 0;
  private turnWatch = false;
  private reading: { segment: number; file: string; lines: string[]; index: number } | undefined;

  private constructor(
    readonly dir: string,
    private readonly maxSegmentEntries: number,
    /** Segments left by an earlier process, found at open; replayed first. */
    readonly leftover: readonly number[],
    private readonly unlock: () => Promise<void>,
    private readonly hooks: SpoolHooks,
  ) {
    for (const id of leftover) {
      this.segments.set(id, this.segment(id, true, true));
    }
    this.nextId = (leftover.at(-1) ?? 0) + 1;
  }

  /**
   * Opens (creating) the spool folder and takes its lock (SpoolLockedError if another live writer
   * holds it); segments already there are queued for replay.
   */
  static async open(dir: string, maxSegmentEntries: number, hooks: SpoolHooks = {}): Promise<Spool> {
    await mkdir(dir, { recursive: true });
    const unlock = await lockSpool(dir);
    const ids = (await readdir(dir))
      .map((name) => SEGMENT.exec(name)?.[1])
      .filter((id): id is string => id !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    return new Spool(dir, maxSegmentEntries, ids, unlock, hooks);
  }

  /** Entries on disk waiting to be replayed (known segments only; those from a previous run count once read). */
  get backlog(): number {
    let n = 0;
    for (const s of this.segments.values()) if (s.replay) n += s.appended - s.settled;
    return n;
  }

  /** True while any segment still needs replaying. */
  get hasReplay(): boolean {
    for (const s of this.segments.values()) if (s.replay) return true;
    return false;
  }

  /**
   * Appends entries to the active segment of their kind (`replay`: only on disk, to be read back;
   * else also queued in memory), rotating when full, and resolves with the segment id once the
   * bytes are written — and fsynced, if `fsync`.
   */
  append(entries: readonly AuditEntry[], replay: boolean, fsync: boolean): Promise<number> {
    return new Promise((resolve, reject) => {
      this.appendThen(entries, replay, fsync, (error, segment) => (error === undefined ? resolve(segment) : reject(error)));
    });
  }

  /** `append` for the hot path: calls `done` instead of making promises (record() makes one). */
  appendThen(entries: readonly AuditEntry[], replay: boolean, fsync: boolean, done: AppendDone): void {
    let segment = this.active.get(replay);
    if (!segment || segment.appended >= this.maxSegmentEntries) {
      this.seal(replay);
      segment = this.segment(this.nextId++, replay, false);
      this.segments.set(segment.id, segment);
      this.active.set(replay, segment);
    }
    for (const entry of entries) segment.pending.push(entry);
    segment.appended += entries.length;
    if (fsync) segment.fsync = true;
    segment.waiters.push(done);
    this.countTurn(entries.length);
    this.scheduleSync();
  }

  /** Takes up to `max` entries to replay, oldest segment first; undefined when none. */
  async nextReplay(max: number): Promise<ReplayChunk | undefined> {
    if (!this.reading) {
      const next = [...this.segments.values()].find((s) => s.replay && !this.isRead(s));
      if (!next) return undefined;
      if (!next.sealed) this.seal(true);
      await this.syncing;
      const lines = await this.readLines(next);
      next.appended = lines.length;
      this.reading = { segment: next.id, file: next.file, lines, index: 0 };
    }
    // Lines are parsed (and validated) a chunk at a time, so one large segment never blocks the
    // event loop for long.
    const reading = this.reading;
    let end = Math.min(reading.lines.length, reading.index + max);
    const entries: AuditEntry[] = [];
    for (let i = reading.index; i < end; i++) {
      const line = reading.lines[i] as string;
      let entry: AuditEntry;
      try {
        entry = parseLine(reading.file, i, line);
      } catch (error) {
        if (entries.length > 0) {
          end = i; // hand over what parsed; the bad line comes first next time
          break;
        }
        // Set the line aside (corrupt.ndjson, with where it came from), count it settled and move
        // past it, so the replay goes on; the caller learns of it from the error.
        reading.index = i + 1;
        await appendFile(join(this.dir, CORRUPT_FILE), `${JSON.stringify({ file: reading.file, line: i + 1, text: line })}\n`);
        if (reading.index >= reading.lines.length) {
          this.readDone.add(reading.segment);
          this.reading = undefined;
        }
        await this.settle(reading.segment, 1);
        throw error;
      }
      entries.push(entry);
    }
    reading.index = end;
    if (reading.index >= reading.lines.length) {
      this.readDone.add(reading.segment);
      this.reading = undefined;
    }
    if (entries.length === 0) {
      // No whole entry in it (empty, or only a torn line): nothing will ever settle it, so drop it.
      await this.settle(reading.segment, 0);
      return this.nextReplay(max);
    }
    return { segment: reading.segment, entries };
  }

  /** Counts `count` entries of `segment` as written or dead-lettered; deletes it when all are. */
  async settle(segment: number, count: number): Promise<void> {
    const s = this.segments.get(segment);
    if (!s) return;
    s.settled += count;
    // An active segment of queued entries, all acknowledged: done with it (the next append starts
    // a new one), so an idle writer leaves no file behind.
    if (!s.replay && !s.sealed && s.settled >= s.appended && s.pending.length === 0) this.seal(false);
    if (s.sealed && s.settled >= s.appended && s.pending.length === 0 && (!s.replay || this.isRead(s))) {
      this.segments.delete(segment);
      this.readDone.delete(segment);
      await this.syncing;
      await this.closeFile(s);
      await unlink(s.file).catch(() => undefined);
      this.hooks.onRemoved?.(segment);
    }
  }

  /** Waits for pending appends to be synced, closes every file, deletes fully settled segments. */
  async close(): Promise<void> {
    this.seal(true);
    this.seal(false);
    try {
      await this.drainSync();
      for (const s of [...this.segments.values()]) {
        await this.closeFile(s);
        if (s.settled >= s.appended && (!s.replay || this.readDone.has(s.id))) {
          this.segments.delete(s.id);
          await unlink(s.file).catch(() => undefined);
        }
      }
    } finally {
      await this.unlock();
    }
  }

  private readonly readDone = new Set<number>();

  /** Closes a segment's file; a failure is told (hooks.onError), never thrown: see SpoolHooks. */
  private async closeFile(s: Segment): Promise<void> {
    const { handle } = s;
    s.handle = undefined;
    await handle?.close().catch((error: unknown) => this.hooks.onError?.(error));
  }

  private isRead(s: Segment): boolean {
    return this.readDone.has(s.id) || this.reading?.segment === s.id;
  }

  private seal(replay: boolean): void {
    const active = this.active.get(replay);
    if (active) active.sealed = true;
    this.active.delete(replay);
  }

  private segment(id: number, replay: boolean, sealed: boolean): Segment {
    const file = join(this.dir, `segment-${String(id).padStart(16, "0")}.ndjson`);
    return { id, file, replay, appended: 0, settled: 0, size: 0, sealed, pending: [], fsync: false, waiters: [], handle: undefined };
  }

  /**
   * The group commit runs as a microtask, so an awaited record() resolves without waiting for the
   * event loop to turn. But a caller awaiting record() in a tight loop would then never let it
   * turn: no batch would leave and the queue would fill and spill everything. So once
   * YIELD_AFTER entries were appended without the loop turning, the next commits wait for the
   * check phase (setImmediate) and the loop turns. (Measured, 30,000 awaited records in a tight
   * loop: with microtasks only, 1,000 were written meanwhile and 20,000 spilled.)
   */
  private scheduleSync(): void {
    if (this.syncScheduled) return;
    this.syncScheduled = true;
    const previous = this.syncing;
    const start = this.sinceTurn < YIELD_AFTER ? previous : new Promise<void>((resolve) => setImmediate(resolve)).then(() => previous);
    const run = () => {
      this.syncScheduled = false;
      return this.syncAll();
    };
    // Run after the previous commit however it ended: one that failed must not stop the rest.
    this.syncing = start.then(run, run);
  }

  /** Counts appends until the event loop turns (see scheduleSync). */
  private countTurn(entries: number): void {
    this.sinceTurn += entries;
    if (this.turnWatch) return;
    this.turnWatch = true;
    setImmediate(() => {
      this.sinceTurn = 0;
      this.turnWatch = false;
    });
  }

  private async drainSync(): Promise<void> {
    while (this.syncScheduled || [...this.segments.values()].some((s) => s.pending.length > 0)) {
      this.scheduleSync();
      await this.syncing;
    }
  }

  /**
   * One group commit: every segment's pending entries serialised and written in one call, then
   * fdatasync if any waiter asked for it, then waiters resolved. A commit that fails is rolled
   * back: the file is cut back to its size before the commit (a torn half-line would otherwise
   * swallow the next commit's first line, and the complete lines of rejected appends would be
   * replayed), and its entries no longer count as appended. If even the cut fails, the segment is
   * sealed: later appends start a new file, and only a torn last line, which replay drops, can
   * follow the failed commit.
   */
  private async syncAll(): Promise<void> {
    let thrown: { error: unknown } | undefined;
    for (const s of [...this.segments.values()]) {
      if (s.pending.length === 0) continue;
      const { pending, waiters, fsync } = s;
      s.pending = [];
      s.waiters = [];
      s.fsync = false;
      const sizeBefore = s.size;
      let failure: unknown;
      try {
        if (!s.handle) {
          s.handle = await spoolFs.open(s.file);
          s.size = (await s.handle.stat()).size;
        }
        // Serialised a slice at a time, each slice one write: a burst of thousands of entries
        // never holds the event loop for more than one slice's JSON.stringify (between slices it
        // yields a turn). The write itself is synchronous: into the page cache it takes a few µs,
        // where a write through libuv's thread pool costs a thread hand-off each way (measured:
        // an awaited record() went from ~40-85 µs to ~12 µs at p50, apps/bench/RESULTS.md), and
        // a turn's receipts resolve in that same turn.
        for (let i = 0; i < pending.length; i += WRITE_SLICE) {
          if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
          let data = "";
          const end = Math.min(pending.length, i + WRITE_SLICE);
          for (let j = i; j < end; j++) data += `${JSON.stringify(pending[j])}\n`;
          const bytes = Buffer.from(data);
          writeAll(s.handle.fd, bytes);
          s.size += bytes.length;
        }
        if (fsync) await s.handle.datasync();
      } catch (error) {
        failure = error ?? new Error("spool write failed");
        s.appended -= pending.length;
        this.rollBack(s, sizeBefore);
      }
      // Each waiter is told once, outside the try: one that throws (a bug) neither has the others
      // told twice nor keeps them waiting; its error rejects this commit once all are told.
      for (const done of waiters) {
        try {
          done(failure, s.id);
        } catch (error) {
          thrown ??= { error };
        }
      }
      // Every waiter has its answer; a late error from close (EIO) must not stop later commits.
      if (s.sealed && s.handle && s.pending.length === 0) await this.closeFile(s);
    }
    if (thrown) throw thrown.error;
  }

  /** Cuts a failed commit's bytes off the segment; if that fails too, no append goes there again. */
  private rollBack(s: Segment, sizeBefore: number): void {
    try {
      if (s.handle) spoolFs.ftruncateSync(s.handle.fd, sizeBefore);
      s.size = sizeBefore;
    } catch {
      if (this.active.get(s.replay) === s) this.seal(s.replay);
    }
  }

  /**
   * The segment's complete lines. Every append ends its line with "\n" in the same write, so a
   * last line without one is torn — what a crash mid-append leaves. Its record() had not resolved
   * (a receipt waits for its line's write, and in durable mode for the fdatasync after it), so
   * nobody was told it was kept: it is dropped. (Async mode resolves before any fsync, so a power
   * loss can tear a line whose receipt did resolve: async survives kill -9, not power loss.)
   */
  private async readLines(s: Segment): Promise<string[]> {
    const text = await readFile(s.file, "utf8").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return "";
      throw error;
    });
    const lines = text.split("\n");
    lines.pop(); // "" after the final newline, or the torn line
    return lines;
  }
}

/** write(2) until every byte is in: a regular file may take a large write in parts. */
function writeAll(fd: number, bytes: Buffer): void {
  let at = 0;
  while (at < bytes.length) at += spoolFs.writeSync(fd, bytes, at, bytes.length - at);
}

/** One spooled entry; anything but a valid entry is corruption and stops the replay. */
function parseLine(file: string, index: number, line: string): AuditEntry {
  try {
    return AuditEntrySchema.parse(JSON.parse(line));
  } catch (error) {
    throw new SpoolCorruptError(file, index + 1, error);
  }
}
