/**
 * What a procedure declares in `meta.audit` (AuditSpec), what the plugin is configured with
 * (AuditPluginOptions), and what a procedure gets in `ctx.audit` (AuditHelpers). Types and their
 * validation only; ./plugin.ts does the work.
 */
import type { TRPCError, TRPCProcedureType } from "@trpc/server";
import { z } from "zod";
import type { AuditWriter } from "../writer-contract.ts";
import type { AuditActor } from "../context.ts";
import type { AuditEntry, AuditEvent } from "../event.ts";
import type { RedactionMode } from "../redact.ts";
import { InvalidAuditMetaError, InvalidAuditPluginOptionsError, formatIssues } from "../errors.ts";

/**
 * How a procedure's entries are written.
 * - `async` (default): enqueued in microseconds; the writer's workers write them in batches.
 * - `sync`: the call waits until its entries are committed; a failed write fails the call.
 * - `transactional`: the procedure's own transaction (`ctx.audit.transaction`) inserts them, so
 *   they commit if and only if the change does; a failed write rolls the change back.
 * - `durable`: the call waits until they are fsynced to the local spool (survives a crash).
 */
export type AuditPluginMode = "async" | "sync" | "transactional" | "durable";

/** The writers per mode. `async` is required; `sync` and `durable` only if a procedure uses them. */
export interface AuditWriters {
  readonly async: AuditWriter;
  readonly sync?: AuditWriter | undefined;
  readonly durable?: AuditWriter | undefined;
}

/** A procedure's input as the client sent it: an object's fields, or `{}` for anything else. */
export type AuditInput = { readonly [key: string]: unknown };

/** Everything known about one call, handed to every extractor and hook. */
export interface AuditCall<TContext> {
  readonly ctx: TContext;
  /** The procedure path, e.g. `patient.update`. */
  readonly path: string;
  readonly type: TRPCProcedureType;
  /**
   * The raw input, before validation — the plugin wraps validation so that rejected input is
   * audited too, so on a BAD_REQUEST call this may be anything the client sent.
   */
  readonly input: AuditInput;
  /** What the procedure returned; `undefined` when the call failed. */
  readonly output: unknown;
  /** `ok`, or the tRPC error code the call ended with (`FORBIDDEN`, `BAD_REQUEST`, …). */
  readonly outcome: string;
  readonly error: TRPCError | undefined;
  readonly durationMs: number;
}

/**
 * Lets an extractor declare the parameter type it knows the procedure has (`(p: Patient) => …`)
 * although meta is typed once for every procedure: parameters are checked bivariantly here, as
 * for methods. The plugin calls extractors only with what their names say.
 */
type Fn<Args extends unknown[], R> = { bivariant(...args: Args): R }["bivariant"];

/** Where an entry's entity id comes from: a field of the input or output, or a function of the call. */
export type AuditIdSelector<TContext> = `input.${string}` | `output.${string}` | Fn<[call: AuditCall<TContext>], unknown>;

/** `meta.audit`: a procedure's audit intent. */
export interface AuditSpec<TContext> {
  /** Dotted verb: `patient.update`, `record.read`. */
  readonly action: string;
  /** The kind of record: `Patient`. */
  readonly entity: string;
  /**
   * The entity id: `"input.id"`, `"output.id"` or a function. Strings and finite numbers are
   * kept (as strings, up to 256 characters); anything else means "no id".
   */
  readonly id?: AuditIdSelector<TContext>;
  /**
   * Loads the record as it is before the call (for `before` and the diff), given the id found
   * from the input. Runs before the procedure, only for calls with an actor.
   */
  readonly before?: Fn<[id: string, ctx: TContext], unknown>;
  /**
   * The record after a successful call, from the output. Default: the output itself for
   * `change` entries; `false` stores no `after` (nor diff).
   */
  readonly after?: false | Fn<[output: unknown, call: AuditCall<TContext>], unknown>;
  /**
   * `change` (default for mutations): before, after and diff are stored. `access` (default for
   * queries): only who read what — the data read is never copied into the trail.
   */
  readonly kind?: "change" | "access";
  /** Default `async`. */
  readonly mode?: AuditPluginMode;
  /** Redaction rules added to the plugin's for this procedure (field names or dotted paths). */
  readonly redact?: readonly string[];
  /** Extra metadata for the entry (an object's fields are merged with the plugin's). */
  readonly metadata?: Fn<[call: AuditCall<TContext>], unknown>;
  /**
   * For calls affecting many rows, reported with `ctx.audit.rows(…)`: `rows` (default) writes one
   * entry per row; `summary` one entry listing them (metadata `count` and `ids`, diff per row).
   */
  readonly bulk?: "rows" | "summary";
  /** Who acted, when the context cannot know it yet (e.g. a login: from the output). */
  readonly actor?: Fn<[call: AuditCall<TContext>], AuditActor | undefined>;
}

/** The meta type a tRPC instance declares to use the plugin: `initTRPC.meta<AuditMeta<Ctx>>()`. */
export interface AuditMeta<TContext> {
  /** The procedure's audit intent; `false` to declare it deliberately unaudited. */
  readonly audit?: AuditSpec<TContext> | false;
}

/** One affected row of a bulk call, or the explicit change of a single-record call. */
export interface AuditRow {
  readonly id: string | number;
  readonly before?: unknown;
  readonly after?: unknown;
  /** Merged into this row's entry metadata. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** What `ctx.audit` offers a procedure. */
export interface AuditHelpers<TTx> {
  /** This procedure's mode; `undefined` when it is not audited. */
  readonly mode: AuditPluginMode | undefined;
  /**
   * Runs `fn` in one database transaction (the plugin's `transactions.run`). In transactional
   * mode the call's entries — built from what `fn` returns and what it reported — are inserted by
   * that transaction before it commits: both commit or neither. In other modes it is just a
   * transaction, so a procedure's code does not change with its mode.
   */
  transaction<T>(fn: (tx: TTx) => Promise<T>): Promise<T>;
  /** The change this call made, when the meta's loader and output do not tell it (overrides them). */
  change(change: Partial<AuditRow>): void;
  /** A bulk call's affected rows (see `bulk`); may be called several times. */
  rows(rows: readonly AuditRow[]): void;
  /** Extra metadata for this call's entries. */
  annotate(metadata: Readonly<Record<string, unknown>>): void;
}

/** How transactional mode reaches the database, supplied by the app (the plugin knows no ORM). */
export interface AuditTransactions<TContext, TTx> {
  /** Runs `fn` in a transaction: commits when it resolves, rolls back when it throws. */
  run<T>(ctx: TContext, fn: (tx: TTx) => Promise<T>): Promise<T>;
  /** Inserts stamped entries with the transaction's own connection. */
  write(tx: TTx, entries: readonly AuditEntry[]): Promise<void>;
}

export interface AuditRequestInfo {
  readonly requestId?: string | undefined;
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
}

export interface AuditPluginOptions<TContext, TTx> {
  /** The writers, per mode (usually services on the context). */
  readonly writers: (ctx: TContext) => AuditWriters;
  /** Who is calling; `undefined` for an anonymous call. */
  readonly actor: (ctx: TContext) => AuditActor | undefined;
  /** Where the call comes from. */
  readonly request?: (ctx: TContext) => AuditRequestInfo;
  /** Metadata added to every entry (procedure metadata wins on the same key). */
  readonly metadata?: Fn<[call: AuditCall<TContext>], Readonly<Record<string, unknown>> | undefined>;
  /** Redaction rules added to the defaults (ssn, insuranceNumber, password, passwordHash, token, tokenHash). */
  readonly redact?: readonly string[];
  /** `mask` (default): redacted values become "[REDACTED]"; `remove`: they are left out. */
  readonly redaction?: RedactionMode;
  /** Required by procedures in transactional mode (and by `ctx.audit.transaction`). */
  readonly transactions?: AuditTransactions<TContext, TTx> | undefined;
  /**
   * Chooses the mode per call, given the declared one (default: the declared one) and whether the
   * procedure's meta pins it (`pinned` false: `declared` is the default, `async`). `"off"` skips
   * auditing for the call. For operations — e.g. an operator's default mode for procedures that
   * pin none, or every procedure `sync` during an investigation — and for benchmarks that compare
   * the same procedure across modes.
   */
  readonly mode?: (ctx: TContext, declared: AuditPluginMode, pinned: boolean) => AuditPluginMode | "off";
  /**
   * Sees every event after redaction, before it is written; may return a replacement (which is
   * redacted again), e.g. to add a tenant id, or count entries. Must not throw (if it does, the
   * error is reported and the event written unchanged).
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a hook kept only for its side effect (say, a counter) returns nothing.
  readonly onEntry?: (event: AuditEvent, call: AuditCall<TContext>) => AuditEvent | undefined | void;
  /**
   * Errors the plugin handled without failing the call: async/durable write failures, a loader or
   * extractor that threw. Default: ignored (the writers report their own through their onError).
   */
  readonly onError?: (error: Error, call: Pick<AuditCall<TContext>, "ctx" | "path" | "type">) => void;
}

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === "function", "expected a function");

const OptionsSchema = z.strictObject({
  writers: fn,
  actor: fn,
  request: fn.optional(),
  metadata: fn.optional(),
  redact: z.array(z.string()).optional(),
  redaction: z.enum(["mask", "remove"]).optional(),
  transactions: z.strictObject({ run: fn, write: fn }).optional(),
  mode: fn.optional(),
  onEntry: fn.optional(),
  onError: fn.optional(),
});

export function validateOptions(options: unknown): void {
  const parsed = OptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new InvalidAuditPluginOptionsError(formatIssues(parsed.error.issues, "(options)"));
  }
}

const name = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\w.:-]+$/, "letters, digits, _ . : - only");

const SpecSchema = z.strictObject({
  action: name,
  entity: name,
  id: z.union([z.string().regex(/^(input|output)\.[\w.]+$/, 'expected "input.<field>" or "output.<field>"'), fn]).optional(),
  before: fn.optional(),
  after: z.union([z.literal(false), fn]).optional(),
  kind: z.enum(["change", "access"]).optional(),
  mode: z.enum(["async", "sync", "transactional", "durable"]).optional(),
  redact: z.array(z.string()).optional(),
  metadata: fn.optional(),
  bulk: z.enum(["rows", "summary"]).optional(),
  actor: fn.optional(),
});

/** Problems with one spec, as "path: message" lines (empty when valid). */
export function specIssues(path: string, spec: unknown): string[] {
  const parsed = SpecSchema.safeParse(spec);
  if (parsed.success) return [];
  return formatIssues(parsed.error.issues, "meta.audit", "meta.audit.").map((line) => `${path}: ${line}`);
}

export function assertSpec(path: string, spec: unknown): void {
  const issues = specIssues(path, spec);
  if (issues.length > 0) throw new InvalidAuditMetaError(issues);
}

/** Why `writers` cannot take `mode`'s entries, or undefined when it can (also used by verify). */
export function writerProblem(writers: AuditWriters, mode: "async" | "sync" | "durable"): string | undefined {
  const writer = writers[mode];
  if (!writer) return `mode "${mode}" but no ${mode} writer was given`;
  if (writer.mode !== mode) return `writers.${mode} is a ${writer.mode} writer`;
  return undefined;
}
