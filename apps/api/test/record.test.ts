import { testProviders } from "@auditrail/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter } from "../src/router.ts";
import { type Client, type Harness, errorOf, startHarness } from "./harness.ts";

describe.each(testProviders())("dental record procedures over HTTP on %s", (provider) => {
  let h: Harness;
  let dentist: Client;
  let dentistId: string;
  let patientId: string;
  beforeAll(async () => {
    h = await startHarness(provider);
    dentist = await h.as("dentist");
    dentistId = (await h.staff("dentist")).id;
    const reception = await h.as("receptionist");
    patientId = (await reception.patient.create.mutate({ firstName: "Rafa", lastName: "Molar", dateOfBirth: "1985-09-09" })).id;
  });
  afterAll(() => h?.close());

  const newRecord = (toothNumber = 14, procedureCode = "D2391") =>
    dentist.record.create.mutate({ patientId, toothNumber, procedureCode, notes: "MO composite" });

  it("create (durable mode) is on the spool before the answer, then in the table with its diff", async () => {
    const spooledBefore = h.writers.durable.stats().recorded;
    const r = await newRecord(3, "D0150");
    expect(r).toMatchObject({ patientId, authorId: dentistId, toothNumber: 3, procedureCode: "D0150", version: 1 });
    expect(h.writers.durable.stats().recorded).toBe(spooledBefore + 1);
    const [entry] = await h.entries({ action: "record.create", entityId: r.id });
    expect(entry).toMatchObject({ entity: "DentalRecord", outcome: "ok", actorId: dentistId, actorRole: "dentist" });
    expect(entry?.diff).toEqual(
      expect.arrayContaining([
        { path: "toothNumber", to: 3 },
        { path: "procedureCode", to: "D0150" },
      ]),
    );
  });

  it("get returns the record with its amendments and is audited as record.read", async () => {
    const r = await newRecord();
    const got = await dentist.record.get.query({ id: r.id });
    expect(got).toMatchObject({ id: r.id, amendments: [] });
    expect(await h.entries({ action: "record.read", entityId: r.id })).toHaveLength(1);
  });

  it("listByPatient pages newest first, every record once, audited against the patient", async () => {
    const other = await h.as("hygienist");
    const made = [await newRecord(1), await newRecord(2), await newRecord(5)];
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await other.record.listByPatient.query({ patientId, limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((x) => x.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(made.map((x) => x.id)));
    expect(seen.indexOf(made[2]?.id ?? "")).toBeLessThan(seen.indexOf(made[0]?.id ?? ""));
    const entries = await h.entries({ action: "record.list", entity: "Patient", entityId: patientId });
    expect(entries.length).toBeGreaterThanOrEqual(2);
    expect(entries[0]).toMatchObject({ actorRole: "hygienist", outcome: "ok" });
  });

  it("amend keeps the previous values, bumps the version, and its entry commits with it (transactional)", async () => {
    const r = await newRecord(14, "D2391");
    const amended = await dentist.record.amend.mutate({
      id: r.id,
      reason: "Charted on the wrong tooth",
      toothNumber: 15,
      expectedVersion: 1,
    });
    expect(amended).toMatchObject({ toothNumber: 15, procedureCode: "D2391", version: 2 });
    // No flush: in transactional mode the entry was inserted by the amendment's own transaction.
    const rows = await h.db.prisma.auditEntry.findMany({ where: { action: "record.amend", entityId: r.id } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: "ok", actorId: dentistId, metadata: { reason: "Charted on the wrong tooth" } });
    expect(rows[0]?.diff).toEqual(
      expect.arrayContaining([
        { path: "toothNumber", from: 14, to: 15 },
        { path: "version", from: 1, to: 2 },
      ]),
    );
    const got = await dentist.record.get.query({ id: r.id });
    expect(got.amendments).toEqual([
      expect.objectContaining({
        version: 1,
        reason: "Charted on the wrong tooth",
        previous: { toothNumber: 14, procedureCode: "D2391", notes: "MO composite" },
      }),
    ]);
  });

  it("a stale expectedVersion is CONFLICT: nothing changes and the failure is audited", async () => {
    const r = await newRecord();
    await dentist.record.amend.mutate({ id: r.id, reason: "first", notes: "v2" });
    const err = await errorOf(dentist.record.amend.mutate({ id: r.id, reason: "second", notes: "v3", expectedVersion: 1 }));
    expect(err.data?.code).toBe("CONFLICT");
    expect((await dentist.record.get.query({ id: r.id })).notes).toBe("v2");
    expect(await h.entries({ action: "record.amend", entityId: r.id, outcome: "CONFLICT" })).toHaveLength(1);
  });

  it("a transactional amend whose audit insert fails rolls back: neither the change nor its entry exists", async () => {
    const r = await newRecord(8, "D1110");
    const restore = await h.refuseAuditInserts("record.amend");
    try {
      const err = await errorOf(dentist.record.amend.mutate({ id: r.id, reason: "should not stick", toothNumber: 9 }));
      expect(err.data?.code).toBe("INTERNAL_SERVER_ERROR");
    } finally {
      await restore();
    }
    const row = await h.db.prisma.dentalRecord.findUniqueOrThrow({ where: { id: r.id } });
    expect(row).toMatchObject({ toothNumber: 8, version: 1 });
    expect(await h.db.prisma.dentalRecordAmendment.count({ where: { recordId: r.id } })).toBe(0);
    const entries = await h.entries({ action: "record.amend", entityId: r.id });
    // The failed attempt itself is evidence (written outside the rolled-back transaction), with no change in it.
    expect(entries.map((e) => e.outcome)).toEqual(["INTERNAL_SERVER_ERROR"]);
    expect(entries[0]).toMatchObject({ before: null, after: null, diff: null });
  });

  it("a plain write racing another call's transaction is neither inside it nor lost when it rolls back", async () => {
    const admin = await h.as("admin");
    const p = await admin.patient.create.mutate({ firstName: "Race", lastName: "Condition", dateOfBirth: "1970-07-07" });
    const slow = h.db.prisma.$transaction(async (tx) => {
      await tx.patient.update({ where: { id: p.id }, data: { phone: "+1 555 0000" } });
      await new Promise((resolve) => setTimeout(resolve, 150));
      throw new Error("roll back");
    });
    const settled = slow.catch(() => "rolled back");
    await new Promise((resolve) => setTimeout(resolve, 30));
    // Another request's plain (non-transactional) write while that transaction is open — on
    // SQLite, on the same connection: it must wait, not join the transaction.
    const updated = await admin.patient.update.mutate({ id: p.id, lastName: "Resolved" });
    expect(updated).toMatchObject({ lastName: "Resolved", phone: null });
    expect(await settled).toBe("rolled back");
    expect(await h.db.prisma.patient.findUniqueOrThrow({ where: { id: p.id } })).toMatchObject({ lastName: "Resolved", phone: null });
  });

  it("records are never deleted: no procedure of the record router removes one", () => {
    const recordProcedures = Object.keys(appRouter._def.procedures).filter((p) => p.startsWith("record."));
    expect(recordProcedures.sort()).toEqual(["record.amend", "record.create", "record.get", "record.listByPatient"]);
  });

  it("FORBIDDEN: a receptionist cannot read records, and the attempt is audited", async () => {
    const r = await newRecord();
    const reception = await h.as("receptionist");
    expect((await errorOf(reception.record.get.query({ id: r.id }))).data?.code).toBe("FORBIDDEN");
    expect(await h.entries({ action: "record.read", entityId: r.id, outcome: "FORBIDDEN" })).toHaveLength(1);
  });

  it("a new record for an archived patient is PRECONDITION_FAILED", async () => {
    const admin = await h.as("admin");
    const p = await admin.patient.create.mutate({ firstName: "Old", lastName: "Chart", dateOfBirth: "1940-01-01" });
    await admin.patient.archive.mutate({ id: p.id });
    const err = await errorOf(dentist.record.create.mutate({ patientId: p.id, toothNumber: 1, procedureCode: "D0120" }));
    expect(err.data?.code).toBe("PRECONDITION_FAILED");
  });
});
