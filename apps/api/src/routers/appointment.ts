/**
 * Appointments: schedule, reschedule, cancel, list by day (and dentist), and import (bulk: all rows
 * or none, one audit entry per row, in transactional mode). A dentist is never double-booked: every
 * write checks for an overlapping scheduled appointment inside a SERIALIZABLE transaction (see
 * ../transact.ts), so two concurrent bookings of one slot cannot both commit.
 */
import type { Appointment, Transaction } from "@auditrail/db";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import { Cursor, Limit, decodeCursor, pageOf } from "../pagination.ts";
import { Day, Id, Instant, iso, toDate } from "../schemas.ts";
import { allowed, notFound } from "../trpc.ts";

const MAX_MINUTES = 8 * 60;
const CLINICIANS = ["dentist", "hygienist"];

const slotIssue = (s: { startsAt: string; endsAt: string }) => {
  const minutes = (toDate(s.endsAt).getTime() - toDate(s.startsAt).getTime()) / 60_000;
  return minutes > 0 && minutes <= MAX_MINUTES;
};
const SLOT_MESSAGE = `endsAt must be after startsAt, at most ${MAX_MINUTES / 60} hours later`;

const booking = {
  patientId: Id,
  /** A user with role dentist or hygienist. */
  dentistId: Id,
  startsAt: Instant,
  endsAt: Instant,
  reason: z.string().trim().min(1).max(500),
};
export const AppointmentSchedule = z.strictObject(booking).refine(slotIssue, { message: SLOT_MESSAGE, path: ["endsAt"] });
export const AppointmentReschedule = z
  .strictObject({ id: Id, startsAt: Instant, endsAt: Instant })
  .refine(slotIssue, { message: SLOT_MESSAGE, path: ["endsAt"] });
export const AppointmentCancel = z.strictObject({ id: Id, reason: z.string().trim().min(1).max(500).optional() });
export const AppointmentList = z.strictObject({
  day: Day,
  dentistId: Id.optional(),
  includeCancelled: z.boolean().default(false),
  limit: Limit(100, 50),
  cursor: Cursor.optional(),
});
export const AppointmentImport = z.strictObject({
  appointments: z
    .array(z.strictObject(booking).refine(slotIssue, { message: SLOT_MESSAGE, path: ["endsAt"] }))
    .min(1)
    .max(1_000),
});

export function appointmentOut(a: Appointment) {
  return {
    id: a.id,
    patientId: a.patientId,
    dentistId: a.dentistId,
    startsAt: iso(a.startsAt),
    endsAt: iso(a.endsAt),
    reason: a.reason,
    status: a.status,
    createdAt: iso(a.createdAt),
    updatedAt: iso(a.updatedAt),
  };
}

async function assertPatient(tx: Transaction, id: string): Promise<void> {
  const p = await tx.patient.findUnique({ where: { id }, select: { archivedAt: true } });
  if (!p) throw notFound("patient", id);
  if (p.archivedAt) throw new TRPCError({ code: "PRECONDITION_FAILED", message: "The patient is archived: no new appointments." });
}

async function assertClinician(tx: Transaction, id: string): Promise<void> {
  const u = await tx.user.findFirst({ where: { id, role: { in: CLINICIANS }, active: true }, select: { id: true } });
  if (!u) throw new TRPCError({ code: "NOT_FOUND", message: `No active dentist or hygienist with id ${id}.` });
}

/** CONFLICT if the dentist has a scheduled appointment overlapping [startsAt, endsAt). */
async function assertFree(tx: Transaction, dentistId: string, startsAt: Date, endsAt: Date, except?: string): Promise<void> {
  const clash = await tx.appointment.findFirst({
    where: {
      dentistId,
      status: "scheduled",
      startsAt: { lt: endsAt },
      endsAt: { gt: startsAt },
      ...(except ? { id: { not: except } } : {}),
    },
  });
  if (clash) throw doubleBooked(clash.startsAt, clash.endsAt, clash.id);
}

function doubleBooked(startsAt: Date, endsAt: Date, id: string): TRPCError {
  return new TRPCError({
    code: "CONFLICT",
    message: `The dentist is already booked ${iso(startsAt)}–${iso(endsAt)} (appointment ${id}).`,
  });
}

const ListKey = z.tuple([Instant, z.string()]);

export const appointmentRouter = {
  schedule: allowed("write appointments")
    .meta({ audit: { action: "appointment.schedule", entity: "Appointment", id: "output.id" } })
    .input(AppointmentSchedule)
    .mutation(({ ctx, input }) =>
      ctx.audit.transaction(async (tx) => {
        const startsAt = toDate(input.startsAt);
        const endsAt = toDate(input.endsAt);
        await assertPatient(tx, input.patientId);
        await assertClinician(tx, input.dentistId);
        await assertFree(tx, input.dentistId, startsAt, endsAt);
        const a = await tx.appointment.create({ data: { ...input, startsAt, endsAt } });
        return appointmentOut(a);
      }),
    ),

  reschedule: allowed("write appointments")
    .meta({ audit: { action: "appointment.reschedule", entity: "Appointment", id: "input.id" } })
    .input(AppointmentReschedule)
    .mutation(({ ctx, input }) =>
      ctx.audit.transaction(async (tx) => {
        const current = await tx.appointment.findUnique({ where: { id: input.id } });
        if (!current) throw notFound("appointment", input.id);
        // Read inside the transaction, so the diff is exactly what this call changed.
        ctx.audit.change({ before: appointmentOut(current) });
        if (current.status !== "scheduled") {
          throw new TRPCError({ code: "PRECONDITION_FAILED", message: `The appointment is ${current.status}: it cannot be rescheduled.` });
        }
        const startsAt = toDate(input.startsAt);
        const endsAt = toDate(input.endsAt);
        await assertFree(tx, current.dentistId, startsAt, endsAt, current.id);
        return appointmentOut(await tx.appointment.update({ where: { id: current.id }, data: { startsAt, endsAt } }));
      }),
    ),

  cancel: allowed("write appointments")
    .meta({ audit: { action: "appointment.cancel", entity: "Appointment", id: "input.id" } })
    .input(AppointmentCancel)
    .mutation(async ({ ctx, input }) => {
      const current = await ctx.prisma.appointment.findUnique({ where: { id: input.id } });
      if (!current) throw notFound("appointment", input.id);
      ctx.audit.change({ before: appointmentOut(current) });
      if (input.reason) ctx.audit.annotate({ reason: input.reason });
      if (current.status === "cancelled") return appointmentOut(current);
      return appointmentOut(await ctx.prisma.appointment.update({ where: { id: current.id }, data: { status: "cancelled" } }));
    }),

  /** One day (UTC) of appointments, by start time; optionally one dentist's. */
  list: allowed("read appointments")
    .meta({ audit: { action: "appointment.list", entity: "Appointment" } })
    .input(AppointmentList)
    .query(async ({ ctx, input }) => {
      const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor, ListKey);
      const dayStart = toDate(input.day);
      const dayEnd = new Date(dayStart.getTime() + 24 * 60 * 60 * 1000);
      const rows = await ctx.prisma.appointment.findMany({
        where: {
          startsAt: { gte: dayStart, lt: dayEnd },
          ...(input.dentistId ? { dentistId: input.dentistId } : {}),
          ...(input.includeCancelled ? {} : { status: "scheduled" }),
          ...(after ? { OR: [{ startsAt: { gt: new Date(after[0]) } }, { startsAt: new Date(after[0]), id: { gt: after[1] } }] } : {}),
        },
        include: {
          patient: { select: { firstName: true, lastName: true } },
          dentist: { select: { name: true } },
        },
        orderBy: [{ startsAt: "asc" }, { id: "asc" }],
        take: input.limit + 1,
      });
      const page = pageOf(
        rows,
        input.limit,
        (a) => [iso(a.startsAt), a.id],
        (a) => ({ ...appointmentOut(a), patientName: `${a.patient.firstName} ${a.patient.lastName}`, dentistName: a.dentist.name }),
      );
      ctx.audit.annotate({
        day: input.day,
        dentistId: input.dentistId ?? null,
        count: page.items.length,
        ids: page.items.map((a) => a.id),
      });
      return page;
    }),

  /**
   * Imports many appointments at once (e.g. from another system): every row is checked — known
   * patient and clinician, no overlap with existing appointments or with another row — and then
   * all are created, or none. One audit entry per created appointment, in the same transaction.
   */
  import: allowed("write appointments")
    .meta({ audit: { action: "appointment.schedule", entity: "Appointment", mode: "transactional", bulk: "rows" } })
    .input(AppointmentImport)
    .mutation(({ ctx, input }) =>
      ctx.audit.transaction(async (tx) => {
        const rows = input.appointments.map((a) => ({ ...a, startsAt: toDate(a.startsAt), endsAt: toDate(a.endsAt) }));
        const patientIds = [...new Set(rows.map((r) => r.patientId))];
        const dentistIds = [...new Set(rows.map((r) => r.dentistId))];
        const [patients, dentists] = await Promise.all([
          tx.patient.findMany({ where: { id: { in: patientIds }, archivedAt: null }, select: { id: true } }),
          tx.user.findMany({ where: { id: { in: dentistIds }, role: { in: CLINICIANS }, active: true }, select: { id: true } }),
        ]);
        const missing = [
          ...without(patientIds, patients).map((id) => `patient ${id}`),
          ...without(dentistIds, dentists).map((id) => `dentist ${id}`),
        ];
        if (missing.length > 0) {
          throw new TRPCError({ code: "NOT_FOUND", message: `Unknown or archived: ${missing.join(", ")}; nothing imported.` });
        }
        const minStart = new Date(Math.min(...rows.map((r) => r.startsAt.getTime())));
        const maxEnd = new Date(Math.max(...rows.map((r) => r.endsAt.getTime())));
        const existing = await tx.appointment.findMany({
          where: { dentistId: { in: dentistIds }, status: "scheduled", startsAt: { lt: maxEnd }, endsAt: { gt: minStart } },
        });
        // Every slot taken so far: existing appointments (row undefined), then each accepted row.
        const taken: { dentistId: string; startsAt: Date; endsAt: Date; id?: string; row?: number }[] = [...existing];
        rows.forEach((r, i) => {
          const clash = taken.find((b) => b.dentistId === r.dentistId && b.startsAt < r.endsAt && b.endsAt > r.startsAt);
          if (clash?.row !== undefined) {
            throw new TRPCError({
              code: "CONFLICT",
              message: `Rows ${clash.row} and ${i} book the same dentist at overlapping times; nothing imported.`,
            });
          }
          if (clash) throw doubleBooked(clash.startsAt, clash.endsAt, clash.id ?? "");
          taken.push({ dentistId: r.dentistId, startsAt: r.startsAt, endsAt: r.endsAt, row: i });
        });
        const created = await tx.appointment.createManyAndReturn({ data: rows });
        ctx.audit.rows(created.map((a) => ({ id: a.id, after: appointmentOut(a) })));
        return { created: created.map(appointmentOut) };
      }),
    ),
} satisfies TRPCRouterRecord;

function without(ids: readonly string[], found: readonly { id: string }[]): string[] {
  const known = new Set(found.map((f) => f.id));
  return ids.filter((id) => !known.has(id));
}
