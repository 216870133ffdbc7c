/**
 * The SQLite audit sink: better-sqlite3 on its own connection (one per worker), WAL journal, and a
 * busy timeout so a writer waits out another's lock before SQLITE_BUSY (which is retried). A batch
 * is one transaction of a prepared single-row `INSERT … ON CONFLICT DO NOTHING` run per entry, and
 * duplicates of a retried batch are skipped. A duplicate is skipped only when the stored row is
 * the entry's own (same streamId, seq and hash): a chained entry stored under another link (another
 * stream wrote it meanwhile) rolls the batch back with EntriesStoredElsewhereError (see
 * postgres-sink.ts); only a row whose insert changed nothing is looked up. Measured against one prepared multi-row statement per
 * 20, 100 or 500 rows (50,000 rows in batches of 500, CPU time per row, which holds up on a loaded
 * machine): the single-row statement cost 17–18 µs a row, the multi-row ones 19–21 µs, so it stays.
 * JSON columns hold their canonical text (canonicalJsonText), which verify hashes as it is.
 */
import {
  type AuditEntry,
  type AuditSink,
  type DeadLetter,
  EntriesStoredElsewhereError,
  type SignedSeal,
  sealHash,
} from "@auditrail/audit-core";
import Database from "better-sqlite3";
import { AUDIT_COLUMNS, type SinkEntry, auditRow, quoted } from "./audit-rows.ts";

interface StoredLink {
  readonly streamId: string | null;
  readonly seq: number | null;
  readonly hash: string | null;
}

/** Prisma stores SQLite DateTime as ISO-8601 text with an explicit offset; match it exactly. */
export const sqliteTime = (iso: string) => iso.replace(/Z$/, "+00:00");

/** `file:./x.db?…` → `./x.db` (relative paths resolve from the working directory, as Prisma's do). */
export function sqlitePath(url: string): string {
  return url.slice("file:".length).split("?")[0] as string;
}

export class SqliteAuditSink implements AuditSink {
  private readonly db: Database.Database;
  private readonly insertBatch: (entries: readonly SinkEntry[]) => void;
  private readonly insertLetters: (letters: readonly DeadLetter[]) => void;
  private readonly selectExisting: Database.Statement<[{ ids: string }], { id: string }>;
  private readonly insertSeal: Database.Statement<[string, string, number, string, string]>;

  constructor(url: string, busyTimeoutMs: number) {
    this.db = new Database(sqlitePath(url), { timeout: busyTimeoutMs, fileMustExist: true });
    this.db.pragma("journal_mode = WAL");
    const columns = AUDIT_COLUMNS.map(quoted).join(", ");
    const params = AUDIT_COLUMNS.map(() => "?").join(", ");
    const insert = this.db.prepare(`INSERT INTO "AuditEntry" (${columns}) VALUES (${params}) ON CONFLICT ("id") DO NOTHING`);
    const letter = this.db.prepare(
      `INSERT INTO "DeadLetter" ("id", "entry", "error", "attempts", "failedAt") VALUES (?, ?, ?, ?, ?)
       ON CONFLICT ("id") DO NOTHING`,
    );
    // Dead letters count too: a rejected entry replayed again must not take a new place in a chain.
    this.selectExisting = this.db.prepare(
      `SELECT "id" FROM "AuditEntry" WHERE "id" IN (SELECT value FROM json_each(@ids))
       UNION SELECT "id" FROM "DeadLetter" WHERE "id" IN (SELECT value FROM json_each(@ids))`,
    );
    this.insertSeal = this.db.prepare(
      `INSERT INTO "AuditSeal" ("id", "trail", "number", "sealedAt", "note") VALUES (?, ?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    );
    const storedLink = this.db.prepare<[string], StoredLink>(`SELECT "streamId", "seq", "hash" FROM "AuditEntry" WHERE "id" = ?`);
    this.insertBatch = this.db.transaction((entries: readonly SinkEntry[]) => {
      const elsewhere: string[] = [];
      for (const entry of entries) {
        if (insert.run(auditRow(entry, sqliteTime)).changes > 0 || typeof entry.streamId !== "string") continue;
        const stored = storedLink.get(entry.id);
        if (stored && (stored.streamId !== entry.streamId || stored.seq !== entry.seq || stored.hash !== entry.hash)) {
          elsewhere.push(entry.id);
        }
      }
      // Throwing rolls the transaction back: nothing of the batch is stored.
      if (elsewhere.length > 0) throw new EntriesStoredElsewhereError(elsewhere);
    });
    this.insertLetters = this.db.transaction((letters: readonly DeadLetter[]) => {
      for (const l of letters) {
        letter.run(l.entry.id, JSON.stringify(l.entry), l.error, l.attempts, sqliteTime(l.failedAt));
      }
    });
  }

  async write(entries: readonly AuditEntry[]): Promise<void> {
    this.insertBatch(entries);
  }

  async existing(ids: readonly string[]): Promise<ReadonlySet<string>> {
    return new Set(this.selectExisting.all({ ids: JSON.stringify(ids) }).map((r) => r.id));
  }

  async deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    this.insertLetters(letters);
  }

  /** Keeps a signed seal (a copy: verify trusts the anchors), skipping one already stored. */
  async storeSeal(signed: SignedSeal): Promise<void> {
    const { seal } = signed;
    this.insertSeal.run(sealHash(signed), seal.trail, seal.number, sqliteTime(seal.time), signed.text);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
