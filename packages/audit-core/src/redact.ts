/**
 * Declarative redaction: rules name what must never be stored, and a redactor applies them to
 * JSON values (before, after, metadata) and to diffs. Pure; no rule ever sees a raw value leave.
 *
 * A rule is either
 * - a field name (`"ssn"`): that key at any depth. Names match loosely — case, `_` and `-` are
 *   ignored, so `"insuranceNumber"` also covers `insurance_number` and `INSURANCE-NUMBER`; or
 * - a dotted path from the root (`"contact.phone"`, `"rows.*.email"`; `*` is any key or index):
 *   that value and everything inside it.
 * A matching value is replaced by `"[REDACTED]"` (mode `mask`, the default: the entry still shows
 * that the field existed or changed) or removed (mode `remove`).
 */
import { InvalidRedactionRuleError } from "./errors.ts";
import type { AuditChange, Json, JsonObject } from "./diff.ts";

/** Redacted everywhere, whatever a procedure declares. */
export const DEFAULT_REDACTIONS = ["ssn", "insuranceNumber", "password", "passwordHash", "token", "tokenHash"] as const;

export const REDACTED = "[REDACTED]";

export type RedactionMode = "mask" | "remove";

const normalise = (key: string) => key.replace(/[_-]/g, "").toLowerCase();

export class Redactor {
  private readonly names = new Set<string>();
  private readonly paths: string[][] = [];

  constructor(
    rules: Iterable<string>,
    readonly mode: RedactionMode = "mask",
  ) {
    for (const rule of rules) {
      if (typeof rule !== "string" || rule.trim() === "") throw new InvalidRedactionRuleError(rule, "expected a non-empty string");
      if (rule.length > 256) throw new InvalidRedactionRuleError(rule, "longer than 256 characters");
      const segments = rule.split(".");
      if (segments.some((s) => s === "")) throw new InvalidRedactionRuleError(rule, "empty path segment");
      if (segments.length === 1) this.names.add(normalise(rule));
      else this.paths.push(segments.map(normalise));
    }
  }

  /** A redactor with these rules and `more`. */
  extend(more: Iterable<string> | undefined, mode: RedactionMode = this.mode): Redactor {
    const rules = [...this.rules(), ...(more ?? [])];
    return new Redactor(rules, mode);
  }

  /** True when the value at `path` (keys from the root) is to be redacted. */
  matches(path: readonly string[]): boolean {
    const normal = path.map(normalise);
    if (normal.some((segment) => this.names.has(segment))) return true;
    return this.paths.some((rule) => rule.length <= normal.length && rule.every((segment, i) => segment === "*" || segment === normal[i]));
  }

  /** `value` with every matching field masked or removed; `undefined` stays `undefined`. */
  value<T extends Json | undefined>(value: T): T {
    return this.at(value, []) as T;
  }

  /** The changes with every matching path's values masked (or the change removed). */
  changes(changes: readonly AuditChange[]): AuditChange[] {
    const out: AuditChange[] = [];
    for (const c of changes) {
      const path = c.path === "" ? [] : c.path.split(".");
      if (this.matches(path)) {
        if (this.mode === "remove") continue;
        const masked: AuditChange = { path: c.path };
        if ("from" in c) masked.from = REDACTED;
        if ("to" in c) masked.to = REDACTED;
        out.push(masked);
        continue;
      }
      const copy: AuditChange = { path: c.path };
      if (c.from !== undefined) copy.from = this.at(c.from, path) as Json;
      if (c.to !== undefined) copy.to = this.at(c.to, path) as Json;
      out.push(copy);
    }
    return out;
  }

  private at(value: Json | undefined, path: string[]): Json | undefined {
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map((item, i) => this.child(item, [...path, String(i)]) ?? null);
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) {
      const redacted = this.child(item, [...path, key]);
      if (redacted !== undefined) out[key] = redacted;
    }
    return out;
  }

  private child(value: Json, path: string[]): Json | undefined {
    if (this.matches(path)) return this.mode === "remove" ? undefined : REDACTED;
    return this.at(value, path);
  }

  private *rules(): Iterable<string> {
    yield* this.names;
    for (const p of this.paths) yield p.join(".");
  }
}

/** A redactor for the default rules plus `rules`. Throws InvalidRedactionRuleError on a bad rule. */
export function createRedactor(rules: Iterable<string> = [], mode: RedactionMode = "mask"): Redactor {
  return new Redactor([...DEFAULT_REDACTIONS, ...rules], mode);
}
