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
import { type AuditContext, withAuditContext } from "../context.ts";
import { toJson } from "../diff.ts";
import { AuditConfigError, messageOf } from "../errors.ts";
import { type AuditEvent, stampEvent } from "../event.ts";
import { type Redactor, createRedactor } from "../redact.ts";
import type { AuditWriter } from "../writer-contract.ts";
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
  validateOptions,
  writerProblem,
} from "./spec.ts";
import { type RouterLike, verifyRouter } from "./verify.ts";

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

/** Builds the plugin; options are validated now (InvalidAuditPluginOptionsError). */
export function createAuditPlugin<TContext extends object, TTx = never>(
  options: AuditPluginOptions<TContext, TTx>,
): AuditPlugin<TContext, TTx> {
  validateOptions(options);
  const redactor = createRedactor(options.redact ?? [], options.redaction ?? "mask");
  return {
    procedure: buildProcedure(options, redactor),
    verify: (router, writers) => verifyRouter(router, options, writers),
  };
}

/** The middleware: resolve the mode, build the helpers, run the call, write its entries. */
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
    const report = reporter(options, ctx, path, type);
    const { spec, mode } = resolveMode(options, ctx, opts.meta?.audit || undefined);
    const actor = attempt(() => options.actor(ctx), report);
    const request = attempt(() => options.request?.(ctx), report) ?? {};
    const auditContext: AuditContext = { actor, ...request };
    const next = (helpers: AuditHelpers<TTx>) => withAuditContext(auditContext, () => opts.next({ ctx: { audit: helpers } }));

    if (!spec || !mode) return next(plainHelpers(options, ctx, path, mode));

    const env: CallEnv<TContext> = {
      spec,
      redactor: redactorFor(path, spec),
      actor,
      request,
      metadata: options.metadata,
      onEntry: options.onEntry,
      report,
    };
    const input = asInput(await opts.getRawInput().catch(() => undefined));
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
    const record: CallRecord = { before: undefined, change: undefined, rows: [], annotations: {} };
    const call = auditedHelpers(options, ctx, path, mode, env, record, (output) => callAt(output, "ok", undefined), auditContext);
    if (actor && kindOf(spec, type) === "change") await loadBefore(spec, ctx, record, callAt(undefined, "ok", undefined), report);

    const result = await next(call.helpers);
    if (result.ok && call.writtenInTransaction()) return result;
    if (result.ok && mode === "transactional") {
      report(new AuditConfigError(path, "declared transactional but never called ctx.audit.transaction; entry written async"));
    }
    // Failed calls, and transactional calls that wrote nothing, go through the async writer.
    const writeMode = mode === "transactional" ? "async" : mode;
    const done = result.ok ? callAt(result.data, "ok", undefined) : callAt(undefined, result.error.code, result.error);
    try {
      await writeEntries(
        () => finalEvents(env, done, record),
        () => writerFor(options.writers(ctx), writeMode, path),
        writeMode,
        report,
      );
    } catch (error) {
      // Only sync mode's successful calls wait on their entry: theirs is the one failure that fails the call.
      if (writeMode === "sync" && result.ok) throw auditFailure(error);
      report(error);
    }
    return result;
  });
}

/** The mode this call runs in, after the app's `mode` hook; no spec and no mode when it is off. */
function resolveMode<TContext, TTx>(
  options: AuditPluginOptions<TContext, TTx>,
  ctx: TContext,
  declaredSpec: AuditSpec<TContext> | undefined,
): { spec: AuditSpec<TContext> | undefined; mode: AuditPluginMode | undefined } {
  if (!declaredSpec) return { spec: undefined, mode: undefined };
  const declared = declaredSpec.mode ?? "async";
  const chosen = options.mode ? options.mode(ctx, declared, declaredSpec.mode !== undefined) : declared;
  return chosen === "off" ? { spec: undefined, mode: undefined } : { spec: declaredSpec, mode: chosen };
}

/** Hands an error to the app's onError; never throws (a failing hook must not fail the call). */
function reporter<TContext, TTx>(
  options: AuditPluginOptions<TContext, TTx>,
  ctx: TContext,
  path: string,
  type: AuditCall<TContext>["type"],
) {
  return (error: unknown): void => {
    try {
      options.onError?.(error instanceof Error ? error : new Error(messageOf(error)), { ctx, path, type });
    } catch {
      // a throwing error hook must not fail the call either
    }
  };
}

/** ctx.audit for a call that is not audited: a transaction is just a transaction. */
function plainHelpers<TContext, TTx>(
  options: AuditPluginOptions<TContext, TTx>,
  ctx: TContext,
  path: string,
  mode: AuditPluginMode | undefined,
): AuditHelpers<TTx> {
  return {
    mode,
    transaction: (fn) => {
      const store = options.transactions;
      if (!store) throw new AuditConfigError(path, "ctx.audit.transaction needs the plugin's `transactions` option");
      return store.run(ctx, fn);
    },
    change: () => undefined,
    rows: () => undefined,
    annotate: () => undefined,
  };
}

/**
 * ctx.audit for an audited call: change / rows / annotate fill `record`; in transactional mode
 * `transaction` also inserts the call's entries inside the transaction (once per call).
 */
function auditedHelpers<TContext, TTx>(
  options: AuditPluginOptions<TContext, TTx>,
  ctx: TContext,
  path: string,
  mode: AuditPluginMode,
  env: CallEnv<TContext>,
  record: CallRecord,
  succeeded: (output: unknown) => AuditCall<TContext>,
  auditContext: AuditContext,
): { helpers: AuditHelpers<TTx>; writtenInTransaction: () => boolean } {
  let transactionStarted = false;
  let written = false;
  const helpers: AuditHelpers<TTx> = {
    mode,
    transaction: async <T>(fn: (tx: TTx) => Promise<T>): Promise<T> => {
      const store = options.transactions;
      if (!store) throw new AuditConfigError(path, "ctx.audit.transaction needs the plugin's `transactions` option");
      if (mode !== "transactional") return store.run(ctx, fn);
      if (transactionStarted) throw new AuditConfigError(path, "transactional mode allows one ctx.audit.transaction per call");
      transactionStarted = true;
      const mark = { rows: record.rows.length, change: record.change, annotations: { ...record.annotations } };
      const output = await store.run(ctx, async (tx) => {
        // A store may retry the callback (e.g. on a serialization failure): start each attempt clean.
        record.rows.length = mark.rows;
        record.change = mark.change;
        record.annotations = { ...mark.annotations };
        const result = await fn(tx);
        const entries = finalEvents(env, succeeded(result), record).map((event) => stampEvent(event, auditContext));
        await store.write(tx, entries);
        return result;
      });
      written = true;
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
  return { helpers, writtenInTransaction: () => written };
}

/** The record as it is before the call, for the diff (calls that can change something only). */
async function loadBefore<TContext>(
  spec: AuditSpec<TContext>,
  ctx: TContext,
  record: CallRecord,
  call: AuditCall<TContext>,
  report: (error: unknown) => void,
): Promise<void> {
  const loader = spec.before;
  const id = loader ? selectId(spec.id, call) : undefined;
  if (!loader || id === undefined) return;
  try {
    record.before = toJson(await loader(id, ctx));
  } catch (error) {
    report(error);
  }
}

/**
 * Builds the events and hands them to the writer. async: enqueued, each failure reported, not
 * awaited; sync and durable: awaited, the first failure rejects. Building or finding the writer
 * failing rejects too: the caller decides whether that fails the call.
 */
async function writeEntries(
  events: () => AuditEvent[],
  writer: () => AuditWriter,
  mode: "async" | "sync" | "durable",
  report: (error: unknown) => void,
): Promise<void> {
  const built = events();
  const target = writer();
  const writes = built.map(async (event) => target.record(event)); // a writer that throws rejects too
  if (mode === "async") for (const w of writes) w.catch(report);
  else await Promise.all(writes);
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
  const problem = writerProblem(writers, mode);
  if (problem) throw new AuditConfigError(path, problem);
  return writers[mode] as AuditWriter;
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
