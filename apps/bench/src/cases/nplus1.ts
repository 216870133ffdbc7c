/**
 * N+1 detection: SQL statements the app's connection runs for one audited list call at page
 * sizes 10 and 100 — equal when nothing is loaded per row. Also the audit write path: the
 * statements a transactional bulk import issues for 10 and for 100 rows (one audit INSERT each).
 */
import type { Clinic } from "../clinic.ts";

export interface NPlusOneResult {
  readonly page10: number;
  readonly page100: number;
  readonly auditList10: number;
  readonly auditList100: number;
  readonly importRows10: number;
  readonly importRows100: number;
}

export async function nplus1(clinic: Clinic): Promise<NPlusOneResult> {
  const { client } = await clinic.login("receptionist");
  const existing = await clinic.prisma.patient.count();
  const missing = Math.max(0, 120 - existing);
  for (let i = 0; i < missing; i++) {
    await client.patient.create.mutate({ firstName: `Bench${i}`, lastName: "Patient", dateOfBirth: "1990-01-01" });
  }
  const page = async (limit: number) => (await clinic.statements(() => client.patient.list.query({ limit }))).statements;
  const { client: auditor } = await clinic.login("auditor");
  await clinic.flush();
  const auditPage = async (limit: number) => (await clinic.statements(() => auditor.audit.list.query({ limit }))).statements;
  const dentist = await clinic.prisma.user.findFirstOrThrow({ where: { role: "dentist" } });
  const patients = await clinic.prisma.patient.findMany({ take: 100, select: { id: true } });
  let day = 0;
  const importRows = async (n: number) => {
    day++;
    const appointments = Array.from({ length: n }, (_, i) => ({
      patientId: (patients[i % patients.length] as { id: string }).id,
      dentistId: dentist.id,
      startsAt: new Date(Date.UTC(2031, 0, day, 0, 0) + i * 600_000).toISOString(),
      endsAt: new Date(Date.UTC(2031, 0, day, 0, 0) + i * 600_000 + 300_000).toISOString(),
      reason: "bench import",
    }));
    return (await clinic.statements(() => client.appointment.import.mutate({ appointments }))).statements;
  };
  return {
    page10: await page(10),
    page100: await page(100),
    auditList10: await auditPage(10),
    auditList100: await auditPage(100),
    importRows10: await importRows(10),
    importRows100: await importRows(100),
  };
}
