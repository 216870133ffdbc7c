/**
 * Pure helpers for what an entry says changed: `toJson` turns whatever a loader or a procedure
 * returned into plain JSON (as it will be stored), `diffJson` lists the leaf changes between two
 * JSON values. Objects are compared key by key, recursively; arrays and scalars as whole values,
 * because an index-by-index diff of a reordered list says nothing useful.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/**
 * One change. `path` names the field, dotted from the root (`"lastName"`, `"address.city"`);
 * `from` is absent for an added field, `to` for a removed one.
 */
export interface AuditChange {
  path: string;
  from?: Json;
  to?: Json;
}

/**
 * The JSON form of `value`, as `JSON.stringify` would write it, as a value: Dates become ISO
 * strings, `toJSON()` is honoured (Prisma's Decimal), bigints become strings, non-finite numbers
 * null, Maps objects, Sets arrays; functions, symbols and `undefined` vanish from objects (and
 * become null in arrays); a cycle becomes `"[Circular]"`. `undefined` in, `undefined` out.
 */
export function toJson(value: unknown): Json | undefined {
  return convert(value, new Set());
}

function convert(value: unknown, ancestors: Set<object>): Json | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : null;
    case "bigint":
      return value.toString();
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  if (value === null) return null;
  const obj = value as object;
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? null : obj.toISOString();
  if (ancestors.has(obj)) return "[Circular]";
  ancestors.add(obj);
  try {
    if (hasToJson(obj)) return convert(obj.toJSON(), ancestors);
    if (Array.isArray(obj) || obj instanceof Set) {
      return Array.from(obj as Iterable<unknown>, (item) => convert(item, ancestors) ?? null);
    }
    const entries = obj instanceof Map ? [...obj.entries()] : Object.entries(obj);
    const out: JsonObject = {};
    for (const [key, item] of entries) {
      const json = convert(item, ancestors);
      if (json !== undefined) out[String(key)] = json;
    }
    return out;
  } finally {
    ancestors.delete(obj);
  }
}

function hasToJson(obj: object): obj is { toJSON(): unknown } {
  return typeof (obj as { toJSON?: unknown }).toJSON === "function";
}

/**
 * The leaf changes from `before` to `after`, in key order (before's keys, then keys only after
 * has). `undefined` or `null` on one side, an object on the other, means "no such record" (a
 * create, a delete): every field is then added or removed. Equal values produce no change; the empty list means nothing changed.
 */
export function diffJson(before: Json | undefined, after: Json | undefined): AuditChange[] {
  const changes: AuditChange[] = [];
  walk(before, after, [], changes);
  return changes;
}

function walk(before: Json | undefined, after: Json | undefined, path: string[], out: AuditChange[]): void {
  if (isObject(before) && isObject(after)) {
    for (const key of Object.keys(before)) walk(before[key], after[key], [...path, key], out);
    for (const key of Object.keys(after)) if (!(key in before)) walk(undefined, after[key], [...path, key], out);
    return;
  }
  if (path.length === 0) {
    // A record appearing or disappearing (undefined or null on the other side): list its fields
    // rather than one opaque change of the whole record.
    const from = before ?? undefined;
    const to = after ?? undefined;
    if ((isObject(from) && to === undefined) || (from === undefined && isObject(to))) {
      for (const key of Object.keys((from ?? to) as JsonObject)) {
        walk(isObject(from) ? from[key] : undefined, isObject(to) ? to[key] : undefined, [key], out);
      }
      return;
    }
  }
  if (before === undefined && after === undefined) return;
  if (before !== undefined && after !== undefined && equalJson(before, after)) return;
  out.push(change(path, before, after));
}

function change(path: string[], from: Json | undefined, to: Json | undefined): AuditChange {
  const c: AuditChange = { path: path.join(".") };
  if (from !== undefined) c.from = from;
  if (to !== undefined) c.to = to;
  return c;
}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Deep equality of JSON values (key order ignored). */
export function equalJson(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => equalJson(x, b[i] as Json));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && equalJson(a[k] as Json, b[k] as Json));
  }
  return false;
}
