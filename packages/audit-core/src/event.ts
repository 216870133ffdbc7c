/**
 * The audit event: what a caller records (`AuditEvent`) and what a sink stores (`AuditEntry`, the
 * event stamped with id, time and context). One definition, used end to end: the tRPC plugin
 * builds events, the writer validates and stamps them, sinks insert entries as rows.
 */
import { z } from "zod";
import type { AuditContext } from "./context.ts";
import { EntryTooLargeError, InvalidAuditEventError, formatIssues } from "./errors.ts";
import { uuidv7 } from "./id.ts";

/**
 * The most characters each text field of an entry may hold: the one definition the schemas, the
 * hot path's shortcut (isPlainValidEvent) and the tRPC plugin's cuts all read.
 */
export const LIMITS = {
  action: 128,
  entity: 128,
  entityId: 256,
  outcome: 64,
  actorId: 128,
  actorRole: 64,
  path: 256,
  requestId: 128,
  ip: 64,
  userAgent: 512,
} as const;

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

export const AuditActorSchema = z.object({ id: text(LIMITS.actorId), role: optionalText(LIMITS.actorRole) });

export const AuditEventSchema = z.object({
  /** What happened, dotted: `patient.update`, `record.read`, `auth.login`. */
  action: text(LIMITS.action),
  /** The kind of record acted on: `Patient`, `DentalRecord`. */
  entity: text(LIMITS.entity),
  entityId: optionalText(LIMITS.entityId),
  /** `ok`, or the error code the call ended with (e.g. tRPC's `FORBIDDEN`). */
  outcome: text(LIMITS.outcome).default("ok"),
  /** Who acted; defaults to the actor of the current audit context. */
  actor: AuditActorSchema.optional(),
  /** The procedure path or route, e.g. `patient.update`. */
  path: optionalText(LIMITS.path),
  durationMs: z.number().nonnegative().finite().optional(),
  before: json().optional(),
  after: json().optional(),
  diff: json().optional(),
  metadata: json().optional(),
  requestId: optionalText(LIMITS.requestId),
  ip: optionalText(LIMITS.ip),
  userAgent: optionalText(LIMITS.userAgent),
  /** When it happened; defaults to the moment `record` is called. */
  occurredAt: z.union([z.date(), z.iso.datetime({ offset: true })]).optional(),
});

export type AuditEvent = z.input<typeof AuditEventSchema>;

/** A stamped event, flat as the row that stores it. Plain data only: it crosses to workers. */
export const AuditEntrySchema = z.object({
  id: z.uuid(),
  occurredAt: z.iso.datetime({ offset: true }),
  action: text(LIMITS.action),
  entity: text(LIMITS.entity),
  entityId: z.string().nullable(),
  outcome: text(LIMITS.outcome),
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

/**
 * Every field of an entry, in the schema's order: the one list that hashing (chain.ts), storing,
 * exporting and verifying derive theirs from. Maps over it are typed `Record<keyof AuditEntry, …>`,
 * so a field added to the schema cannot go unhashed, unstored or unexported.
 */
export const ENTRY_FIELDS = Object.keys(AuditEntrySchema.shape) as readonly (keyof AuditEntry)[];

/** How record() bounds an entry's size (see EntryLimits in options.ts: maxEntryBytes, oversize). */
export interface EntryLimits {
  /** The most an entry may weigh, in estimated bytes of its JSON text (see `fitEvent`). */
  readonly maxEntryBytes: number;
  /** reject: record() throws EntryTooLargeError. truncate: JSON fields are replaced by a marker. */
  readonly oversize: "reject" | "truncate";
}

/** 256 KiB: ample for an audit entry, and a 500-entry batch stays within a worker's heap. */
export const DEFAULT_MAX_ENTRY_BYTES = 262_144;
export const DEFAULT_ENTRY_LIMITS: EntryLimits = { maxEntryBytes: DEFAULT_MAX_ENTRY_BYTES, oversize: "reject" };

/**
 * Validates `event` and stamps it: a fresh UUIDv7, the time, and what `context` knows. Before
 * anything else every string is normalised (see `normalizeText`) and the size bounded (see
 * `fitEvent`), so what is stamped — and later hashed — is what every database stores.
 */
export function stampEvent(event: unknown, context: AuditContext | undefined, limits: EntryLimits = DEFAULT_ENTRY_LIMITS): AuditEntry {
  const fitted = fitEvent(event, limits);
  const e = isPlainValidEvent(fitted) ? fitted : parseEvent(fitted);
  const now = Date.now();
  const actor = e.actor ?? context?.actor;
  return {
    id: uuidv7(now),
    occurredAt: toIso(e.occurredAt, now),
    action: e.action,
    entity: e.entity,
    entityId: e.entityId ?? null,
    outcome: e.outcome ?? "ok",
    actorId: textOrNull(actor?.id),
    actorRole: textOrNull(actor?.role),
    path: e.path ?? null,
    durationMs: e.durationMs ?? null,
    before: jsonOrNull(e.before),
    after: jsonOrNull(e.after),
    diff: jsonOrNull(e.diff),
    metadata: jsonOrNull(e.metadata),
    requestId: textOrNull(e.requestId ?? context?.requestId),
    ip: textOrNull(e.ip ?? context?.ip),
    userAgent: textOrNull(e.userAgent ?? context?.userAgent),
  };
}

// ── one text form ─────────────────────────────────────────────────────────────────────────────

/** A lone surrogate (high without low, low without high) or U+0000. */
const IRREGULAR = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|\0/g;
const MAYBE_IRREGULAR = /[\0\ud800-\udfff]/;

/**
 * The one text form every stored string has: well-formed UTF-16, each lone surrogate replaced by
 * U+FFFD (as TextEncoder and PostgreSQL's UTF-8 would refuse or mangle it), and U+0000 replaced
 * by U+FFFD too (PostgreSQL text and jsonb cannot hold it; SQLite could, but both must agree).
 * Lengths are unchanged. The common case (nothing to replace) is one native regex test.
 */
export function normalizeText(text: string): string {
  if (!MAYBE_IRREGULAR.test(text)) return text;
  return text.replace(IRREGULAR, "\ufffd");
}

function textOrNull(value: string | undefined): string | null {
  return value === undefined ? null : normalizeText(value);
}

/** Thrown inside the walk once the budget is spent: ends it at once, whatever the payload's size. */
class OverBudget {}

/**
 * Estimated size of an entry apart from its strings and JSON fields: the id, the time, field
 * names, quotes and separators of its JSON text.
 */
const ENTRY_OVERHEAD_BYTES = 400;

/**
 * Returns the event with every string normalised (columns, actor, JSON keys and values), copying
 * only what changes, and bounded in size. The size is an estimate of the entry's JSON text in
 * UTF-8 (strings by their UTF-8 length plus quotes, numbers as 8 bytes, a fixed overhead for the
 * stamped fields); the walk stops as soon as it passes `maxEntryBytes`, so a huge payload costs
 * about as much as a payload of the limit before it is refused (EntryTooLargeError) or, with
 * `oversize: "truncate"`, has its largest JSON fields replaced by a marker `{ "$truncated": … }`.
 * Anything that is not JSON is left as it is, for validation to name.
 */
export function fitEvent(event: unknown, limits: EntryLimits): unknown {
  if (typeof event !== "object" || event === null || Array.isArray(event)) return event;
  const source = event as Record<string, unknown>;
  const budget = { left: limits.maxEntryBytes - ENTRY_OVERHEAD_BYTES };
  try {
    return fitJson(source, budget, 0);
  } catch (error) {
    if (!(error instanceof OverBudget)) throw error;
    if (limits.oversize === "reject") {
      throw new EntryTooLargeError(limits.maxEntryBytes - budget.left, limits.maxEntryBytes);
    }
    return truncateEvent(source, limits);
  }
}

/** The entry's fields that hold JSON values (stored as JSON, hashed as canonical JSON). */
export const JSON_FIELDS: ReadonlySet<string> = new Set(["before", "after", "diff", "metadata"] satisfies (keyof AuditEntry)[]);

/**
 * oversize "truncate": the text fields first (bounded by the schema), then each JSON field in the
 * order before, after, diff, metadata if it fits in what is left, else `{ "$truncated": … }`.
 */
function truncateEvent(source: Record<string, unknown>, limits: EntryLimits): Record<string, unknown> {
  const budget = { left: limits.maxEntryBytes - ENTRY_OVERHEAD_BYTES };
  const rest: Record<string, unknown> = {};
  for (const key in source) if (!JSON_FIELDS.has(key)) rest[key] = source[key];
  let out: Record<string, unknown>;
  try {
    out = fitJson(rest, budget, 0) as Record<string, unknown>;
  } catch (error) {
    if (!(error instanceof OverBudget)) throw error;
    throw new EntryTooLargeError(limits.maxEntryBytes - budget.left, limits.maxEntryBytes);
  }
  out = out === rest ? { ...rest } : out;
  for (const key of JSON_FIELDS) {
    if (!(key in source)) continue;
    const trial = { left: budget.left };
    try {
      out[key] = fitJson(source[key], trial, 1);
      budget.left = trial.left;
    } catch (error) {
      if (!(error instanceof OverBudget)) throw error;
      out[key] = { $truncated: { maxEntryBytes: limits.maxEntryBytes } };
      budget.left -= 48;
    }
  }
  return out;
}

/** Normalises and measures one value (see fitEvent); throws OverBudget once the budget is spent. */
function fitJson(value: unknown, budget: { left: number }, depth: number): unknown {
  if (typeof value === "string") {
    budget.left -= (value.length < 64 && !MAYBE_IRREGULAR.test(value) ? value.length : Buffer.byteLength(value)) + 2;
    if (budget.left < 0) throw new OverBudget();
    return normalizeText(value);
  }
  if (typeof value !== "object" || value === null) {
    budget.left -= 8;
    if (budget.left < 0) throw new OverBudget();
    return value;
  }
  if (depth > 33) return value; // not JSON (isJsonValue stops at 32): validation names it
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      budget.left -= 1;
      const fitted = fitJson(item, budget, depth + 1);
      if (fitted !== item) {
        out ??= value.slice();
        out[i] = fitted;
      }
    }
    return out ?? value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value; // a Date, a Map…: validation names it
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  let out: Record<string, unknown> | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const item = record[key];
    const name = fitJson(key, budget, depth + 1) as string;
    const fitted = fitJson(item, budget, depth + 1);
    if (out === undefined && (name !== key || fitted !== item)) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j] as string] = record[keys[j] as string];
    }
    // Two keys that differ only by irregular text become one; the later value wins, as in JSON.
    if (out) out[name] = fitted;
  }
  return out ?? value;
}

/** The schema's verdict and parsed value; throws InvalidAuditEventError naming every bad field. */
function parseEvent(event: unknown): ParsedEvent {
  const parsed = AuditEventSchema.safeParse(event);
  if (!parsed.success) {
    throw new InvalidAuditEventError(formatIssues(parsed.error.issues, "(event)"));
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
    isText(v.action, LIMITS.action) &&
    isText(v.entity, LIMITS.entity) &&
    (v.outcome === undefined || isText(v.outcome, LIMITS.outcome)) &&
    v.occurredAt === undefined &&
    isOptionalText(v.entityId, LIMITS.entityId) &&
    isOptionalText(v.path, LIMITS.path) &&
    isOptionalText(v.requestId, LIMITS.requestId) &&
    isOptionalText(v.ip, LIMITS.ip) &&
    isOptionalText(v.userAgent, LIMITS.userAgent) &&
    (v.durationMs === undefined || (typeof v.durationMs === "number" && Number.isFinite(v.durationMs) && v.durationMs >= 0)) &&
    (actor === undefined ||
      (typeof actor === "object" && actor !== null && isText(actor.id, LIMITS.actorId) && isOptionalText(actor.role, LIMITS.actorRole))) &&
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
