import { testProviders } from "@auditrail/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Client, type Harness, errorOf, startHarness, storedText } from "./harness.ts";

interface Change {
  path: string;
  from?: unknown;
  to?: unknown;
}
const changes = (diff: unknown) => diff as Change[];

describe.each(testProviders())("patient procedures over HTTP on %s", (provider) => {
  let h: Harness;
  let reception: Client;
  let receptionId: string;
  beforeAll(async () => {
    h = await startHarness(provider);
    reception = await h.as("receptionist");
    receptionId = (await h.staff("receptionist")).id;
  });
  afterAll(() => h?.close());

  const newPatient = (over: Record<string, string> = {}) =>
    reception.patient.create.mutate({ firstName: "Greta", lastName: "Hansen", dateOfBirth: "1990-04-01", ...over });

  it("create stores the patient and writes a patient.create entry: actor, id, path, request id, diff", async () => {
    const p = await newPatient({ ssn: "321-54-9876", insuranceNumber: "INS-SECRET-77", phone: "+1 555 0199" });
    expect(p).toMatchObject({ firstName: "Greta", lastName: "Hansen", ssn: "321-54-9876", archivedAt: null });
    const [entry, ...more] = await h.entries({ action: "patient.create", entityId: p.id });
    expect(more).toHaveLength(0);
    expect(entry).toMatchObject({
      entity: "Patient",
      outcome: "ok",
      actorId: receptionId,
      actorRole: "receptionist",
      path: "patient.create",
      before: null,
    });
    expect(entry?.requestId).toMatch(/^[\w.-]+$/);
    expect(changes(entry?.diff)).toEqual(
      expect.arrayContaining([
        { path: "lastName", to: "Hansen" },
        { path: "phone", to: "+1 555 0199" },
        { path: "ssn", to: "[REDACTED]" },
        { path: "insuranceNumber", to: "[REDACTED]" },
      ]),
    );
  });

  it("never stores SSN or insurance number in any audit JSON, whatever the procedure", async () => {
    const p = await newPatient({ ssn: "777-66-5555", insuranceNumber: "INS-NEVER-STORED" });
    await reception.patient.update.mutate({ id: p.id, ssn: "777-66-4444", insuranceNumber: "INS-ALSO-SECRET" });
    await reception.patient.get.query({ id: p.id });
    await reception.patient.archive.mutate({ id: p.id });
    const text = storedText(await h.entries({ entityId: p.id }));
    for (const secret of ["777-66-5555", "777-66-4444", "INS-NEVER-STORED", "INS-ALSO-SECRET"]) expect(text).not.toContain(secret);
    expect(text).toContain("[REDACTED]");
  });

  it("get returns the patient and is audited as an access: who read which patient, no data copied", async () => {
    const p = await newPatient();
    const dentist = await h.as("dentist");
    expect(await dentist.patient.get.query({ id: p.id })).toMatchObject({ id: p.id, lastName: "Hansen" });
    const [entry] = await h.entries({ action: "patient.read", entityId: p.id });
    expect(entry).toMatchObject({ outcome: "ok", actorRole: "dentist", before: null, after: null, diff: null });
  });

  it("update stores before, after and a diff of exactly the fields that changed", async () => {
    const p = await newPatient({ email: "greta@example.test" });
    const updated = await reception.patient.update.mutate({ id: p.id, lastName: "Hansen-Berg", phone: "+1 555 0142" });
    expect(updated).toMatchObject({ lastName: "Hansen-Berg", phone: "+1 555 0142", email: "greta@example.test" });
    const [entry] = await h.entries({ action: "patient.update", entityId: p.id });
    expect(entry?.before).toMatchObject({ lastName: "Hansen", phone: null });
    expect(entry?.after).toMatchObject({ lastName: "Hansen-Berg", phone: "+1 555 0142" });
    const paths = changes(entry?.diff).map((c) => c.path);
    expect(paths.filter((x) => x !== "updatedAt").sort()).toEqual(["lastName", "phone"]);
    expect(changes(entry?.diff)).toContainEqual({ path: "lastName", from: "Hansen", to: "Hansen-Berg" });
  });

  it("archive sets archivedAt, hides the patient from list, and records the change", async () => {
    const p = await newPatient({ lastName: "Archivable" });
    const archived = await reception.patient.archive.mutate({ id: p.id });
    expect(archived.archivedAt).not.toBeNull();
    const listed = await reception.patient.list.query({ search: "archivable" });
    expect(listed.items.map((x) => x.id)).not.toContain(p.id);
    const withArchived = await reception.patient.list.query({ search: "archivable", includeArchived: true });
    expect(withArchived.items.map((x) => x.id)).toContain(p.id);
    const [entry] = await h.entries({ action: "patient.archive", entityId: p.id });
    expect(changes(entry?.diff)).toContainEqual(expect.objectContaining({ path: "archivedAt", from: null }));
  });

  it("list searches case-insensitively and a cursor walk returns each match exactly once, by name", async () => {
    const made = [];
    for (let i = 0; i < 7; i++) made.push(await newPatient({ lastName: `Pagewalk${i % 3}`, firstName: `First${i}` }));
    for (const search of ["pagewalk", "PAGEWALK", "PageWalk"]) {
      const seen: string[] = [];
      const names: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await reception.patient.list.query({ search, limit: 3, ...(cursor ? { cursor } : {}) });
        seen.push(...page.items.map((x) => x.id));
        names.push(...page.items.map((x) => `${x.lastName} ${x.firstName}`));
        cursor = page.nextCursor ?? undefined;
        pages++;
      } while (cursor);
      expect(pages).toBe(3);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.sort()).toEqual(made.map((x) => x.id).sort());
      expect(names).toEqual([...names].sort());
    }
    const [entry] = await h.entries({ action: "patient.list", actorId: receptionId });
    expect(entry?.metadata).toMatchObject({ search: expect.any(String), count: expect.any(Number), ids: expect.any(Array) });
  });

  it("an invalid cursor is BAD_REQUEST", async () => {
    const err = await errorOf(reception.patient.list.query({ cursor: "not-a-cursor" }));
    expect(err.data?.code).toBe("BAD_REQUEST");
  });

  it("archiveMany archives every listed patient, one entry per row, all in the call's transaction", async () => {
    const ps = [await newPatient(), await newPatient(), await newPatient()];
    const already = await newPatient();
    await reception.patient.archive.mutate({ id: already.id });
    const res = await reception.patient.archiveMany.mutate({ ids: [...ps.map((p) => p.id), already.id] });
    expect(res.archived.sort()).toEqual(ps.map((p) => p.id).sort());
    expect(res.alreadyArchived).toEqual([already.id]);
    // Transactional mode: the entries committed with the change, so they are there without a flush.
    const rows = await h.db.prisma.auditEntry.findMany({ where: { action: "patient.archive", entityId: { in: ps.map((p) => p.id) } } });
    expect(rows).toHaveLength(3);
    expect(new Set(rows.map((r) => r.requestId)).size).toBe(1);
    for (const r of rows) {
      expect(r).toMatchObject({ outcome: "ok", actorId: receptionId, path: "patient.archiveMany" });
      expect(changes(r.diff)).toContainEqual(expect.objectContaining({ path: "archivedAt", from: null }));
    }
  });

  it("archiveMany with one unknown id archives nothing, and is audited as NOT_FOUND", async () => {
    const p = await newPatient();
    const unknown = "01900000-0000-7000-8000-000000000000";
    const err = await errorOf(reception.patient.archiveMany.mutate({ ids: [p.id, unknown] }));
    expect(err.data?.code).toBe("NOT_FOUND");
    expect(err.message).toContain(unknown);
    expect((await h.db.prisma.patient.findUniqueOrThrow({ where: { id: p.id } })).archivedAt).toBeNull();
    const entries = await h.entries({ action: "patient.archive", outcome: "NOT_FOUND" });
    expect(entries).toHaveLength(1);
    expect(await h.entries({ action: "patient.archive", entityId: p.id })).toHaveLength(0);
  });

  it("FORBIDDEN: a hygienist cannot update a patient; nothing changes and the denial is audited with its code", async () => {
    const p = await newPatient();
    const hygienist = await h.as("hygienist");
    const err = await errorOf(hygienist.patient.update.mutate({ id: p.id, lastName: "Changed" }));
    expect(err.data?.code).toBe("FORBIDDEN");
    expect((await h.db.prisma.patient.findUniqueOrThrow({ where: { id: p.id } })).lastName).toBe("Hansen");
    const [entry] = await h.entries({ action: "patient.update", entityId: p.id });
    expect(entry).toMatchObject({ outcome: "FORBIDDEN", actorRole: "hygienist", after: null, diff: null });
    expect(entry?.metadata).toMatchObject({ error: { code: "FORBIDDEN" } });
  });

  it("FORBIDDEN: an auditor cannot read patients, and the attempt is evidence", async () => {
    const p = await newPatient();
    const auditor = await h.as("auditor");
    expect((await errorOf(auditor.patient.get.query({ id: p.id }))).data?.code).toBe("FORBIDDEN");
    expect(await h.entries({ action: "patient.read", entityId: p.id, outcome: "FORBIDDEN" })).toHaveLength(1);
  });

  it("UNAUTHORIZED: a call without a token is refused and audited without an actor", async () => {
    const err = await errorOf(h.client().patient.list.query({}));
    expect(err.data?.code).toBe("UNAUTHORIZED");
    const [entry] = await h.entries({ action: "patient.list", outcome: "UNAUTHORIZED" });
    expect(entry).toMatchObject({ actorId: null, actorRole: null });
  });

  it("BAD_REQUEST: a malformed SSN is rejected with zod's message, audited, and the raw value is not stored", async () => {
    const before = await h.db.prisma.patient.count();
    const err = await errorOf(newPatient({ ssn: "12-3456-789x", lastName: "Badinput" }));
    expect(err.data?.code).toBe("BAD_REQUEST");
    expect(err.message).toContain("ssn must look like 123-45-6789");
    expect(err.data?.zodError?.fieldErrors).toHaveProperty("ssn");
    expect(await h.db.prisma.patient.count()).toBe(before);
    const entries = await h.entries({ action: "patient.create", outcome: "BAD_REQUEST" });
    expect(entries).toHaveLength(1);
    expect(storedText(entries)).not.toContain("12-3456-789x");
    expect(entries[0]?.metadata).toMatchObject({ error: { code: "BAD_REQUEST", message: expect.stringContaining("ssn must look like") } });
  });
});
