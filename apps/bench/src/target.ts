/**
 * A database under test: a fresh migrated database per provider and run, a Prisma handle to count
 * rows, and a factory for writers on the Prisma sink (each with its own spool folder).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuditEvent, type AuditWriter, type AuditWriterOptions, createAuditWriter } from "@auditrail/audit-core";
import { type DatabaseHandle, type Provider, createDatabase } from "@auditrail/db";
import { sqlSinkSpec } from "@auditrail/db/sink";
import { type TestDatabase, createTestDatabase } from "@auditrail/db/testing";

export interface Target {
  readonly provider: Provider;
  readonly url: string;
  readonly db: DatabaseHandle;
  openWriter(options?: Omit<AuditWriterOptions, "sink" | "spoolDir">): Promise<AuditWriter>;
  /** Rows of the AuditEntry table whose action is `action`. */
  countRows(action: string): Promise<number>;
  close(): Promise<void>;
}

export async function openTarget(provider: Provider): Promise<Target> {
  const database: TestDatabase = await createTestDatabase(provider);
  const db = createDatabase(database.url);
  const spoolRoot = await mkdtemp(join(tmpdir(), "auditrail-bench-"));
  const writers: AuditWriter[] = [];
  let n = 0;
  return {
    provider,
    url: database.url,
    db,
    openWriter: async (options = {}) => {
      const writer = await createAuditWriter({
        ...options,
        sink: sqlSinkSpec({ url: database.url }),
        spoolDir: join(spoolRoot, `w${n++}`),
      });
      writers.push(writer);
      return writer;
    },
    countRows: (action) => db.prisma.auditEntry.count({ where: { action } }),
    close: async () => {
      for (const w of writers) await w.close({ deadlineMs: 10_000 });
      await db.close();
      await database.drop();
      await rm(spoolRoot, { recursive: true, force: true });
    },
  };
}

let seq = 0;

/** A realistic entry: a patient update by a dentist, with before/after/diff of a few fields. */
export function patientUpdate(action: string): AuditEvent {
  seq++;
  return {
    action,
    entity: "Patient",
    entityId: `patient-${seq % 500}`,
    actor: { id: "staff-dentist-1", role: "dentist" },
    path: "patient.update",
    durationMs: 3.2,
    before: { firstName: "Alice", lastName: "Nguyen", phone: "+1 555 0101", email: "alice@example.test" },
    after: {
      firstName: "Alice",
      lastName: "Nguyen",
      phone: `+1 555 ${String(seq % 10_000).padStart(4, "0")}`,
      email: "alice@example.test",
    },
    diff: { phone: { from: "+1 555 0101", to: `+1 555 ${String(seq % 10_000).padStart(4, "0")}` } },
    requestId: `req-${seq}`,
    ip: "10.0.0.12",
    userAgent: "clinic-frontend/1.4",
  };
}

/** A unique action per case and run, so rows can be counted without id lists. */
export function tagFor(caseName: string): string {
  return `bench.${caseName}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}
