/** Sign-in with email + password → an opaque bearer token (only its SHA-256 is stored). */
import { randomBytes } from "node:crypto";
import { verifyPassword } from "@auditrail/db";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import { hashToken } from "../context.ts";
import { authedProcedure, publicProcedure } from "../trpc.ts";

export const LoginInput = z.object({
  email: z.email().max(254),
  password: z.string().min(1).max(256),
});

// Verified against when the email is unknown, so both failures take the same time.
const DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const INVALID_LOGIN = "Invalid email or password.";

export const authRouter = {
  login: publicProcedure.input(LoginInput).mutation(async ({ ctx, input }) => {
    const user = await ctx.prisma.user.findUnique({ where: { email: input.email.toLowerCase() } });
    const ok = await verifyPassword(input.password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !ok || !user.active) throw new TRPCError({ code: "UNAUTHORIZED", message: INVALID_LOGIN });
    const token = randomBytes(32).toString("base64url");
    const expiresAt = new Date(Date.now() + ctx.sessionTtlMs);
    await ctx.prisma.session.create({ data: { tokenHash: hashToken(token), userId: user.id, expiresAt } });
    return { token, expiresAt, user: { id: user.id, email: user.email, name: user.name, role: user.role } };
  }),

  logout: authedProcedure.mutation(async ({ ctx }) => {
    await ctx.prisma.session.update({ where: { id: ctx.user.sessionId }, data: { revokedAt: new Date() } });
    return { ok: true as const };
  }),

  me: authedProcedure.query(({ ctx }) => {
    const { id, email, name, role } = ctx.user;
    return { id, email, name, role };
  }),
} satisfies TRPCRouterRecord;
