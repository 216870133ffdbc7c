/**
 * The audit event: what a caller records (`AuditEvent`) and what a sink stores (`AuditEntry`, the
 * event stamped with id, time and context). One definition, used end to end: the tRPC plugin
 * builds events, the writer validates and stamps them, sinks insert entries as rows.
 */
import { z } from "zod";
import type { AuditContext } from "./context.ts";
import { InvalidAuditEventError } from "./errors.ts";
import { uuidv7 } from "./id.ts";

const text = (max: number) => z.string().min(1).max(max);

type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * A JSON value: string, finite number, boolean, null, array or plain object of those. Checked by
 * hand because it runs on the hot path: z.json() costs ~1 µs per small object, this ~0.1 µs.
 */
export function isJsonValue(value: unknown, depth = 0): value is JsonValue {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value !== "object" || depth > 32) return false;
  if (Array.isArray(value)) return value.every((v) => isJsonValue(v, depth + 1));
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in value) {
    if (!isJsonValue((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

const json = () =>
  z.custom<JsonValue>((v) => isJsonValue(v), {
    message: "must be JSON: strings, finite numbers, booleans, null, arrays and plain objects (depth ≤ 32)",
  });
const optionalText = (max: number) => z.string().max(max).optional();

export const AuditActorSchema = z.object({ id: text(128), role: optionalText(64) });

export const AuditEventSchema = z.object({
  /** What happened, dotted: `patient.update`, `record.read`, `auth.login`. */
  action: text(128),
  /** The kind of record acted on: `Patient`, `DentalRecord`. */
  entity: text(128),
  entityId: optionalText(256),
  /** `ok`, or the error code the call ended with (e.g. tRPC's `FORBIDDEN`). */
  outcome: text(64).default("ok"),
  /** Who acted; defaults to the actor of the current audit context. */
  actor: AuditActorSchema.optional(),
  /** The procedure path or route, e.g. `patient.update`. */
  path: optionalText(256),
  durationMs: z.number().nonnegative().finite().optional(),
  before: json().optional(),
  after: json().optional(),
  diff: json().optional(),
  metadata: json().optional(),
  requestId: optionalText(128),
  ip: optionalText(64),
  userAgent: optionalText(512),
  /** When it happened; defaults to the moment `record` is called. */
  occurredAt: z.union([z.date(), z.iso.datetime({ offset: true })]).optional(),
});

export type AuditEvent = z.input<typeof AuditEventSchema>;

/** A stamped event, flat as the row that stores it. Plain data only: it crosses to workers. */
export const AuditEntrySchema = z.object({
  id: z.uuid(),
  occurredAt: z.iso.datetime({ offset: true }),
  action: text(128),
  entity: text(128),
  entityId: z.string().nullable(),
  outcome: text(64),
  actorId: z.string().nullable(),
  actorRole: z.string().nullable(),
  path: z.string().nullable(),
  durationMs: z.number().nullable(),
  before: json().nullable(),
  after: json().nullable(),
  diff: json().nullable(),
  metadata: json().nullable(),
  requestId: z.string().nullable(),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
});

export type AuditEntry = z.infer<typeof AuditEntrySchema>;

/** Validates `event` and stamps it: a fresh UUIDv7, the time, and what `context` knows. */
export function stampEvent(event: unknown, context: AuditContext | undefined): AuditEntry {
  const e = isPlainValidEvent(event) ? event : parseEvent(event);
  const now = Date.now();
  const actor = e.actor ?? context?.actor;
  return {
    id: uuidv7(now),
    occurredAt: toIso(e.occurredAt, now),
    action: e.action,
    entity: e.entity,
    entityId: e.entityId ?? null,
    outcome: e.outcome ?? "ok",
    actorId: actor?.id ?? null,
    actorRole: actor?.role ?? null,
    path: e.path ?? null,
    durationMs: e.durationMs ?? null,
    before: jsonOrNull(e.before),
    after: jsonOrNull(e.after),
    diff: jsonOrNull(e.diff),
    metadata: jsonOrNull(e.metadata),
    requestId: e.requestId ?? context?.requestId ?? null,
    ip: e.ip ?? context?.ip ?? null,
    userAgent: e.userAgent ?? context?.userAgent ?? null,
  };
}

/** The schema's verdict and parsed value; throws InvalidAuditEventError naming every bad field. */
function parseEvent(event: unknown): ParsedEvent {
  const parsed = AuditEventSchema.safeParse(event);
  if (!parsed.success) {
    throw new InvalidAuditEventError(
      parsed.error.issues.map((issue) => `${issue.path.join(".") || "(event)"}: ${issue.message}`),
    );
  }
  return parsed.data;
}

type ParsedEvent = z.output<typeof AuditEventSchema>;
/** What stamping reads: a parsed event, or one the shortcut vouched for (outcome may be absent). */
type StampInput = Omit<ParsedEvent, "outcome"> & { outcome?: string | undefined };

const isText = (v: unknown, max: number): v is string => typeof v === "string" && v.length >= 1 && v.length <= max;
const isOptionalText = (v: unknown, max: number) => v === undefined || (typeof v === "string" && v.length <= max);
const isOptionalJson = (v: unknown) => v === undefined || isJsonValue(v);

/**
 * The hot path's shortcut: true only for an event the schema certainly accepts as it is (every
 * field present has the schema's type and bounds; no occurredAt to normalise).
 * Anything else — including every invalid event — goes through AuditEventSchema, which stays
 * the one definition and the source of every error message. event.test.ts checks both agree.
 * Saves ~0.5 µs a call: zod's object parse is the largest single cost of record().
 */
export function isPlainValidEvent(e: unknown): e is StampInput {
  if (typeof e !== "object" || e === null) return false;
  const v = e as Record<string, unknown>;
  const actor = v.actor as Record<string, unknown> | undefined;
  return (
    isText(v.action, 128) &&
    isText(v.entity, 128) &&
    (v.outcome === undefined || isText(v.outcome, 64)) &&
    v.occurredAt === undefined &&
    isOptionalText(v.entityId, 256) &&
    isOptionalText(v.path, 256) &&
    isOptionalText(v.requestId, 128) &&
    isOptionalText(v.ip, 64) &&
    isOptionalText(v.userAgent, 512) &&
    (v.durationMs === undefined || (typeof v.durationMs === "number" && Number.isFinite(v.durationMs) && v.durationMs >= 0)) &&
    (actor === undefined || (typeof actor === "object" && actor !== null && isText(actor.id, 128) && isOptionalText(actor.role, 64))) &&
    isOptionalJson(v.before) &&
    isOptionalJson(v.after) &&
    isOptionalJson(v.diff) &&
    isOptionalJson(v.metadata)
  );
}

let isoMs = -1;
let isoText = "";

/** ISO-8601 of `value`, or of `now`, which is formatted once per millisecond (the hot path). */
function toIso(value: Date | string | undefined, now: number): string {
  if (value !== undefined) return (typeof value === "string" ? new Date(value) : value).toISOString();
  if (now !== isoMs) {
    isoText = new Date(now).toISOString();
    isoMs = now;
  }
  return isoText;
}

function jsonOrNull(value: JsonValue | undefined): JsonValue {
  return value === undefined ? null : value;
}
