/**
 * Dental records: one procedure on one tooth (universal numbering 1–32) with a CDT code
 * (D + four digits) and notes. Records are amended — each amendment keeps the previous values and
 * bumps the version — and never deleted: there is no delete procedure. New records are audited in
 * durable mode (the entry is on disk before the response); amendments in transactional mode (the
 * amendment and its entry commit together or not at all).
 */
import type { DentalRecord, DentalRecordAmendment } from "@auditrail/db";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import { Cursor, Limit, decodeCursor, pageOf } from "../pagination.ts";
import { Id, Instant, iso } from "../schemas.ts";
import { allowed, notFound } from "../trpc.ts";

export const ToothNumber = z
  .number()
  .int()
  .min(1, "toothNumber: 1–32 (universal numbering)")
  .max(32, "toothNumber: 1–32 (universal numbering)");
export const ProcedureCode = z.string().regex(/^D\d{4}$/, "procedureCode: a CDT code, D and four digits (e.g. D2391)");
const Notes = z.string().max(4000);

export const RecordCreate = z.strictObject({
  patientId: Id,
  toothNumber: ToothNumber,
  procedureCode: ProcedureCode,
  notes: Notes.default(""),
});
export const RecordAmend = z
  .strictObject({
    id: Id,
    reason: z.string().trim().min(1).max(500),
    toothNumber: ToothNumber.optional(),
    procedureCode: ProcedureCode.optional(),
    notes: Notes.optional(),
    /** Optimistic concurrency: CONFLICT if the record moved on since it was read. */
    expectedVersion: z.number().int().min(1).optional(),
  })
  .refine(
    (a) => a.toothNumber !== undefined || a.procedureCode !== undefined || a.notes !== undefined,
    "Nothing to amend: give toothNumber, procedureCode or notes.",
  );
export const RecordList = z.strictObject({ patientId: Id, limit: Limit(100, 20), cursor: Cursor.optional() });

export function recordOut(r: DentalRecord) {
  return {
    id: r.id,
    patientId: r.patientId,
    authorId: r.authorId,
    toothNumber: r.toothNumber,
    procedureCode: r.procedureCode,
    notes: r.notes,
    version: r.version,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
  };
}

function amendmentOut(a: DentalRecordAmendment) {
  return {
    id: a.id,
    authorId: a.authorId,
    reason: a.reason,
    version: a.version,
    previous: { toothNumber: a.previousToothNumber, procedureCode: a.previousProcedureCode, notes: a.previousNotes },
    createdAt: iso(a.createdAt),
  };
}

const ListKey = z.tuple([Instant, z.string()]);

export const recordRouter = {
  create: allowed("write records")
    .meta({ audit: { action: "record.create", entity: "DentalRecord", id: "output.id", mode: "durable" } })
    .input(RecordCreate)
    .mutation(async ({ ctx, input }) => {
      const patient = await ctx.prisma.patient.findUnique({ where: { id: input.patientId }, select: { archivedAt: true } });
      if (!patient) throw notFound("patient", input.patientId);
      if (patient.archivedAt) {
        throw new TRPCError({ code: "PRECONDITION_FAILED", message: "The patient is archived: no new records." });
      }
      const r = await ctx.prisma.dentalRecord.create({ data: { ...input, authorId: ctx.user.id } });
      return recordOut(r);
    }),

  get: allowed("read records")
    .meta({ audit: { action: "record.read", entity: "DentalRecord", id: "input.id" } })
    .input(z.strictObject({ id: Id }))
    .query(async ({ ctx, input }) => {
      const r = await ctx.prisma.dentalRecord.findUnique({
        where: { id: input.id },
        include: { amendments: { orderBy: { version: "asc" } } },
      });
      if (!r) throw notFound("dental record", input.id);
      return { ...recordOut(r), amendments: r.amendments.map(amendmentOut) };
    }),

  /** A patient's records, newest first. Audited against the patient: "who read X's chart". */
  listByPatient: allowed("read records")
    .meta({ audit: { action: "record.list", entity: "Patient", id: "input.patientId" } })
    .input(RecordList)
    .query(async ({ ctx, input }) => {
      const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor, ListKey);
      const [patient, rows] = await Promise.all([
        ctx.prisma.patient.findUnique({ where: { id: input.patientId }, select: { id: true } }),
        ctx.prisma.dentalRecord.findMany({
          where: {
            patientId: input.patientId,
            ...(after ? { OR: [{ createdAt: { lt: new Date(after[0]) } }, { createdAt: new Date(after[0]), id: { lt: after[1] } }] } : {}),
          },
          orderBy: [{ createdAt: "desc" }, { id: "desc" }],
          take: input.limit + 1,
        }),
      ]);
      if (!patient) throw notFound("patient", input.patientId);
      const page = pageOf(rows, input.limit, (r) => [iso(r.createdAt), r.id], recordOut);
      ctx.audit.annotate({ count: page.items.length, ids: page.items.map((r) => r.id) });
      return page;
    }),

  amend: allowed("write records")
    .meta({ audit: { action: "record.amend", entity: "DentalRecord", id: "input.id", mode: "transactional" } })
    .input(RecordAmend)
    .mutation(({ ctx, input }) =>
      ctx.audit.transaction(async (tx) => {
        const current = await tx.dentalRecord.findUnique({ where: { id: input.id } });
        if (!current) throw notFound("dental record", input.id);
        if (input.expectedVersion !== undefined && input.expectedVersion !== current.version) {
          throw new TRPCError({
            code: "CONFLICT",
            message: `The record is at version ${current.version}, not ${input.expectedVersion}: reload and amend again.`,
          });
        }
        await tx.dentalRecordAmendment.create({
          data: {
            recordId: current.id,
            authorId: ctx.user.id,
            reason: input.reason,
            version: current.version,
            previousToothNumber: current.toothNumber,
            previousProcedureCode: current.procedureCode,
            previousNotes: current.notes,
          },
        });
        const updated = await tx.dentalRecord.update({
          where: { id: current.id },
          data: {
            toothNumber: input.toothNumber ?? current.toothNumber,
            procedureCode: input.procedureCode ?? current.procedureCode,
            notes: input.notes ?? current.notes,
            version: current.version + 1,
          },
        });
        // Read inside the transaction, so the diff is exactly what this amendment changed.
        ctx.audit.change({ before: recordOut(current) });
        ctx.audit.annotate({ reason: input.reason });
        return recordOut(updated);
      }),
    ),
} satisfies TRPCRouterRecord;
