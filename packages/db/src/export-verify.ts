/**
 * Verifying an export offline (`audit:verify --export FILE`): the NDJSON export carries every
 * entry with its chain fields, so loading it into a scratch SQLite file and walking that with
 * verifyAuditTrail checks it against the anchored seals and the public key exactly as the
 * database itself would be checked. An export of the whole trail verifies OK; one filtered by
 * actor, entity or time shows the entries it left out as deleted or truncated. Dead letters come
 * as `{"deadLetter": <entry>}` lines (see export-lines.ts) and fill their seqs as the DeadLetter
 * table does in the database.
 */
import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import Database from "better-sqlite3";
import { AUDIT_COLUMNS, JSON_COLUMNS } from "./audit-rows.ts";
import { DEAD_LETTER_LINE_KEY } from "./export-lines.ts";
import { type TrailReport, type VerifyTrailOptions, verifyAuditTrail } from "./verify.ts";

/** A line of the export that is not an exported entry. */
export class ExportFormatError extends Error {
  constructor(file: string, line: number, reason: string) {
    super(`${file}:${line}: ${reason}`);
    this.name = "ExportFormatError";
  }
}

export async function verifyExportFile(file: string, options: Omit<VerifyTrailOptions, "url" | "sealTable">): Promise<TrailReport> {
  const dir = await mkdtemp(join(tmpdir(), "auditrail-export-"));
  try {
    const path = join(dir, "export.db");
    const db = new Database(path);
    try {
      db.exec(`CREATE TABLE "AuditEntry" (${AUDIT_COLUMNS.map((c) => `"${c}"`).join(", ")});
               CREATE INDEX "AuditEntry_streamId_seq_idx" ON "AuditEntry"("streamId", "seq");
               CREATE INDEX "AuditEntry_action_idx" ON "AuditEntry"("action");
               CREATE TABLE "DeadLetter" ("id", "entry");
               CREATE TABLE "AuditSeal" ("id", "trail", "number", "note");`);
      const insert = db.prepare(`INSERT INTO "AuditEntry" VALUES (${AUDIT_COLUMNS.map(() => "?").join(", ")})`);
      const insertLetter = db.prepare(`INSERT INTO "DeadLetter" VALUES (?, ?)`);
      const batch = db.transaction((rows: unknown[][]) => {
        for (const row of rows) (row.length === 2 ? insertLetter : insert).run(row);
      });
      let rows: unknown[][] = [];
      let n = 0;
      for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })) {
        n++;
        if (rows.length === 5_000) {
          batch(rows);
          rows = [];
        }
        if (line.trim() === "") continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch (error) {
          throw new ExportFormatError(file, n, `not JSON (${(error as Error).message}); export with format=ndjson`);
        }
        if (typeof parsed !== "object" || parsed === null)
          throw new ExportFormatError(file, n, "not an exported audit entry nor a dead letter");
        const entry = parsed as Record<string, unknown>;
        const letter = entry[DEAD_LETTER_LINE_KEY] as Record<string, unknown> | undefined;
        if (typeof letter === "object" && letter !== null && typeof letter.id === "string") {
          rows.push([letter.id, JSON.stringify(letter)]);
          continue;
        }
        if (typeof entry.id !== "string" || typeof entry.occurredAt !== "string" || !("hash" in entry)) {
          throw new ExportFormatError(
            file,
            n,
            "not an exported audit entry (id, occurredAt and the chain fields are required) nor a dead letter",
          );
        }
        rows.push(
          AUDIT_COLUMNS.map((c) => (JSON_COLUMNS.has(c) ? (entry[c] == null ? null : JSON.stringify(entry[c])) : (entry[c] ?? null))),
        );
      }
      batch(rows);
    } finally {
      db.close();
    }
    return await verifyAuditTrail({ ...options, url: `file:${path}`, sealTable: false });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
