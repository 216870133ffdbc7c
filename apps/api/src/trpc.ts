/**
 * The tRPC instance and its procedure builders. The context comes from context.ts; `meta` is where
 * procedures declare their audit intent (read by the audit plugin from @auditrail/audit-core/trpc).
 */
import { TRPCError, initTRPC } from "@trpc/server";
import { z } from "zod";
import type { Context } from "./context.ts";
import { type Permission, can } from "./permissions.ts";

export const t = initTRPC.context<Context>().create({
  errorFormatter({ shape, error }) {
    // BAD_REQUEST from input validation carries zod's issues, flattened for clients.
    const zodError = error.cause instanceof z.ZodError ? z.flattenError(error.cause) : null;
    return { ...shape, data: { ...shape.data, zodError } };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure;

/** A signed-in staff member; UNAUTHORIZED otherwise. */
export const authedProcedure = t.procedure.use(({ ctx, next }) => {
  if (!ctx.user) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in first: missing or expired session token." });
  return next({ ctx: { ...ctx, user: ctx.user } });
});

/** A signed-in staff member whose role grants `permission`; FORBIDDEN otherwise. */
export const allowed = (permission: Permission) =>
  authedProcedure.use(({ ctx, next }) => {
    if (!can(ctx.user.role, permission)) {
      throw new TRPCError({ code: "FORBIDDEN", message: `Role "${ctx.user.role}" may not ${permission}.` });
    }
    return next();
  });
