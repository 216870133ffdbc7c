/**
 * Sessions, for admins: list who is signed in where (never a token or its hash), and revoke one —
 * its token answers UNAUTHORIZED from then on. A revocation is audited with before/after.
 */
import type { Session, User } from "@auditrail/db";
import type { TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import type { Context } from "../context.ts";
import { Cursor, Limit, decodeCursor, pageOf } from "../pagination.ts";
import { Id, iso } from "../schemas.ts";
import { allowed, notFound } from "../trpc.ts";

export const SessionList = z.strictObject({
  /** Only this staff member's sessions. */
  userId: Id.optional(),
  /** Also revoked and expired sessions (default: only those a token still opens). */
  includeEnded: z.boolean().default(false),
  limit: Limit(100, 50),
  cursor: Cursor.optional(),
});

/** A session as the API returns it (and as audit before/after record it): no token, no hash. */
export function sessionOut(s: Session & { user: Pick<User, "email" | "name" | "active"> }, now = new Date()) {
  return {
    id: s.id,
    userId: s.userId,
    userEmail: s.user.email,
    userName: s.user.name,
    createdAt: iso(s.createdAt),
    expiresAt: iso(s.expiresAt),
    revokedAt: s.revokedAt ? iso(s.revokedAt) : null,
    /** Whether its token still signs in: not revoked, not expired, the member active. */
    open: !s.revokedAt && s.expiresAt > now && s.user.active,
  };
}

const withUser = { user: { select: { email: true, name: true, active: true } } } as const;

/** The audit `before` loader: the session as it is now (null if unknown). */
export async function loadSession(id: string, ctx: Context) {
  const s = await ctx.prisma.session.findUnique({ where: { id }, include: withUser });
  return s && sessionOut(s);
}

const ListKey = z.tuple([z.string()]);

export const sessionRouter = {
  /** Newest first. */
  list: allowed("manage staff")
    .meta({ audit: { action: "session.list", entity: "Session" } })
    .input(SessionList)
    .query(async ({ ctx, input }) => {
      const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor, ListKey);
      const now = new Date();
      const rows = await ctx.prisma.session.findMany({
        where: {
          ...(input.userId ? { userId: input.userId } : {}),
          ...(input.includeEnded ? {} : { revokedAt: null, expiresAt: { gt: now }, user: { active: true } }),
          ...(after ? { id: { lt: after[0] } } : {}),
        },
        include: withUser,
        orderBy: { id: "desc" },
        take: input.limit + 1,
      });
      const page = pageOf(
        rows,
        input.limit,
        (s) => [s.id],
        (s) => sessionOut(s, now),
      );
      ctx.audit.annotate({ userId: input.userId ?? null, count: page.items.length });
      return page;
    }),

  /** Revokes one session; idempotent (an ended session is returned as it is). */
  revoke: allowed("manage staff")
    .meta({ audit: { action: "session.revoke", entity: "Session", id: "input.id", before: loadSession } })
    .input(z.strictObject({ id: Id }))
    .mutation(async ({ ctx, input }) => {
      const current = await ctx.prisma.session.findUnique({ where: { id: input.id }, include: withUser });
      if (!current) throw notFound("session", input.id);
      if (current.revokedAt) return sessionOut(current);
      return sessionOut(await ctx.prisma.session.update({ where: { id: input.id }, data: { revokedAt: new Date() }, include: withUser }));
    }),
} satisfies TRPCRouterRecord;
