/**
 * N+1 guard: the SQL statements a call sends through the app's Prisma client are counted at the
 * driver adapter (createDatabase's onStatement hook). List procedures, bulk mutations and the audit
 * write path must cost the same number of statements whatever the page or batch size.
 */
import { patientSearchKey } from "@auditrail/db";
import { testProviders } from "@auditrail/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Client, type Harness, startHarness } from "./harness.ts";

const DAY = "2033-04-04";

describe.each(testProviders())("SQL statements per call on %s", (provider) => {
  let h: Harness;
  let admin: Client;
  let auditor: Client;
  let patientIds: string[];
  let chartId: string;
  let dentistId: string;

  beforeAll(async () => {
    h = await startHarness(provider);
    admin = await h.as("admin");
    auditor = await h.as("auditor");
    dentistId = (await h.staff("dentist")).id;
    const people = Array.from({ length: 240 }, (_, i) => ({
      firstName: `Many${String(i).padStart(3, "0")}`,
      lastName: "Statement",
      dateOfBirth: new Date("1970-01-01T00:00:00Z"),
      ssn: `100-00-${String(1000 + i)}`,
    }));
    await h.db.prisma.patient.createMany({ data: people.map((p) => ({ ...p, searchKey: patientSearchKey(p) })) });
    patientIds = (await h.db.prisma.patient.findMany({ where: { lastName: "Statement" }, orderBy: { firstName: "asc" } })).map((p) => p.id);
    chartId = patientIds[0] as string;
    await h.db.prisma.dentalRecord.createMany({
      data: Array.from({ length: 120 }, (_, i) => ({
        patientId: chartId,
        authorId: dentistId,
        toothNumber: (i % 32) + 1,
        procedureCode: "D0120",
        notes: "",
      })),
    });
    await h.db.prisma.appointment.createMany({
      data: Array.from({ length: 120 }, (_, i) => ({
        patientId: patientIds[i] as string,
        dentistId,
        startsAt: new Date(Date.parse(`${DAY}T00:00:00Z`) + i * 10 * 60_000),
        endsAt: new Date(Date.parse(`${DAY}T00:00:00Z`) + (i * 10 + 5) * 60_000),
        reason: "r",
      })),
    });
    await Promise.all(
      Array.from({ length: 150 }, (_, i) => h.writer.record({ action: "seed.event", entity: "Seed", entityId: String(i) })),
    );
    await h.flush();
  });
  afterAll(() => h?.close());

  const atSizes = async (call: (size: number) => Promise<unknown>) => {
    const small = await h.statements(() => call(10));
    const large = await h.statements(() => call(100));
    return { small, large };
  };

  it.each([
    ["patient.list", (n: number) => admin.patient.list.query({ search: "statement", limit: n })],
    ["record.listByPatient", (n: number) => admin.record.listByPatient.query({ patientId: chartId, limit: n })],
    ["appointment.list", (n: number) => admin.appointment.list.query({ day: DAY, limit: n })],
    ["audit.list", (n: number) => auditor.audit.list.query({ entity: "Seed", limit: n })],
  ] as const)("%s costs the same few statements for a page of 10 and of 100", async (_name, call) => {
    const { small, large } = await atSizes(call);
    expect(large.count).toBe(small.count);
    // The session lookup (session + user), the page, and at most two relations loaded in bulk.
    expect(small.count).toBeLessThanOrEqual(5);
  });

  it("a cursor page costs what the first page costs", async () => {
    const first = await h.statements(() => admin.patient.list.query({ search: "statement", limit: 50 }));
    const cursor = first.result.nextCursor ?? "";
    const next = await h.statements(() => admin.patient.list.query({ search: "statement", limit: 50, cursor }));
    expect(next.count).toBe(first.count);
  });

  it("async mode: an audited update sends no audit SQL on the request's connection (workers write in batches)", async () => {
    const [a, b] = [patientIds[1] as string, patientIds[2] as string];
    const one = await h.statements(() => admin.patient.update.mutate({ id: a, phone: "+1 555 0001" }));
    const two = await h.statements(() => admin.patient.update.mutate({ id: b, phone: "+1 555 0002" }));
    expect(one.count).toBe(two.count);
    expect(one.sql.some((s) => s.includes("AuditEntry"))).toBe(false);
    expect(await h.entries({ action: "patient.update", entityId: a })).toHaveLength(1);
  });

  it("an audited update reads the patient once: the handler's read is the entry's before (no second lookup for the diff)", async () => {
    const id = patientIds[3] as string;
    const { sql } = await h.statements(() => admin.patient.update.mutate({ id, phone: "+1 555 0003" }));
    expect(sql.filter((s) => /^SELECT .* FROM \S*Patient\W/.test(s))).toHaveLength(1);
    const [entry] = await h.entries({ action: "patient.update", entityId: id });
    expect(entry?.diff).toContainEqual({ path: "phone", from: null, to: "+1 555 0003" });
    expect((entry?.before as { phone: unknown } | null)?.phone).not.toBe("+1 555 0003");
  });

  it("transactional bulk archive: the same statements — one audit insert — for 10 rows and for 100", async () => {
    let offset = 10;
    const { small, large } = await atSizes((n) => {
      const ids = patientIds.slice(offset, offset + n);
      offset += n;
      return admin.patient.archiveMany.mutate({ ids });
    });
    expect(large.count).toBe(small.count);
    expect(large.sql.filter((s) => s.startsWith("INSERT") && s.includes("AuditEntry"))).toHaveLength(1);
    expect(await h.db.prisma.auditEntry.count({ where: { action: "patient.archive", path: "patient.archiveMany" } })).toBe(110);
  });

  it("transactional bulk import: the same statements for 10 appointments and for 100", async () => {
    let day = 0;
    const { small, large } = await atSizes((n) => {
      day++;
      return admin.appointment.import.mutate({
        appointments: Array.from({ length: n }, (_, i) => ({
          patientId: patientIds[200] as string,
          dentistId,
          startsAt: new Date(Date.parse(`2034-01-0${day}T00:00:00Z`) + i * 10 * 60_000).toISOString(),
          endsAt: new Date(Date.parse(`2034-01-0${day}T00:00:00Z`) + (i * 10 + 5) * 60_000).toISOString(),
          reason: "imported",
        })),
      });
    });
    expect(large.count).toBe(small.count);
    expect(large.sql.filter((s) => s.startsWith("INSERT") && s.includes("AuditEntry"))).toHaveLength(1);
  });
});
