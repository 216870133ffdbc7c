/**
 * The tRPC instance and its procedure builders. Procedures declare their audit intent in
 * `meta.audit` (typed by AuditMeta); the audit plugin from @auditrail/audit-core/trpc is concat'ed
 * first, before authentication and input validation, so that every outcome — UNAUTHORIZED,
 * FORBIDDEN, BAD_REQUEST, NOT_FOUND, success — leaves an entry.
 */
import { type AuditMeta, createAuditPlugin } from "@auditrail/audit-core/trpc";
import type { Transaction } from "@auditrail/db";
import { writeInTransaction } from "@auditrail/db/sink";
import { TRPCError, initTRPC } from "@trpc/server";
import { z } from "zod";
import type { Context } from "./context.ts";
import { NUL_MESSAGE, describeIssues, nulIssues } from "./errors.ts";
import { type Permission, can } from "./permissions.ts";
import { transact } from "./transact.ts";

export const t = initTRPC
  .context<Context>()
  .meta<AuditMeta<Context>>()
  .create({
    // No stack traces in responses, whatever NODE_ENV says: they name the server's files.
    isDev: false,
    errorFormatter({ shape, error, ctx }) {
      const requestId = ctx?.requestId ?? null;
      // An internal error's message may quote SQL, Prisma or the data: clients get the request id,
      // the server log has the details (server.ts logs them under the same id).
      if (error.code === "INTERNAL_SERVER_ERROR") {
        return {
          ...shape,
          message: `internal error (request id ${requestId ?? "unknown"})`,
          data: { ...shape.data, requestId, zodError: null },
        };
      }
      // BAD_REQUEST from input validation: a readable message, and zod's issues flattened.
      if (error.cause instanceof z.ZodError) {
        const message = `Invalid input: ${describeIssues(error.cause.issues)}`;
        return { ...shape, message, data: { ...shape.data, requestId, zodError: z.flattenError(error.cause) } };
      }
      return { ...shape, data: { ...shape.data, requestId, zodError: null } };
    },
  });

export const audit = createAuditPlugin<Context, Transaction>({
  writers: (ctx) => ctx.writers,
  actor: (ctx) => (ctx.user ? { id: ctx.user.id, role: ctx.user.role } : undefined),
  request: (ctx) => ({ requestId: ctx.requestId, ip: ctx.ip, userAgent: ctx.userAgent }),
  // Clinic-specific fields, on top of the defaults (ssn, insuranceNumber, password, token, …).
  redact: ["searchKey"],
  transactions: {
    run: (ctx, fn) => transact(ctx.prisma, fn),
    write: async (tx, entries) => {
      await writeInTransaction(tx, entries);
    },
  },
  // AUDIT_MODE applies to procedures that pin no mode; pinned modes are the procedure's guarantee.
  mode: (ctx, declared, pinned) => ctx.auditModeOverride ?? (pinned ? declared : (ctx.auditDefaultMode ?? declared)),
  onEntry: (event, call) => {
    call.ctx.metrics.auditEvent(event.outcome ?? "ok");
  },
  onError: (err, call) => call.ctx.log.warn({ err, path: call.path }, "audit"),
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Anyone; audited (anonymous calls have no actor). Input holding U+0000 is refused (see errors.ts). */
export const publicProcedure = t.procedure.concat(audit.procedure).use(async ({ getRawInput, next }) => {
  const issues = nulIssues(await getRawInput());
  if (issues.length > 0) throw new TRPCError({ code: "BAD_REQUEST", message: NUL_MESSAGE, cause: new z.ZodError(issues) });
  return next();
});

/** A signed-in staff member; UNAUTHORIZED otherwise. */
export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
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

/** NOT_FOUND with a message naming what was looked for. */
export function notFound(entity: string, id: string): TRPCError {
  return new TRPCError({ code: "NOT_FOUND", message: `No ${entity} with id ${id}.` });
}
