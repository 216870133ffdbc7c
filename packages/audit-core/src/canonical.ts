/**
 * The one text form of a JSON value that chain hashes are computed over: the JSON Canonicalization
 * Scheme, RFC 8785 (JCS). Object members sorted by their names' UTF-16 code units at every level,
 * no whitespace, strings and numbers serialised as ECMAScript's JSON.stringify does (RFC 8785
 * §3.2.2: numbers by Number::toString, strings with the minimal escapes). canonical.test.ts pins
 * it with the RFC's own test vectors: every stored hash depends on this text, so it must never
 * change.
 *
 * Beyond JSON, as it always did: `undefined` members are left out, `undefined` array items and
 * non-finite numbers are `null`, objects of other classes (a Date…) are serialised by their own
 * enumerable keys.
 */

/** The reference definition: member by member. Every value canonicalJson takes gives this text. */
function canonicalBySteps(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i === 0 ? "" : ",") + canonicalBySteps(value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    const v = record[key];
    if (v === undefined) continue;
    out += `${first ? "" : ","}${JSON.stringify(key)}:${canonicalBySteps(v)}`;
    first = false;
  }
  return `${out}}`;
}

/** Thrown by `sortedCopy` for a value its shortcut does not cover. */
class NotPlain {}

/** An array index ("0", "7", "42"): JavaScript objects list such keys first, whatever their order. */
const INDEX_KEY = /^(?:0|[1-9][0-9]*)$/;

/**
 * `value` with the members of every object in sorted order, copying only the objects that are not
 * (so that one native JSON.stringify gives the canonical text). Throws NotPlain for anything
 * JSON.stringify would not serialise as the reference does: objects of other classes (toJSON),
 * functions, symbols, and index-like keys (an object cannot hold "10" before "9").
 */
function sortedCopy(value: unknown): unknown {
  if (value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  if (typeof value !== "object") throw new NotPlain();
  const proto = Object.getPrototypeOf(value);
  if (proto === Array.prototype) {
    const list = value as unknown[];
    let out: unknown[] | undefined;
    for (let i = 0; i < list.length; i++) {
      const item: unknown = list[i];
      if (item === undefined) continue; // JSON.stringify writes null, as the reference does
      const copy = sortedCopy(item);
      if (copy !== item) {
        out ??= list.slice();
        out[i] = copy;
      }
    }
    return out ?? list;
  }
  if (proto !== Object.prototype && proto !== null) throw new NotPlain();
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  let sorted = true;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const c = key.charCodeAt(0);
    if (c >= 48 && c <= 57 && INDEX_KEY.test(key)) throw new NotPlain();
    if (i > 0 && (keys[i - 1] as string) > key) sorted = false;
  }
  if (!sorted) keys.sort();
  let out: Record<string, unknown> | undefined = sorted ? undefined : {};
  for (const key of keys) {
    const item = record[key];
    if (item === undefined) continue;
    const copy = sortedCopy(item);
    if (out) out[key] = copy;
    else if (copy !== item) {
      out = {};
      for (const k of keys) {
        if (k === key) break;
        if (record[k] !== undefined) out[k] = record[k];
      }
      out[key] = copy;
    }
  }
  return out ?? value;
}

/**
 * RFC 8785 canonical JSON of `value`: the same value always gives the same text. Plain JSON (what
 * entries hold) is sorted into a copy and serialised by one native JSON.stringify, several times
 * faster than building the text member by member; anything else takes the member-by-member
 * definition. Both give the same text (canonical.test.ts compares them on generated values).
 */
export function canonicalJson(value: unknown): string {
  let sorted: unknown;
  try {
    sorted = sortedCopy(value);
  } catch (error) {
    if (error instanceof NotPlain) return canonicalBySteps(value);
    throw error;
  }
  return JSON.stringify(sorted) ?? "null";
}

/** The member-by-member definition, for tests comparing it with the shortcut. */
export const canonicalJsonBySteps = canonicalBySteps;

/** Characters JSON.stringify escapes in a string (quote, backslash, controls, surrogates). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the control characters JSON escapes is the point.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** The canonical (JSON.stringify) text of a string: most need no escape and are only quoted. */
export function canonicalString(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}
