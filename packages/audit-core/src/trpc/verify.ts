/**
 * The plugin's startup check (`plugin.verify(router, writers)`): every procedure declares
 * `meta.audit` or `false`, every spec is valid, and every mode has what it needs. All problems are
 * listed at once in one InvalidAuditMetaError.
 *
 * It reads the router's flat procedure map, `router._def.procedures`: tRPC v11 has no public way to
 * list a router's procedures (`getProcedureAtPath` is in its unstable-core entry and takes a path).
 * Lazy routers (`lazy()`) not yet loaded are not in that map, so they are not checked.
 */
import { InvalidAuditMetaError, messageOf } from "../errors.ts";
import { createRedactor } from "../redact.ts";
import { type AuditPluginOptions, type AuditSpec, type AuditWriters, specIssues, writerProblem } from "./spec.ts";

/** Any tRPC router (only its flat procedure map is read). */
export interface RouterLike {
  readonly _def: { readonly procedures: object };
}

export function verifyRouter<TContext, TTx>(router: RouterLike, options: AuditPluginOptions<TContext, TTx>, writers?: AuditWriters): void {
  const issues: string[] = [];
  for (const [path, procedure] of Object.entries(router._def.procedures)) {
    const meta = (procedure as { _def?: { meta?: { audit?: unknown } } })._def?.meta;
    issues.push(...procedureIssues(path, meta?.audit, options, writers));
  }
  if (issues.length > 0) throw new InvalidAuditMetaError(issues);
}

function procedureIssues<TContext, TTx>(
  path: string,
  spec: unknown,
  options: AuditPluginOptions<TContext, TTx>,
  writers?: AuditWriters,
): string[] {
  if (spec === false) return [];
  if (spec === undefined) return [`${path}: no meta.audit (declare one, or audit: false to leave it unaudited on purpose)`];
  const problems = specIssues(path, spec);
  if (problems.length > 0) return problems;
  const issues: string[] = [];
  const { mode = "async", redact } = spec as AuditSpec<TContext>;
  try {
    createRedactor(redact ?? []);
  } catch (error) {
    issues.push(`${path}: meta.audit.redact: ${messageOf(error)}`);
  }
  if (mode === "transactional" && !options.transactions)
    issues.push(`${path}: transactional mode needs the plugin's \`transactions\` option`);
  const problem = writers && mode !== "transactional" ? writerProblem(writers, mode) : undefined;
  if (problem) issues.push(`${path}: ${problem}`);
  return issues;
}
