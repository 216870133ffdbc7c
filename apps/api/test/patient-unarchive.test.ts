/** Un-archiving a patient over HTTP: back in the lists, audited with before/after, role-checked. */
import { testProviders } from "@auditrail/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Client, type Harness, errorOf, startHarness } from "./harness.ts";

const UNKNOWN = "01900000-0000-7000-8000-0000000000aa";

describe.each(testProviders())("patient.unarchive over HTTP on %s", (provider) => {
  let h: Harness;
  let reception: Client;
  const archivedPatient = async (lastName: string) => {
    const p = await reception.patient.create.mutate({ firstName: "Una", lastName, dateOfBirth: "1970-01-01" });
    await reception.patient.archive.mutate({ id: p.id });
    return p;
  };

  beforeAll(async () => {
    h = await startHarness(provider);
    reception = await h.as("receptionist");
  });
  afterAll(() => h?.close());

  it("brings an archived patient back into the default list", async () => {
    const p = await archivedPatient("Returning");
    expect((await reception.patient.list.query({ search: "returning" })).items).toHaveLength(0);
    const back = await reception.patient.unarchive.mutate({ id: p.id });
    expect(back.archivedAt).toBeNull();
    expect((await reception.patient.list.query({ search: "returning" })).items.map((x) => x.id)).toEqual([p.id]);
  });

  it("is audited as patient.unarchive with before, after and the archivedAt diff", async () => {
    const p = await archivedPatient("Audited");
    const archivedAt = (await h.db.prisma.patient.findUniqueOrThrow({ where: { id: p.id } })).archivedAt?.toISOString();
    await reception.patient.unarchive.mutate({ id: p.id });
    const [entry] = await h.entries({ action: "patient.unarchive", entityId: p.id });
    expect(entry).toMatchObject({ entity: "Patient", outcome: "ok", actorRole: "receptionist" });
    expect(entry?.before).toMatchObject({ archivedAt });
    expect(entry?.after).toMatchObject({ archivedAt: null });
    expect(entry?.diff).toEqual(expect.arrayContaining([{ path: "archivedAt", from: archivedAt, to: null }]));
  });

  it("on a patient who is not archived answers the patient unchanged", async () => {
    const p = await reception.patient.create.mutate({ firstName: "Never", lastName: "Archived", dateOfBirth: "1980-02-02" });
    expect(await reception.patient.unarchive.mutate({ id: p.id })).toEqual(p);
    const [entry] = await h.entries({ action: "patient.unarchive", entityId: p.id });
    expect(entry?.diff).toEqual([]);
  });

  it.each([
    ["admin", "ok"],
    ["dentist", "ok"],
    ["receptionist", "ok"],
    ["hygienist", "FORBIDDEN"],
    ["auditor", "FORBIDDEN"],
  ] as const)("a %s un-archiving gets %s, and the call is audited with that outcome", async (role, expected) => {
    const p = await archivedPatient(`Role ${role}`);
    const c = await h.as(role);
    const outcome = await c.patient.unarchive.mutate({ id: p.id }).then(
      () => "ok",
      async (error: unknown) => (await errorOf(Promise.reject(error))).data?.code,
    );
    expect(outcome).toBe(expected);
    const archivedAt = (await h.db.prisma.patient.findUniqueOrThrow({ where: { id: p.id } })).archivedAt;
    expect(archivedAt === null).toBe(expected === "ok");
    const entries = await h.entries({ action: "patient.unarchive", entityId: p.id });
    expect(entries.map((e) => [e.actorRole, e.outcome])).toEqual([[role, expected]]);
  });

  it("an unknown id is NOT_FOUND and a malformed one BAD_REQUEST", async () => {
    expect((await errorOf(reception.patient.unarchive.mutate({ id: UNKNOWN }))).data?.code).toBe("NOT_FOUND");
    const bad = await errorOf(reception.patient.unarchive.mutate({ id: "42" }));
    expect(bad.data?.code).toBe("BAD_REQUEST");
    expect(bad.data?.zodError).not.toBeNull();
  });
});
