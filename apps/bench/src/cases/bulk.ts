/**
 * A bulk mutation of `rows` rows: appointment.import (transactional: the appointments and one
 * audit entry per appointment commit together). Time, entries written, statements issued.
 */
import type { Clinic } from "../clinic.ts";

export interface BulkResult {
  readonly rows: number;
  readonly ms: number;
  readonly entriesWritten: number;
  readonly statements: number;
}

export async function bulk(clinic: Clinic, rows: number): Promise<BulkResult> {
  const { client } = await clinic.login("receptionist");
  const dentist = await clinic.prisma.user.findFirstOrThrow({ where: { role: "dentist" } });
  const patients = await clinic.prisma.patient.findMany({ take: 100, select: { id: true } });
  const start = Date.UTC(2032, 0, 1);
  const appointments = Array.from({ length: rows }, (_, i) => ({
    patientId: (patients[i % patients.length] as { id: string }).id,
    dentistId: dentist.id,
    startsAt: new Date(start + i * 600_000).toISOString(),
    endsAt: new Date(start + i * 600_000 + 300_000).toISOString(),
    reason: "bulk bench",
  }));
  const before = await clinic.prisma.auditEntry.count({ where: { action: "appointment.schedule" } });
  const t0 = performance.now();
  const { result, statements } = await clinic.statements(() => client.appointment.import.mutate({ appointments }));
  const ms = performance.now() - t0;
  const entriesWritten = (await clinic.prisma.auditEntry.count({ where: { action: "appointment.schedule" } })) - before;
  if (result.created.length !== rows) throw new Error(`bulk import created ${result.created.length} of ${rows}`);
  return { rows, ms, entriesWritten, statements };
}
