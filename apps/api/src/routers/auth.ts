/**
 * Sign-in with email + password → an opaque bearer token (only its SHA-256 is stored, with an
 * expiry). Logins — failed ones too, with the email tried — are audited in sync mode: the entry
 * is committed before the token is handed out.
 */
import { randomBytes } from "node:crypto";
import { hashPassword, verifyPassword } from "@auditrail/db";
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import { hashToken } from "../context.ts";
import { authedProcedure, publicProcedure } from "../trpc.ts";
import { NewPassword } from "./staff.ts";

export const LoginInput = z.strictObject({
  email: z.email().max(254),
  password: z.string().min(1).max(256),
});

export const ChangePasswordInput = z
  .strictObject({
    currentPassword: z.string().min(1).max(256),
    newPassword: NewPassword,
  })
  .refine((p) => p.newPassword !== p.currentPassword, { message: "newPassword must differ from currentPassword", path: ["newPassword"] });

// Verified against when the email is unknown, so both failures take the same time.
const DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const INVALID_LOGIN = "Invalid email or password.";

interface LoginOutput {
  readonly user: { readonly id: string; readonly role: string };
}

export const authRouter = {
  login: publicProcedure
    .meta({
      audit: {
        action: "auth.login",
        entity: "User",
        id: "output.user.id",
        mode: "sync",
        after: false,
        // Nobody is signed in yet: the actor is the user the login succeeded for.
        actor: (call) => {
          const out = call.output as LoginOutput | undefined;
          return out ? { id: out.user.id, role: out.user.role } : undefined;
        },
        // A failed attempt records which account was tried (never the password: redacted anyway),
        // with U+0000 shown as U+FFFD: PostgreSQL cannot store it, and the call was refused for it.
        metadata: (call) =>
          call.outcome === "ok" || typeof call.input.email !== "string"
            ? undefined
            : { email: call.input.email.slice(0, 254).replaceAll("\u0000", "\ufffd") },
      },
    })
    .input(LoginInput)
    .mutation(async ({ ctx, input }) => {
      const user = await ctx.prisma.user.findUnique({ where: { email: input.email.toLowerCase() } });
      const ok = await verifyPassword(input.password, user?.passwordHash ?? DUMMY_HASH);
      if (!user || !ok || !user.active) throw new TRPCError({ code: "UNAUTHORIZED", message: INVALID_LOGIN });
      const token = randomBytes(32).toString("base64url");
      const expiresAt = new Date(Date.now() + ctx.sessionTtlMs);
      const session = await ctx.prisma.session.create({ data: { tokenHash: hashToken(token), userId: user.id, expiresAt } });
      ctx.audit.annotate({ sessionId: session.id, expiresAt: expiresAt.toISOString() });
      return {
        token,
        expiresAt: expiresAt.toISOString(),
        user: { id: user.id, email: user.email, name: user.name, role: user.role },
      };
    }),

  logout: authedProcedure
    .meta({ audit: { action: "auth.logout", entity: "Session", id: (call) => call.ctx.user?.sessionId, after: false } })
    .mutation(async ({ ctx }) => {
      await ctx.prisma.session.update({ where: { id: ctx.user.sessionId }, data: { revokedAt: new Date() } });
      return { ok: true as const };
    }),

  /**
   * Changes the caller's own password, given the current one (FORBIDDEN if wrong). Every other
   * session of the caller is revoked — whoever else held one must sign in with the new password —
   * and the session making the change stays open. Audited in sync mode, like a login.
   */
  changePassword: authedProcedure
    .meta({
      audit: {
        action: "auth.changePassword",
        entity: "User",
        id: (call) => call.ctx.user?.id,
        mode: "sync",
        after: false,
        redact: ["currentPassword", "newPassword"],
      },
    })
    .input(ChangePasswordInput)
    .mutation(async ({ ctx, input }) => {
      const user = await ctx.prisma.user.findUniqueOrThrow({ where: { id: ctx.user.id } });
      if (!(await verifyPassword(input.currentPassword, user.passwordHash))) {
        throw new TRPCError({ code: "FORBIDDEN", message: "The current password is wrong." });
      }
      const passwordHash = await hashPassword(input.newPassword);
      const revoked = await ctx.prisma.$transaction([
        ctx.prisma.user.update({ where: { id: user.id }, data: { passwordHash } }),
        ctx.prisma.session.updateMany({
          where: { userId: user.id, revokedAt: null, id: { not: ctx.user.sessionId } },
          data: { revokedAt: new Date() },
        }),
      ]);
      const revokedSessions = revoked[1].count;
      ctx.audit.annotate({ revokedSessions });
      return { ok: true as const, revokedSessions };
    }),

  /** Who the token belongs to. Audited as an access (a probe with a forged token leaves evidence too). */
  me: authedProcedure.meta({ audit: { action: "auth.me", entity: "User", id: (call) => call.ctx.user?.id } }).query(({ ctx }) => {
    const { id, email, name, role } = ctx.user;
    return { id, email, name, role };
  }),
} satisfies TRPCRouterRecord;
