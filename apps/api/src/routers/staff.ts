/**
 * Staff management, for admins: create a staff member (name, email, role, initial password), list
 * them, change a role, deactivate and reactivate. A deactivated member cannot sign in and every
 * session they had is revoked at once. The clinic always keeps one active admin: a change that
 * would leave none is refused (CONFLICT). Every call is audited with before/after/diff; passwords
 * and their hashes never reach the output or the trail.
 */
import { type Transaction, type User, hashPassword } from "@auditrail/db";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import type { Context } from "../context.ts";
import { Cursor, Limit, decodeCursor, pageOf } from "../pagination.ts";
import { ROLES } from "../permissions.ts";
import { Id, iso } from "../schemas.ts";
import { transact } from "../transact.ts";
import { allowed, notFound } from "../trpc.ts";

/** A new password: long enough to resist guessing, bounded so hashing stays cheap. */
export const NewPassword = z.string().min(12, "password: at least 12 characters").max(256);
const StaffName = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^[^\p{Cc}]*$/u, "name: no control characters");
const Role = z.enum(ROLES);

export const StaffCreate = z.strictObject({
  name: StaffName,
  email: z.email().max(254),
  role: Role,
  password: NewPassword,
});
export const StaffList = z.strictObject({
  includeInactive: z.boolean().default(false),
  limit: Limit(100, 50),
  cursor: Cursor.optional(),
});
export const StaffSetRole = z.strictObject({ id: Id, role: Role });

/** A staff member as the API returns it (and as audit before/after record it). */
export function staffOut(u: User) {
  return { id: u.id, email: u.email, name: u.name, role: u.role, active: u.active, createdAt: iso(u.createdAt) };
}

/** The audit `before` loader: the staff member as they are now (null if unknown). */
export async function loadStaff(id: string, ctx: Context) {
  const u = await ctx.prisma.user.findUnique({ where: { id } });
  return u && staffOut(u);
}

const ListKey = z.tuple([z.string()]);

/** CONFLICT unless another active admin than `id` remains. */
async function keepAnAdmin(tx: Transaction, id: string, change: string): Promise<void> {
  const others = await tx.user.count({ where: { role: "admin", active: true, id: { not: id } } });
  if (others === 0) throw new TRPCError({ code: "CONFLICT", message: `Refused to ${change}: the clinic would have no active admin left.` });
}

const isUniqueViolation = (error: unknown) => typeof error === "object" && error !== null && (error as { code?: unknown }).code === "P2002";

export const staffRouter = {
  create: allowed("manage staff")
    .meta({ audit: { action: "staff.create", entity: "User", id: "output.id" } })
    .input(StaffCreate)
    .mutation(async ({ ctx, input }) => {
      const email = input.email.toLowerCase();
      const passwordHash = await hashPassword(input.password);
      try {
        const u = await ctx.prisma.user.create({ data: { name: input.name, email, role: input.role, passwordHash } });
        return staffOut(u);
      } catch (error) {
        if (isUniqueViolation(error))
          throw new TRPCError({ code: "CONFLICT", message: `A staff member with email ${email} exists already.` });
        throw error;
      }
    }),

  list: allowed("manage staff")
    .meta({ audit: { action: "staff.list", entity: "User" } })
    .input(StaffList)
    .query(async ({ ctx, input }) => {
      const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor, ListKey);
      const rows = await ctx.prisma.user.findMany({
        where: { ...(input.includeInactive ? {} : { active: true }), ...(after ? { id: { gt: after[0] } } : {}) },
        orderBy: { id: "asc" },
        take: input.limit + 1,
      });
      const page = pageOf(rows, input.limit, (u) => [u.id], staffOut);
      ctx.audit.annotate({ count: page.items.length, ids: page.items.map((u) => u.id) });
      return page;
    }),

  setRole: allowed("manage staff")
    .meta({ audit: { action: "staff.setRole", entity: "User", id: "input.id", before: loadStaff } })
    .input(StaffSetRole)
    .mutation(({ ctx, input }) =>
      transact(ctx.prisma, async (tx) => {
        const current = await tx.user.findUnique({ where: { id: input.id } });
        if (!current) throw notFound("staff member", input.id);
        if (current.role === input.role) return staffOut(current);
        if (current.role === "admin" && current.active) await keepAnAdmin(tx, current.id, `make ${current.email} ${input.role}`);
        return staffOut(await tx.user.update({ where: { id: input.id }, data: { role: input.role } }));
      }),
    ),

  /** Deactivates a member and revokes every session they have; idempotent. */
  deactivate: allowed("manage staff")
    .meta({ audit: { action: "staff.deactivate", entity: "User", id: "input.id", before: loadStaff } })
    .input(z.strictObject({ id: Id }))
    .mutation(async ({ ctx, input }) => {
      const { user, revokedSessions } = await transact(ctx.prisma, async (tx) => {
        const current = await tx.user.findUnique({ where: { id: input.id } });
        if (!current) throw notFound("staff member", input.id);
        if (current.role === "admin" && current.active) await keepAnAdmin(tx, current.id, `deactivate ${current.email}`);
        const revoked = await tx.session.updateMany({ where: { userId: input.id, revokedAt: null }, data: { revokedAt: new Date() } });
        const updated = current.active ? await tx.user.update({ where: { id: input.id }, data: { active: false } }) : current;
        return { user: updated, revokedSessions: revoked.count };
      });
      ctx.audit.annotate({ revokedSessions });
      return staffOut(user);
    }),

  /**
   * Lets a deactivated member sign in again; idempotent. Sessions from before stay closed: any
   * left open (a sign-in that raced the deactivation) are revoked as the member comes back.
   */
  reactivate: allowed("manage staff")
    .meta({ audit: { action: "staff.reactivate", entity: "User", id: "input.id", before: loadStaff } })
    .input(z.strictObject({ id: Id }))
    .mutation(({ ctx, input }) =>
      transact(ctx.prisma, async (tx) => {
        const current = await tx.user.findUnique({ where: { id: input.id } });
        if (!current) throw notFound("staff member", input.id);
        if (current.active) return staffOut(current);
        await tx.session.updateMany({ where: { userId: input.id, revokedAt: null }, data: { revokedAt: new Date() } });
        return staffOut(await tx.user.update({ where: { id: input.id }, data: { active: true } }));
      }),
    ),
} satisfies TRPCRouterRecord;
