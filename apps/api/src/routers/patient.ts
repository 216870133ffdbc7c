/**
 * Patients: create, get, list (search + cursor), update, archive, unarchive, and archiveMany (bulk, one audit
 * entry per archived patient, all-or-nothing). Patients are archived, never deleted. Reads are
 * audited as access events (who looked at whom); SSN and insurance number are returned to staff
 * but never reach the audit trail (the plugin's default redaction).
 */
import { type Patient, patientSearchKey } from "@auditrail/db";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import { likeText, needsRecheck } from "../literal.ts";
import { Cursor, Limit, decodeCursor, pageOf } from "../pagination.ts";
import { Day, Id, definedFields, iso, toDate } from "../schemas.ts";
import { allowed, notFound } from "../trpc.ts";

const Name = z.string().trim().min(1).max(100);

const fields = {
  firstName: Name,
  lastName: Name,
  dateOfBirth: Day.refine((d) => toDate(d) <= new Date(), "dateOfBirth cannot be in the future"),
  email: z.email().max(254).nullish(),
  phone: z
    .string()
    .trim()
    .regex(/^\+?[\d ()-]{5,20}$/, "phone: 5–20 digits, spaces, parentheses or dashes, optionally a leading +")
    .nullish(),
  ssn: z
    .string()
    .regex(/^\d{3}-\d{2}-\d{4}$/, "ssn must look like 123-45-6789")
    .nullish(),
  insuranceNumber: z.string().trim().min(1).max(64).nullish(),
};

export const PatientCreate = z.strictObject(fields);
export const PatientUpdate = z
  .strictObject({ id: Id, ...z.strictObject(fields).partial().shape })
  .refine((p) => Object.keys(p).length > 1, "Nothing to update: give at least one field besides id.");
export const PatientList = z.strictObject({
  /** Matches first name, last name or email, case-insensitively; literal text (`%`, `_`, `\` are themselves). */
  search: z.string().trim().min(1).max(100).optional(),
  includeArchived: z.boolean().default(false),
  limit: Limit(100, 20),
  cursor: Cursor.optional(),
});
export const PatientArchiveMany = z.strictObject({
  ids: z
    .array(Id)
    .min(1)
    .max(500)
    .refine((ids) => new Set(ids).size === ids.length, "ids must not repeat"),
});

/** A patient as the API returns it (and as audit before/after record it, redacted). */
export function patientOut(p: Patient) {
  return {
    id: p.id,
    firstName: p.firstName,
    lastName: p.lastName,
    dateOfBirth: iso(p.dateOfBirth).slice(0, 10),
    email: p.email,
    phone: p.phone,
    ssn: p.ssn,
    insuranceNumber: p.insuranceNumber,
    archivedAt: p.archivedAt ? iso(p.archivedAt) : null,
    createdAt: iso(p.createdAt),
    updatedAt: iso(p.updatedAt),
  };
}

const ListKey = z.tuple([z.string(), z.string(), z.string()]);
type ListKey = z.infer<typeof ListKey>;

export const patientRouter = {
  create: allowed("write patients")
    .meta({ audit: { action: "patient.create", entity: "Patient", id: "output.id" } })
    .input(PatientCreate)
    .mutation(async ({ ctx, input }) => {
      const p = await ctx.prisma.patient.create({
        data: { ...definedFields(input), dateOfBirth: toDate(input.dateOfBirth), searchKey: patientSearchKey(input) },
      });
      return patientOut(p);
    }),

  get: allowed("read patients")
    .meta({ audit: { action: "patient.read", entity: "Patient", id: "input.id" } })
    .input(z.strictObject({ id: Id }))
    .query(async ({ ctx, input }) => {
      const p = await ctx.prisma.patient.findUnique({ where: { id: input.id } });
      if (!p) throw notFound("patient", input.id);
      return patientOut(p);
    }),

  list: allowed("read patients")
    .meta({ audit: { action: "patient.list", entity: "Patient" } })
    .input(PatientList)
    .query(async ({ ctx, input }) => {
      const term = input.search?.toLowerCase();
      const fetch = (after: ListKey | undefined) =>
        ctx.prisma.patient.findMany({
          where: {
            ...(input.includeArchived ? {} : { archivedAt: null }),
            ...(term ? { searchKey: { contains: likeText(ctx.provider, term) } } : {}),
            ...(after
              ? {
                  OR: [
                    { lastName: { gt: after[0] } },
                    { lastName: after[0], firstName: { gt: after[1] } },
                    { lastName: after[0], firstName: after[1], id: { gt: after[2] } },
                  ],
                }
              : {}),
          },
          orderBy: [{ lastName: "asc" }, { firstName: "asc" }, { id: "asc" }],
          take: input.limit + 1,
        });
      // Where LIKE cannot match the term literally (SQLite, with % or _ in it), it matches a
      // superset: keep the rows that hold the term, and read on until the page is full.
      const recheck = term !== undefined && needsRecheck(ctx.provider, term);
      let after = input.cursor === undefined ? undefined : decodeCursor(input.cursor, ListKey);
      const rows: Patient[] = [];
      for (;;) {
        const fetched = await fetch(after);
        rows.push(...(recheck ? fetched.filter((p) => p.searchKey.includes(term)) : fetched));
        const last = fetched[fetched.length - 1];
        if (rows.length > input.limit || fetched.length <= input.limit || !last) break;
        after = [last.lastName, last.firstName, last.id];
      }
      const page = pageOf(rows, input.limit, (p) => [p.lastName, p.firstName, p.id], patientOut);
      // Which patients were shown is what an access audit needs; the rows themselves stay out.
      ctx.audit.annotate({ search: input.search ?? null, count: page.items.length, ids: page.items.map((p) => p.id) });
      return page;
    }),

  update: allowed("write patients")
    .meta({ audit: { action: "patient.update", entity: "Patient", id: "input.id" } })
    .input(PatientUpdate)
    .mutation(async ({ ctx, input }) => {
      const { id, dateOfBirth, ...given } = input;
      const rest = definedFields(given);
      const current = await ctx.prisma.patient.findUnique({ where: { id } });
      if (!current) throw notFound("patient", id);
      ctx.audit.change({ before: patientOut(current) });
      const next = { ...current, ...rest };
      const p = await ctx.prisma.patient.update({
        where: { id },
        data: {
          ...rest,
          ...(dateOfBirth === undefined ? {} : { dateOfBirth: toDate(dateOfBirth) }),
          searchKey: patientSearchKey(next),
        },
      });
      return patientOut(p);
    }),

  archive: allowed("write patients")
    .meta({ audit: { action: "patient.archive", entity: "Patient", id: "input.id" } })
    .input(z.strictObject({ id: Id }))
    .mutation(async ({ ctx, input }) => {
      const current = await ctx.prisma.patient.findUnique({ where: { id: input.id } });
      if (!current) throw notFound("patient", input.id);
      ctx.audit.change({ before: patientOut(current) });
      if (current.archivedAt) return patientOut(current);
      return patientOut(await ctx.prisma.patient.update({ where: { id: input.id }, data: { archivedAt: new Date() } }));
    }),

  /** Brings an archived patient back (lists show them again); idempotent. */
  unarchive: allowed("write patients")
    .meta({ audit: { action: "patient.unarchive", entity: "Patient", id: "input.id" } })
    .input(z.strictObject({ id: Id }))
    .mutation(async ({ ctx, input }) => {
      const current = await ctx.prisma.patient.findUnique({ where: { id: input.id } });
      if (!current) throw notFound("patient", input.id);
      ctx.audit.change({ before: patientOut(current) });
      if (!current.archivedAt) return patientOut(current);
      return patientOut(await ctx.prisma.patient.update({ where: { id: input.id }, data: { archivedAt: null } }));
    }),

  /** Archives every listed patient or none (NOT_FOUND names the unknown ids). One entry per archived row. */
  archiveMany: allowed("write patients")
    .meta({ audit: { action: "patient.archive", entity: "Patient", mode: "transactional", bulk: "rows" } })
    .input(PatientArchiveMany)
    .mutation(({ ctx, input }) =>
      ctx.audit.transaction(async (tx) => {
        const found = await tx.patient.findMany({ where: { id: { in: input.ids } } });
        if (found.length !== input.ids.length) {
          const known = new Set(found.map((p) => p.id));
          const missing = input.ids.filter((id) => !known.has(id));
          throw new TRPCError({ code: "NOT_FOUND", message: `No patient with id ${missing.join(", ")}; nothing archived.` });
        }
        const now = new Date();
        const toArchive = found.filter((p) => !p.archivedAt);
        await tx.patient.updateMany({
          where: { id: { in: toArchive.map((p) => p.id) } },
          data: { archivedAt: now, updatedAt: now },
        });
        ctx.audit.rows(
          toArchive.map((p) => ({
            id: p.id,
            before: patientOut(p),
            after: patientOut({ ...p, archivedAt: now, updatedAt: now }),
          })),
        );
        return {
          archived: toArchive.map((p) => p.id),
          alreadyArchived: found.filter((p) => p.archivedAt).map((p) => p.id),
        };
      }),
    ),
} satisfies TRPCRouterRecord;
