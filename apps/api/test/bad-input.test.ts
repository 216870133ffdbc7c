/**
 * Malformed input to every mutation: wrong types, missing fields, out-of-range values, oversized
 * strings, unknown fields, unknown ids. Each gets BAD_REQUEST with zod's message (or NOT_FOUND
 * naming the id), changes no row, and is audited with its code; the server stays up throughout.
 */
import { testProviders } from "@auditrail/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Client, type Harness, errorOf, startHarness } from "./harness.ts";

const UNKNOWN = "01900000-0000-7000-8000-0000000000aa";
const long = (n: number) => "x".repeat(n);

interface Ids {
  patientId: string;
  dentistId: string;
  recordId: string;
  appointmentId: string;
}

type Case = readonly [name: string, call: (c: Client, ids: Ids) => Promise<unknown>, code: "BAD_REQUEST" | "NOT_FOUND", message: RegExp];

// Casts let the table send what the types forbid, as a hostile or buggy client would.
const as = <T>(value: unknown) => value as T;
type In<F extends (input: never) => unknown> = Parameters<F>[0];

const patient = { firstName: "Ok", lastName: "Fine", dateOfBirth: "1990-01-01" };
const slot = { startsAt: "2032-01-05T09:00:00Z", endsAt: "2032-01-05T09:30:00Z" };

const CASES: readonly Case[] = [
  // patient.create
  [
    "patient.create: firstName a number",
    (c) => c.patient.create.mutate(as({ ...patient, firstName: 42 })),
    "BAD_REQUEST",
    /expected string, received number/,
  ],
  [
    "patient.create: lastName missing",
    (c) => c.patient.create.mutate(as({ firstName: "A", dateOfBirth: "1990-01-01" })),
    "BAD_REQUEST",
    /lastName/,
  ],
  [
    "patient.create: dateOfBirth not a date",
    (c) => c.patient.create.mutate({ ...patient, dateOfBirth: "yesterday" }),
    "BAD_REQUEST",
    /YYYY-MM-DD/,
  ],
  [
    "patient.create: dateOfBirth in the future",
    (c) => c.patient.create.mutate({ ...patient, dateOfBirth: "2999-01-01" }),
    "BAD_REQUEST",
    /cannot be in the future/,
  ],
  [
    "patient.create: oversized firstName",
    (c) => c.patient.create.mutate({ ...patient, firstName: long(101) }),
    "BAD_REQUEST",
    /Too big|<=100/,
  ],
  ["patient.create: malformed ssn", (c) => c.patient.create.mutate({ ...patient, ssn: "123456789" }), "BAD_REQUEST", /ssn must look like/],
  ["patient.create: unknown field", (c) => c.patient.create.mutate(as({ ...patient, role: "admin" })), "BAD_REQUEST", /Unrecognized key/],
  [
    "patient.create: input not an object",
    (c) => c.patient.create.mutate(as("Robert'); DROP TABLE Patient;--")),
    "BAD_REQUEST",
    /expected object/,
  ],
  // patient.update
  ["patient.update: id not a UUID", (c) => c.patient.update.mutate({ id: "42", lastName: "X" }), "BAD_REQUEST", /expected a UUID/],
  ["patient.update: nothing to update", (c, ids) => c.patient.update.mutate({ id: ids.patientId }), "BAD_REQUEST", /Nothing to update/],
  ["patient.update: invalid email", (c, ids) => c.patient.update.mutate({ id: ids.patientId, email: "not-mail" }), "BAD_REQUEST", /email/],
  ["patient.update: unknown id", (c) => c.patient.update.mutate({ id: UNKNOWN, lastName: "X" }), "NOT_FOUND", new RegExp(UNKNOWN)],
  // patient.archive / archiveMany
  ["patient.archive: id missing", (c) => c.patient.archive.mutate(as({})), "BAD_REQUEST", /id/],
  ["patient.archive: unknown id", (c) => c.patient.archive.mutate({ id: UNKNOWN }), "NOT_FOUND", new RegExp(UNKNOWN)],
  ["patient.archiveMany: empty list", (c) => c.patient.archiveMany.mutate({ ids: [] }), "BAD_REQUEST", /Too small|>=1/],
  [
    "patient.archiveMany: more than 500",
    (c) => c.patient.archiveMany.mutate({ ids: Array.from({ length: 501 }, () => UNKNOWN) }),
    "BAD_REQUEST",
    /Too big|<=500/,
  ],
  [
    "patient.archiveMany: repeated id",
    (c, ids) => c.patient.archiveMany.mutate({ ids: [ids.patientId, ids.patientId] }),
    "BAD_REQUEST",
    /must not repeat/,
  ],
  [
    "patient.archiveMany: one unknown id",
    (c, ids) => c.patient.archiveMany.mutate({ ids: [ids.patientId, UNKNOWN] }),
    "NOT_FOUND",
    new RegExp(UNKNOWN),
  ],
  // record.create
  [
    "record.create: tooth 0",
    (c, ids) => c.record.create.mutate({ patientId: ids.patientId, toothNumber: 0, procedureCode: "D0120" }),
    "BAD_REQUEST",
    /toothNumber: 1–32/,
  ],
  [
    "record.create: tooth 33",
    (c, ids) => c.record.create.mutate({ patientId: ids.patientId, toothNumber: 33, procedureCode: "D0120" }),
    "BAD_REQUEST",
    /toothNumber: 1–32/,
  ],
  [
    "record.create: tooth 14.5",
    (c, ids) => c.record.create.mutate({ patientId: ids.patientId, toothNumber: 14.5, procedureCode: "D0120" }),
    "BAD_REQUEST",
    /expected int/,
  ],
  [
    "record.create: tooth as a string",
    (c, ids) => c.record.create.mutate(as({ patientId: ids.patientId, toothNumber: "14", procedureCode: "D0120" })),
    "BAD_REQUEST",
    /expected number, received string/,
  ],
  [
    "record.create: not a CDT code",
    (c, ids) => c.record.create.mutate({ patientId: ids.patientId, toothNumber: 3, procedureCode: "2391" }),
    "BAD_REQUEST",
    /CDT code/,
  ],
  [
    "record.create: oversized notes",
    (c, ids) => c.record.create.mutate({ patientId: ids.patientId, toothNumber: 3, procedureCode: "D2391", notes: long(4001) }),
    "BAD_REQUEST",
    /Too big|<=4000/,
  ],
  [
    "record.create: unknown patient",
    (c) => c.record.create.mutate({ patientId: UNKNOWN, toothNumber: 3, procedureCode: "D2391" }),
    "NOT_FOUND",
    new RegExp(UNKNOWN),
  ],
  // record.amend
  [
    "record.amend: nothing to amend",
    (c, ids) => c.record.amend.mutate({ id: ids.recordId, reason: "r" }),
    "BAD_REQUEST",
    /Nothing to amend/,
  ],
  ["record.amend: empty reason", (c, ids) => c.record.amend.mutate({ id: ids.recordId, reason: " ", notes: "n" }), "BAD_REQUEST", /reason/],
  [
    "record.amend: tooth 40",
    (c, ids) => c.record.amend.mutate({ id: ids.recordId, reason: "r", toothNumber: 40 }),
    "BAD_REQUEST",
    /toothNumber: 1–32/,
  ],
  ["record.amend: unknown id", (c) => c.record.amend.mutate({ id: UNKNOWN, reason: "r", notes: "n" }), "NOT_FOUND", new RegExp(UNKNOWN)],
  // appointment.schedule
  [
    "appointment.schedule: ends before it starts",
    (c, ids) =>
      c.appointment.schedule.mutate({
        patientId: ids.patientId,
        dentistId: ids.dentistId,
        startsAt: slot.endsAt,
        endsAt: slot.startsAt,
        reason: "r",
      }),
    "BAD_REQUEST",
    /endsAt must be after startsAt/,
  ],
  [
    "appointment.schedule: 9 hours long",
    (c, ids) =>
      c.appointment.schedule.mutate({
        patientId: ids.patientId,
        dentistId: ids.dentistId,
        startsAt: slot.startsAt,
        endsAt: "2032-01-05T18:00:01Z",
        reason: "r",
      }),
    "BAD_REQUEST",
    /at most 8 hours/,
  ],
  [
    "appointment.schedule: time without offset",
    (c, ids) =>
      c.appointment.schedule.mutate({
        patientId: ids.patientId,
        dentistId: ids.dentistId,
        startsAt: "2032-01-05 09:00",
        endsAt: slot.endsAt,
        reason: "r",
      }),
    "BAD_REQUEST",
    /ISO 8601/,
  ],
  [
    "appointment.schedule: reason missing",
    (c, ids) => c.appointment.schedule.mutate(as({ patientId: ids.patientId, dentistId: ids.dentistId, ...slot })),
    "BAD_REQUEST",
    /reason/,
  ],
  [
    "appointment.schedule: oversized reason",
    (c, ids) => c.appointment.schedule.mutate({ patientId: ids.patientId, dentistId: ids.dentistId, ...slot, reason: long(501) }),
    "BAD_REQUEST",
    /Too big|<=500/,
  ],
  [
    "appointment.schedule: unknown patient",
    (c, ids) => c.appointment.schedule.mutate({ patientId: UNKNOWN, dentistId: ids.dentistId, ...slot, reason: "r" }),
    "NOT_FOUND",
    new RegExp(UNKNOWN),
  ],
  [
    "appointment.schedule: unknown dentist",
    (c, ids) => c.appointment.schedule.mutate({ patientId: ids.patientId, dentistId: UNKNOWN, ...slot, reason: "r" }),
    "NOT_FOUND",
    new RegExp(UNKNOWN),
  ],
  [
    "appointment.schedule: a patient is no dentist",
    (c, ids) => c.appointment.schedule.mutate({ patientId: ids.patientId, dentistId: ids.patientId, ...slot, reason: "r" }),
    "NOT_FOUND",
    /dentist or hygienist/,
  ],
  // appointment.reschedule / cancel
  [
    "appointment.reschedule: unknown id",
    (c) => c.appointment.reschedule.mutate({ id: UNKNOWN, ...slot }),
    "NOT_FOUND",
    new RegExp(UNKNOWN),
  ],
  [
    "appointment.reschedule: startsAt a number",
    (c, ids) => c.appointment.reschedule.mutate(as({ id: ids.appointmentId, startsAt: 1_700_000_000, endsAt: slot.endsAt })),
    "BAD_REQUEST",
    /ISO 8601/,
  ],
  ["appointment.cancel: unknown id", (c) => c.appointment.cancel.mutate({ id: UNKNOWN }), "NOT_FOUND", new RegExp(UNKNOWN)],
  [
    "appointment.cancel: oversized reason",
    (c, ids) => c.appointment.cancel.mutate({ id: ids.appointmentId, reason: long(501) }),
    "BAD_REQUEST",
    /Too big|<=500/,
  ],
  // appointment.import
  ["appointment.import: no rows", (c) => c.appointment.import.mutate({ appointments: [] }), "BAD_REQUEST", /Too small|>=1/],
  [
    "appointment.import: a row of the wrong shape",
    (c, ids) =>
      c.appointment.import.mutate(
        as<In<Client["appointment"]["import"]["mutate"]>>({
          appointments: [{ patientId: ids.patientId, ...slot, reason: "r" }, { nope: true }],
        }),
      ),
    "BAD_REQUEST",
    /dentistId/,
  ],
  [
    "appointment.import: unknown patient in a row",
    (c, ids) => c.appointment.import.mutate({ appointments: [{ patientId: UNKNOWN, dentistId: ids.dentistId, ...slot, reason: "r" }] }),
    "NOT_FOUND",
    new RegExp(UNKNOWN),
  ],
  // auth.login
  ["auth.login: not an email", (c) => c.auth.login.mutate({ email: "root", password: "x" }), "BAD_REQUEST", /email/],
  [
    "auth.login: oversized password",
    (c) => c.auth.login.mutate({ email: "a@b.test", password: long(257) }),
    "BAD_REQUEST",
    /Too big|<=256/,
  ],
];

describe.each(testProviders())("malformed input to every mutation over HTTP on %s", (provider) => {
  let h: Harness;
  let admin: Client;
  let ids: Ids;
  let rowsBefore: Record<string, number>;

  const counts = async () => ({
    patients: await h.db.prisma.patient.count(),
    archived: await h.db.prisma.patient.count({ where: { archivedAt: { not: null } } }),
    records: await h.db.prisma.dentalRecord.count(),
    amendments: await h.db.prisma.dentalRecordAmendment.count(),
    appointments: await h.db.prisma.appointment.count(),
    cancelled: await h.db.prisma.appointment.count({ where: { status: "cancelled" } }),
    sessions: await h.db.prisma.session.count(),
  });

  beforeAll(async () => {
    h = await startHarness(provider);
    admin = await h.as("admin");
    const dentistId = (await h.staff("dentist")).id;
    const p = await admin.patient.create.mutate({ firstName: "Valid", lastName: "Patient", dateOfBirth: "1980-05-05" });
    const r = await admin.record.create.mutate({ patientId: p.id, toothNumber: 2, procedureCode: "D0140" });
    const a = await admin.appointment.schedule.mutate({
      patientId: p.id,
      dentistId,
      startsAt: "2032-02-01T09:00:00Z",
      endsAt: "2032-02-01T09:30:00Z",
      reason: "r",
    });
    ids = { patientId: p.id, dentistId, recordId: r.id, appointmentId: a.id };
    await h.flush();
    rowsBefore = await counts();
  });
  afterAll(() => h?.close());

  for (const [name, call, code, message] of CASES) {
    it(`${name} → ${code}`, async () => {
      const err = await errorOf(call(admin, ids));
      expect(err.data?.code).toBe(code);
      expect(err.message).toMatch(message);
      if (code === "BAD_REQUEST") expect(err.data?.zodError).not.toBeNull();
    });
  }

  it("left every table as it was, audited every rejection with its code, and the server is still up", async () => {
    expect(await counts()).toEqual(rowsBefore);
    const failures = (await h.entries()).filter((e) => e.outcome === "BAD_REQUEST" || e.outcome === "NOT_FOUND");
    expect(failures).toHaveLength(CASES.length);
    for (const [name, , code] of CASES) {
      const path = name.split(":")[0];
      expect(failures.some((e) => e.path === path && e.outcome === code)).toBe(true);
    }
    const health = await fetch(`${h.base}/health`);
    expect(health.status).toBe(200);
    expect(await admin.patient.get.query({ id: ids.patientId })).toMatchObject({ lastName: "Patient" });
  });
});
