/**
 * Demo data for the embedded default and for tests: one staff login per role and a handful of
 * patients. Idempotent: staff are upserted by email (passwords reset to the demo ones), patients
 * are added only to an empty table. The demo passwords are public: never seed a real database.
 */
import type { Database } from "./client.ts";
import { hashPassword } from "./password.ts";

export const DEMO_STAFF = [
  { email: "admin@clinic.test", name: "Ada Admin", role: "admin", password: "admin-demo-pass" },
  { email: "dentist@clinic.test", name: "Dr. Dana Molar", role: "dentist", password: "dentist-demo-pass" },
  { email: "hygienist@clinic.test", name: "Hal Hygienist", role: "hygienist", password: "hygienist-demo-pass" },
  { email: "reception@clinic.test", name: "Rita Reception", role: "receptionist", password: "reception-demo-pass" },
  { email: "auditor@clinic.test", name: "Otto Auditor", role: "auditor", password: "auditor-demo-pass" },
] as const;

const DEMO_PATIENTS = [
  {
    firstName: "Alice",
    lastName: "Nguyen",
    dateOfBirth: "1984-03-12",
    phone: "+1 555 0101",
    ssn: "123-45-6789",
    insuranceNumber: "INS-1001",
  },
  {
    firstName: "Bruno",
    lastName: "Okafor",
    dateOfBirth: "1979-11-02",
    phone: "+1 555 0102",
    ssn: "234-56-7890",
    insuranceNumber: "INS-1002",
  },
  { firstName: "Chen", lastName: "Li", dateOfBirth: "1992-07-25", phone: "+1 555 0103", ssn: "345-67-8901", insuranceNumber: "INS-1003" },
  {
    firstName: "Dolores",
    lastName: "Ruiz",
    dateOfBirth: "1958-01-30",
    phone: "+1 555 0104",
    ssn: "456-78-9012",
    insuranceNumber: "INS-1004",
  },
  {
    firstName: "Emil",
    lastName: "Varga",
    dateOfBirth: "2001-05-17",
    phone: "+1 555 0105",
    ssn: "567-89-0123",
    insuranceNumber: "INS-1005",
  },
] as const;

/** What patient search matches against: the names and email, lower-cased, space-separated. */
export function patientSearchKey(p: { firstName: string; lastName: string; email?: string | null | undefined }): string {
  return [p.firstName, p.lastName, p.email ?? ""].join(" ").trim().toLowerCase();
}

export interface SeedReport {
  readonly staff: readonly { email: string; role: string; password: string }[];
  readonly patientsCreated: number;
}

export async function seedDemoData(prisma: Database): Promise<SeedReport> {
  for (const person of DEMO_STAFF) {
    const passwordHash = await hashPassword(person.password);
    await prisma.user.upsert({
      where: { email: person.email },
      create: { email: person.email, name: person.name, role: person.role, passwordHash },
      update: { name: person.name, role: person.role, passwordHash, active: true },
    });
  }
  let patientsCreated = 0;
  if ((await prisma.patient.count()) === 0) {
    const { count } = await prisma.patient.createMany({
      data: DEMO_PATIENTS.map((p) => ({
        ...p,
        dateOfBirth: new Date(`${p.dateOfBirth}T00:00:00Z`),
        searchKey: patientSearchKey(p),
      })),
    });
    patientsCreated = count;
  }
  // Patients written before the searchKey column existed: fill it in (once; a no-op afterwards).
  for (const p of await prisma.patient.findMany({ where: { searchKey: "" } })) {
    await prisma.patient.update({ where: { id: p.id }, data: { searchKey: patientSearchKey(p) } });
  }
  return {
    staff: DEMO_STAFF.map(({ email, role, password }) => ({ email, role, password })),
    patientsCreated,
  };
}
