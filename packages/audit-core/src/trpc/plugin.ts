/**
 * The tRPC audit plugin: one middleware, packaged as a procedure builder to `.concat` onto the
 * app's base procedure. It must sit before the app's auth middlewares and before `.input()`, so it
 * sees every way a call can end: UNAUTHORIZED, FORBIDDEN, BAD_REQUEST (input rejected),
 * NOT_FOUND, any error, or success.
 *
 *   call ─► plugin: actor + request (withAuditContext), raw input, id, `before` loader
 *             └► auth ─► input validation ─► resolver  (ctx.audit: transaction / change / rows)
 *           ◄─ result: outcome, output, duration ─► events (diff, redaction, onEntry) ─► writer
 *
 * Writing per mode: async — enqueued, never awaited, never thrown into the call; durable — awaited
 * (fsync), failures reported, never thrown; sync — awaited, a failed write fails the call;
 * transactional — inserted by the procedure's own transaction inside `ctx.audit.transaction`, so a
 * failed insert rolls the change back. Failed calls write their entry through the async writer in
 * transactional mode (their transaction, if any, rolled back) and through their own writer otherwise.
 */
import { TRPCError, initTRPC } from "@trpc/server";
import type { AuditWriter } from "../writer-contract.ts";
import { type AuditContext, withAuditContext } from "../context.ts";
import { toJson } from "../diff.ts";
import { AuditConfigError, InvalidAuditMetaError, messageOf } from "../errors.ts";
import { type AuditEvent, stampEvent } from "../event.ts";
import { type Redactor, createRedactor } from "../redact.ts";
import { type CallRecord, buildEvents, kindOf, redactEvent, selectId } from "./entries.ts";
import {
  type AuditCall,
  type AuditHelpers,
  type AuditMeta,
  type AuditPluginMode,
  type AuditPluginOptions,
  type AuditRequestInfo,
  type AuditSpec,
  type AuditWriters,
  type AuditInput,
  assertSpec,
  specIssues,
  validateOptions,
} from "./spec.ts";

export interface AuditPlugin<TContext extends object, TTx> {
  /** Concat onto the app's base procedure: `t.procedure.concat(plugin.procedure)`. */
  readonly procedure: ReturnType<typeof buildProcedure<TContext, TTx>>;
  /**
   * Checks every procedure of `router` at startup: each declares `meta.audit` (or `false`), each
   * spec is valid, and each mode has what it needs (a transactions store; with `writers`, the
   * writer of its mode). Throws InvalidAuditMetaError listing every problem.
   */
  verify(router: RouterLike, writers?: AuditWriters): void;
}

/** Any tRPC router (only its flat procedure map is read). */
export interface RouterLike {
  readonly _def: { readonly procedures: object };
}

/** Builds the plugin; options are validated now (InvalidAuditPluginOptionsError). */
export function createAuditPlugin<TContext extends object, TTx = never>(
  options: AuditPluginOptions<TContext, TTx>,
): AuditPlugin<TContext, TTx> {
  validateOptions(options);
  const redactor = createRedactor(options.redact ?? [], options.redaction ?? "mask");
  return {
    procedure: buildProcedure(options, redactor),
    verify: (router, writers) => verify(router, options, writers),
  };
}

function buildProcedure<TContext extends object, TTx>(options: AuditPluginOptions<TContext, TTx>, redactor: Redactor) {
  const t = initTRPC.context<TContext>().meta<AuditMeta<TContext>>().create();
  const compiled = new WeakMap<AuditSpec<TContext>, Redactor>();
  const redactorFor = (path: string, spec: AuditSpec<TContext>): Redactor => {
    let r = compiled.get(spec);
    if (!r) {
      assertSpec(path, spec);
      r = redactor.extend(spec.redact);
      compiled.set(spec, r);
    }
    return r;
  };

  return t.procedure.use(async (opts) => {
    const started = performance.now();
    // tRPC types ctx through its generic context helpers; at runtime it is the app context as given.
    const ctx = opts.ctx as unknown as TContext;
    const { path, type } = opts;
    const declaredSpec = opts.meta?.audit || undefined;
    const declared = declaredSpec ? (declaredSpec.mode ?? "async") : undefined;
    const chosen = declared && options.mode ? options.mode(ctx, declared, declaredSpec?.mode !== undefined) : declared;
    const spec = chosen === "off" ? undefined : declaredSpec;
    const report = (error: unknown) => {
      try {
        options.onError?.(error instanceof Error ? error : new Error(messageOf(error)), { ctx, path, type });
      } catch {
        // a throwing error hook must not fail the call either
      }
    };
    const actor = attempt(() => options.actor(ctx), report);
    const request = attempt(() => options.request?.(ctx), report) ?? {};
    const auditContext: AuditContext = { actor, ...request };
    const mode: AuditPluginMode | undefined = chosen === "off" ? undefined : chosen;
    const record: CallRecord = { before: undefined, change: undefined, rows: [], annotations: {} };
    let writtenInTransaction = false;
    let transactionStarted = false;

    const env: CallEnv<TContext> | undefined = spec
      ? { spec, redactor: redactorFor(path, spec), actor, request, metadata: options.metadata, onEntry: options.onEntry, report }
      : undefined;
    const input = asInput(spec ? await opts.getRawInput().catch(() => undefined) : undefined);
    const callAt = (output: unknown, outcome: string, error: TRPCError | undefined): AuditCall<TContext> => ({
      ctx,
      path,
      type,
      input,
      output,
      outcome,
      error,
      durationMs: performance.now() - started,
    });

    const helpers: AuditHelpers<TTx> = {
      mode,
      transaction: async <T>(fn: (tx: TTx) => Promise<T>): Promise<T> => {
        const store = options.transactions;
        if (!store) throw new AuditConfigError(path, "ctx.audit.transaction needs the plugin's `transactions` option");
        if (mode !== "transactional" || !env) return store.run(ctx, fn);
        if (transactionStarted) throw new AuditConfigError(path, "transactional mode allows one ctx.audit.transaction per call");
        transactionStarted = true;
        const mark = { rows: record.rows.length, change: record.change, annotations: { ...record.annotations } };
        const output = await store.run(ctx, async (tx) => {
          // A store may retry the callback (e.g. on a serialization failure): start each attempt clean.
          record.rows.length = mark.rows;
          record.change = mark.change;
          record.annotations = { ...mark.annotations };
          const result = await fn(tx);
          const events = finalEvents(env, callAt(result, "ok", undefined), record);
          const entries = events.map((event) => stampEvent(event, auditContext));
          await store.write(tx, entries);
          return result;
        });
        writtenInTransaction = true;
        return output;
      },
      change: (change) => {
        record.change = { ...record.change, ...change };
      },
      rows: (rows) => {
        record.rows.push(...rows);
      },
      annotate: (metadata) => {
        Object.assign(record.annotations, metadata);
      },
    };

    if (!spec || !env) return withAuditContext(auditContext, () => opts.next({ ctx: { audit: helpers } }));

    // The record as it is before the call, for the diff: only for calls that can change anything.
    const loader = spec.before;
    const beforeId = loader && actor && kindOf(spec, type) === "change" ? selectId(spec.id, callAt(undefined, "ok", undefined)) : undefined;
    if (loader && beforeId !== undefined) {
      try {
        record.before = toJson(await loader(beforeId, ctx));
      } catch (error) {
        report(error);
      }
    }

    const result = await withAuditContext(auditContext, () => opts.next({ ctx: { audit: helpers } }));
    if (result.ok && writtenInTransaction) return result;

    const call = result.ok ? callAt(result.data, "ok", undefined) : callAt(undefined, result.error.code, result.error);
    let writeMode: "async" | "sync" | "durable" = mode === "transactional" || mode === undefined ? "async" : mode;
    if (result.ok && mode === "transactional") {
      report(new AuditConfigError(path, "declared transactional but never called ctx.audit.transaction; entry written async"));
      writeMode = "async";
    }
    const mustSucceed = writeMode === "sync" && result.ok;

    let events: AuditEvent[];
    try {
      events = finalEvents(env, call, record);
    } catch (error) {
      if (mustSucceed) throw auditFailure(error);
      report(error);
      return result;
    }
    let writer: AuditWriter;
    try {
      writer = writerFor(options.writers(ctx), writeMode, path);
    } catch (error) {
      if (mustSucceed) throw auditFailure(error);
      report(error);
      return result;
    }
    const writes = events.map((event) => {
      try {
        return writer.record(event);
      } catch (error) {
        return Promise.reject(error); // a writer that throws instead of rejecting
      }
    });
    if (writeMode === "async") {
      for (const w of writes) w.catch(report);
      return result;
    }
    try {
      await Promise.all(writes);
    } catch (error) {
      if (mustSucceed) throw auditFailure(error);
      report(error);
    }
    return result;
  });
}

/** What every event of one call shares, gathered once per call. */
interface CallEnv<TContext> {
  readonly spec: AuditSpec<TContext>;
  readonly redactor: Redactor;
  readonly actor: AuditContext["actor"];
  readonly request: AuditRequestInfo;
  readonly metadata: AuditPluginOptions<TContext, unknown>["metadata"];
  readonly onEntry: AuditPluginOptions<TContext, unknown>["onEntry"];
  readonly report: (error: unknown) => void;
}

/** Builds the call's events, hands each to onEntry, and re-redacts what a hook replaced. */
function finalEvents<TContext>(env: CallEnv<TContext>, call: AuditCall<TContext>, record: CallRecord): AuditEvent[] {
  const { spec, redactor, onEntry } = env;
  const metadata = env.metadata?.(call);
  const events = buildEvents(call, record, { spec, redactor, actor: env.actor, request: env.request, metadata });
  if (!onEntry) return events;
  return events.map((event) => {
    try {
      const replaced = onEntry(event, call);
      return replaced ? redactEvent(replaced, redactor) : event;
    } catch (error) {
      env.report(error);
      return event;
    }
  });
}

function writerFor(writers: AuditWriters, mode: "async" | "sync" | "durable", path: string): AuditWriter {
  const writer = writers[mode];
  if (!writer) throw new AuditConfigError(path, `mode "${mode}" but the plugin's writers have no ${mode} writer`);
  if (writer.mode !== mode) throw new AuditConfigError(path, `writers.${mode} is a ${writer.mode} writer`);
  return writer;
}

function auditFailure(cause: unknown): TRPCError {
  return new TRPCError({
    code: "INTERNAL_SERVER_ERROR",
    message: "The audit entry for this call could not be written (sync mode), so the call failed.",
    cause,
  });
}

function attempt<T>(fn: () => T, report: (error: unknown) => void): T | undefined {
  try {
    return fn();
  } catch (error) {
    report(error);
    return undefined;
  }
}

function asInput(raw: unknown): AuditInput {
  return typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as AuditInput) : {};
}

function verify<TContext, TTx>(router: RouterLike, options: AuditPluginOptions<TContext, TTx>, writers?: AuditWriters): void {
  const issues: string[] = [];
  for (const [path, procedure] of Object.entries(router._def.procedures)) {
    const meta = (procedure as { _def?: { meta?: { audit?: unknown } } })._def?.meta;
    const spec = meta?.audit;
    if (spec === false) continue;
    if (spec === undefined) {
      issues.push(`${path}: no meta.audit (declare one, or audit: false to leave it unaudited on purpose)`);
      continue;
    }
    const problems = specIssues(path, spec);
    issues.push(...problems);
    if (problems.length > 0) continue;
    const { mode = "async", redact } = spec as AuditSpec<TContext>;
    try {
      createRedactor(redact ?? []);
    } catch (error) {
      issues.push(`${path}: meta.audit.redact: ${messageOf(error)}`);
    }
    if (mode === "transactional" && !options.transactions) issues.push(`${path}: transactional mode needs the plugin's \`transactions\` option`);
    if (writers && mode !== "transactional") {
      const writer = writers[mode];
      if (!writer) issues.push(`${path}: mode "${mode}" but no ${mode} writer was given`);
      else if (writer.mode !== mode) issues.push(`${path}: writers.${mode} is a ${writer.mode} writer`);
    }
  }
  if (issues.length > 0) throw new InvalidAuditMetaError(issues);
}

