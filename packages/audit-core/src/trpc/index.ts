/**
 * @auditrail/audit-core/trpc — the tRPC v11 audit plugin. Declare intent in procedure meta,
 * concat the plugin's procedure onto your base procedure, verify the router at startup:
 *
 *   const t = initTRPC.context<Context>().meta<AuditMeta<Context>>().create();
 *   const audit = createAuditPlugin<Context, Tx>({ writers: (ctx) => ctx.writers, actor: (ctx) => ctx.user });
 *   export const publicProcedure = t.procedure.concat(audit.procedure);
 *   audit.verify(appRouter);
 *
 * See the package README, "Extending the middleware".
 */
export { createAuditPlugin } from "./plugin.ts";
export type { AuditPlugin } from "./plugin.ts";
export type { RouterLike } from "./verify.ts";
export type {
  AuditCall,
  AuditHelpers,
  AuditIdSelector,
  AuditInput,
  AuditMeta,
  AuditPluginMode,
  AuditPluginOptions,
  AuditRequestInfo,
  AuditRow,
  AuditSpec,
  AuditTransactions,
  AuditWriters,
} from "./spec.ts";
export { AuditConfigError, InvalidAuditMetaError, InvalidAuditPluginOptionsError, InvalidRedactionRuleError } from "../errors.ts";
export { DEFAULT_REDACTIONS, REDACTED, Redactor, createRedactor } from "../redact.ts";
export type { RedactionMode } from "../redact.ts";
export { diffJson, equalJson, toJson } from "../diff.ts";
export type { AuditChange, Json, JsonObject } from "../diff.ts";
