/**
 * Pure: from one call (and what the procedure reported through `ctx.audit`) to the audit events
 * to write — ids extracted, before/after/diff for changes, metadata merged, every JSON field
 * redacted, and the free-text fields cut to what the event schema accepts, so that a long user
 * agent never costs an entry.
 */
import type { AuditActor } from "../context.ts";
import { type AuditChange, type Json, type JsonObject, diffJson, toJson } from "../diff.ts";
import { type AuditEvent, LIMITS } from "../event.ts";
import type { Redactor } from "../redact.ts";
import type { AuditCall, AuditIdSelector, AuditRequestInfo, AuditRow, AuditSpec } from "./spec.ts";

/** What the plugin gathered during one call, besides the call itself. */
export interface CallRecord {
  /** The record as the spec's loader found it before the call. */
  before: Json | undefined;
  /** Set by `ctx.audit.change`. */
  change: Partial<AuditRow> | undefined;
  /** Set by `ctx.audit.rows`. */
  rows: AuditRow[];
  /** Set by `ctx.audit.annotate`. */
  annotations: Record<string, unknown>;
}

export interface BuildOptions<TContext> {
  readonly spec: AuditSpec<TContext>;
  readonly redactor: Redactor;
  readonly actor: AuditActor | undefined;
  readonly request: AuditRequestInfo;
  readonly metadata: Readonly<Record<string, unknown>> | undefined;
}

/** `change` for mutations, `access` for queries, unless the spec says otherwise. */
export function kindOf<TContext>(spec: AuditSpec<TContext>, type: string): "change" | "access" {
  return spec.kind ?? (type === "query" ? "access" : "change");
}

/** A usable entity id: a non-empty string (≤ 256 characters) or a finite number, as a string. */
export function entityIdOf(value: unknown): string | undefined {
  if (typeof value === "string") return value.length > 0 && value.length <= LIMITS.entityId ? value : undefined;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

export function selectId<TContext>(selector: AuditIdSelector<TContext> | undefined, call: AuditCall<TContext>): string | undefined {
  if (selector === undefined) return undefined;
  if (typeof selector === "function") return entityIdOf(selector(call));
  const [source, ...keys] = selector.split(".");
  let value: unknown = source === "input" ? call.input : call.output;
  for (const key of keys) value = isRecord(value) ? value[key] : undefined;
  return entityIdOf(value);
}

export function buildEvents<TContext>(call: AuditCall<TContext>, record: CallRecord, o: BuildOptions<TContext>): AuditEvent[] {
  const { spec, redactor } = o;
  const ok = call.outcome === "ok";
  const actor = fitActor(spec.actor?.(call) ?? o.actor);
  const base: AuditEvent = {
    action: spec.action,
    entity: spec.entity,
    outcome: call.outcome,
    ...(actor ? { actor } : {}),
    path: cut(call.path, LIMITS.path),
    durationMs: Math.max(0, call.durationMs),
    ...fitRequest(o.request),
  };
  const metadata = mergeMetadata(o.metadata, spec.metadata?.(call), record.annotations, ok ? undefined : { error: errorOf(call) });
  const change = ok && kindOf(spec, call.type) === "change";

  if (ok && spec.bulk !== undefined) {
    const rows = record.rows.map((row) => ({
      id: entityIdOf(row.id),
      before: toJson(row.before),
      after: toJson(row.after),
      metadata: row.metadata,
    }));
    // A bulk call that touched nothing still leaves evidence: one entry saying so.
    if (spec.bulk === "rows" && rows.length === 0) return [finish(base, redactor, { metadata: { ...metadata, rows: 0 } })];
    if (spec.bulk === "summary") {
      const ids = rows.flatMap((r) => (r.id === undefined ? [] : [r.id]));
      return [
        finish(base, redactor, {
          metadata: { ...metadata, count: rows.length, ids },
          diff: rows.map((r) => ({ id: r.id ?? null, changes: redactChanges(redactor, diffOf(r.before, r.after)) })),
        }),
      ];
    }
    return rows.map((r) =>
      finish(base, redactor, {
        entityId: r.id,
        before: r.before,
        after: r.after,
        diff: redactChanges(redactor, diffOf(r.before, r.after)),
        metadata: r.metadata ? { ...metadata, ...(toJson(r.metadata) as JsonObject) } : metadata,
      }),
    );
  }

  const entityId = entityIdOf(record.change?.id) ?? selectId(spec.id, call);
  if (!change) return [finish(base, redactor, { entityId, metadata })];
  const before = record.change && "before" in record.change ? toJson(record.change.before) : record.before;
  const after =
    record.change && "after" in record.change
      ? toJson(record.change.after)
      : spec.after === false
        ? undefined
        : toJson(spec.after ? spec.after(call.output, call) : call.output);
  return [
    finish(base, redactor, {
      entityId,
      before,
      after,
      diff: spec.after === false && !record.change ? undefined : redactChanges(redactor, diffOf(before, after)),
      metadata,
    }),
  ];
}

interface Parts {
  entityId?: string | undefined;
  before?: Json | undefined;
  after?: Json | undefined;
  /** Already redacted (diffs need the path-aware redaction). */
  diff?: Json | undefined;
  metadata?: JsonObject | undefined;
}

function finish(base: AuditEvent, redactor: Redactor, parts: Parts): AuditEvent {
  const event: AuditEvent = { ...base };
  if (parts.entityId !== undefined) event.entityId = parts.entityId;
  const before = redactor.value(parts.before);
  const after = redactor.value(parts.after);
  const metadata = parts.metadata && Object.keys(parts.metadata).length > 0 ? redactor.value(parts.metadata) : undefined;
  if (before !== undefined) event.before = before;
  if (after !== undefined) event.after = after;
  if (parts.diff !== undefined) event.diff = parts.diff;
  if (metadata !== undefined) event.metadata = metadata;
  return event;
}

/** Re-applies redaction to an event an onEntry hook replaced (it may have added raw values). */
export function redactEvent(event: AuditEvent, redactor: Redactor): AuditEvent {
  const out: AuditEvent = { ...event };
  if (event.before !== undefined) out.before = redactor.value(toJson(event.before));
  if (event.after !== undefined) out.after = redactor.value(toJson(event.after));
  if (event.metadata !== undefined) out.metadata = redactor.value(toJson(event.metadata));
  if (event.diff !== undefined) out.diff = redactDiffJson(redactor, toJson(event.diff));
  return out;
}

function redactDiffJson(redactor: Redactor, diff: Json | undefined): Json | undefined {
  if (Array.isArray(diff) && diff.every(isChange)) return redactChanges(redactor, diff as unknown as AuditChange[]);
  if (Array.isArray(diff)) {
    // A bulk summary: [{ id, changes: AuditChange[] }].
    return diff.map((row) =>
      isRecord(row) && Array.isArray(row.changes) && row.changes.every(isChange)
        ? { ...(redactor.value(row) as JsonObject), changes: redactChanges(redactor, row.changes as unknown as AuditChange[]) }
        : redactor.value(row),
    );
  }
  return redactor.value(diff);
}

function isChange(value: Json): boolean {
  return isRecord(value) && typeof value.path === "string";
}

function diffOf(before: Json | undefined, after: Json | undefined): AuditChange[] {
  return before === undefined && after === undefined ? [] : diffJson(before, after);
}

function redactChanges(redactor: Redactor, changes: AuditChange[]): Json {
  return redactor.changes(changes) as unknown as Json;
}

function mergeMetadata(...parts: unknown[]): JsonObject {
  const out: JsonObject = {};
  for (const part of parts) {
    if (part === undefined) continue;
    const json = toJson(part);
    if (json === undefined) continue;
    if (isRecord(json)) Object.assign(out, json);
    else out.value = json;
  }
  return out;
}

function errorOf<TContext>(call: AuditCall<TContext>): JsonObject {
  // An internal error's message may quote the failed query (and so its data): keep only the code.
  if (!call.error || call.outcome === "INTERNAL_SERVER_ERROR") return { code: call.outcome };
  return { code: call.outcome, message: cut(call.error.message, 1000) as string };
}

function fitActor(actor: AuditActor | undefined): AuditActor | undefined {
  const id = entityIdOf(actor?.id);
  if (!actor || id === undefined) return undefined;
  return actor.role
    ? { id: cut(id, LIMITS.actorId) as string, role: cut(actor.role, LIMITS.actorRole) }
    : { id: cut(id, LIMITS.actorId) as string };
}

function fitRequest(request: AuditRequestInfo): Pick<AuditEvent, "requestId" | "ip" | "userAgent"> {
  const out: Pick<AuditEvent, "requestId" | "ip" | "userAgent"> = {};
  if (request.requestId) out.requestId = cut(request.requestId, LIMITS.requestId);
  if (request.ip) out.ip = cut(request.ip, LIMITS.ip);
  if (request.userAgent) out.userAgent = cut(request.userAgent, LIMITS.userAgent);
  return out;
}

function cut(value: string, max: number): string | undefined {
  if (value.length === 0) return undefined;
  return value.length <= max ? value : value.slice(0, max);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
