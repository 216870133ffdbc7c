import { testProviders } from "@auditrail/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Client, type Harness, errorOf, startHarness } from "./harness.ts";

describe.each(testProviders())("appointment procedures over HTTP on %s", (provider) => {
  let h: Harness;
  let reception: Client;
  let dentistId: string;
  let hygienistId: string;
  let patientId: string;
  beforeAll(async () => {
    h = await startHarness(provider);
    reception = await h.as("receptionist");
    dentistId = (await h.staff("dentist")).id;
    hygienistId = (await h.staff("hygienist")).id;
    patientId = (await reception.patient.create.mutate({ firstName: "Ana", lastName: "Canino", dateOfBirth: "2000-02-29" })).id;
  });
  afterAll(() => h?.close());

  // Each test books on its own day so that tests do not collide.
  const at = (day: number, hhmm: string) => `2031-03-${String(day).padStart(2, "0")}T${hhmm}:00.000Z`;
  const book = (day: number, from: string, to: string, who = dentistId) =>
    reception.appointment.schedule.mutate({ patientId, dentistId: who, startsAt: at(day, from), endsAt: at(day, to), reason: "Check-up" });

  it("schedule books the slot and records it with actor, id and diff", async () => {
    const a = await book(1, "09:00", "09:30");
    expect(a).toMatchObject({ dentistId, status: "scheduled", startsAt: at(1, "09:00") });
    const [entry] = await h.entries({ action: "appointment.schedule", entityId: a.id });
    expect(entry).toMatchObject({ entity: "Appointment", outcome: "ok", actorRole: "receptionist" });
    expect(entry?.diff).toEqual(expect.arrayContaining([{ path: "startsAt", to: at(1, "09:00") }]));
  });

  it("an overlapping booking of the same dentist is CONFLICT: nothing stored, the attempt audited", async () => {
    await book(2, "10:00", "11:00");
    const count = await h.db.prisma.appointment.count();
    const err = await errorOf(book(2, "10:30", "11:30"));
    expect(err.data?.code).toBe("CONFLICT");
    expect(err.message).toMatch(/already booked/);
    expect(await h.db.prisma.appointment.count()).toBe(count);
    expect(await h.entries({ action: "appointment.schedule", outcome: "CONFLICT" })).toHaveLength(1);
  });

  it("back-to-back slots and other clinicians' slots do not clash", async () => {
    await book(3, "09:00", "09:30");
    await book(3, "09:30", "10:00");
    await book(3, "09:00", "09:30", hygienistId);
  });

  it("concurrent bookings of one slot: exactly one wins, the others are CONFLICT", async () => {
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => book(4, "14:00", "14:45")));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected") expect((await errorOf(Promise.reject(r.reason))).data?.code).toBe("CONFLICT");
    }
    const day = await reception.appointment.list.query({ day: "2031-03-04", dentistId });
    expect(day.items).toHaveLength(1);
  });

  it("reschedule moves the slot (its own old slot never clashes) and records from/to", async () => {
    const a = await book(5, "09:00", "09:30");
    const moved = await reception.appointment.reschedule.mutate({ id: a.id, startsAt: at(5, "09:15"), endsAt: at(5, "09:45") });
    expect(moved.startsAt).toBe(at(5, "09:15"));
    const [entry] = await h.entries({ action: "appointment.reschedule", entityId: a.id });
    expect(entry?.diff).toEqual(
      expect.arrayContaining([
        { path: "startsAt", from: at(5, "09:00"), to: at(5, "09:15") },
        { path: "endsAt", from: at(5, "09:30"), to: at(5, "09:45") },
      ]),
    );
  });

  it("cancel frees the slot, records the reason, and a cancelled appointment cannot be rescheduled", async () => {
    const a = await book(6, "11:00", "12:00");
    const cancelled = await reception.appointment.cancel.mutate({ id: a.id, reason: "Patient called in sick" });
    expect(cancelled.status).toBe("cancelled");
    await book(6, "11:00", "12:00");
    const [entry] = await h.entries({ action: "appointment.cancel", entityId: a.id });
    expect(entry?.metadata).toMatchObject({ reason: "Patient called in sick" });
    expect(entry?.diff).toContainEqual({ path: "status", from: "scheduled", to: "cancelled" });
    const err = await errorOf(reception.appointment.reschedule.mutate({ id: a.id, startsAt: at(6, "13:00"), endsAt: at(6, "13:30") }));
    expect(err.data?.code).toBe("PRECONDITION_FAILED");
  });

  it("list returns one day by start time, per dentist, cancelled ones only on request, paged by cursor", async () => {
    const slots = ["08:00", "08:30", "09:00", "09:30", "10:00"];
    const made = [];
    for (const s of slots) made.push(await book(7, s, `${s.slice(0, 3)}${String(Number(s.slice(3)) + 20).padStart(2, "0")}`));
    await book(8, "08:00", "08:30"); // another day
    await reception.appointment.cancel.mutate({ id: made[4]?.id ?? "" });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await reception.appointment.list.query({ day: "2031-03-07", dentistId, limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((a) => a.id));
      expect(page.items.every((a) => a.patientName === "Ana Canino")).toBe(true);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(made.slice(0, 4).map((a) => a.id));
    const all = await reception.appointment.list.query({ day: "2031-03-07", includeCancelled: true });
    expect(all.items).toHaveLength(5);
    const entry = (await h.entries({ action: "appointment.list" })).at(-1);
    expect(entry?.metadata).toMatchObject({ day: "2031-03-07", dentistId: null, count: 5, ids: all.items.map((a) => a.id) });
  });

  it("import creates every row in one transaction with one entry per row", async () => {
    const rows = ["08:00", "09:00", "10:00", "11:00"].map((s, i) => ({
      patientId,
      dentistId: i % 2 ? hygienistId : dentistId,
      startsAt: at(10, s),
      endsAt: at(10, `${s.slice(0, 2)}:45`),
      reason: `Imported ${i}`,
    }));
    const { created } = await reception.appointment.import.mutate({ appointments: rows });
    expect(created).toHaveLength(4);
    const entries = await h.db.prisma.auditEntry.findMany({ where: { path: "appointment.import", outcome: "ok" } });
    expect(entries.map((e) => e.entityId).sort()).toEqual(created.map((a) => a.id).sort());
    expect(new Set(entries.map((e) => e.requestId)).size).toBe(1);
    expect(entries.every((e) => e.action === "appointment.schedule" && e.actorRole === "receptionist")).toBe(true);
  });

  it("import with one clashing row creates nothing and writes no entry for any row", async () => {
    await book(11, "09:00", "10:00");
    const count = await h.db.prisma.appointment.count();
    const importedOk = (await h.entries({ action: "appointment.schedule", outcome: "ok" })).filter((e) => e.path === "appointment.import");
    const fine = { patientId, dentistId, startsAt: at(11, "08:00"), endsAt: at(11, "08:30"), reason: "fine" };
    const clashing = { patientId, dentistId, startsAt: at(11, "09:30"), endsAt: at(11, "10:30"), reason: "clashes" };
    const err = await errorOf(reception.appointment.import.mutate({ appointments: [fine, clashing] }));
    expect(err.data?.code).toBe("CONFLICT");
    const inBatch = await errorOf(reception.appointment.import.mutate({ appointments: [fine, { ...fine, reason: "same slot twice" }] }));
    expect(inBatch.data?.code).toBe("CONFLICT");
    expect(inBatch.message).toMatch(/Rows 0 and 1/);
    expect(await h.db.prisma.appointment.count()).toBe(count);
    const importEntries = (await h.entries({ action: "appointment.schedule" })).filter((e) => e.path === "appointment.import");
    expect(importEntries.filter((e) => e.outcome === "ok")).toEqual(importedOk);
    expect(importEntries.filter((e) => e.outcome === "CONFLICT")).toHaveLength(2);
  });

  it("FORBIDDEN: a hygienist cannot schedule; nothing is booked and the denial is audited", async () => {
    const hygienist = await h.as("hygienist");
    const count = await h.db.prisma.appointment.count();
    const err = await errorOf(
      hygienist.appointment.schedule.mutate({ patientId, dentistId, startsAt: at(12, "09:00"), endsAt: at(12, "09:30"), reason: "x" }),
    );
    expect(err.data?.code).toBe("FORBIDDEN");
    expect(await h.db.prisma.appointment.count()).toBe(count);
    expect(await h.entries({ action: "appointment.schedule", outcome: "FORBIDDEN" })).toHaveLength(1);
  });
});
