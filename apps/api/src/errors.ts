/**
 * What clients are told when a call fails. Validation errors become one readable line per issue
 * ("path: message") — never zod's raw issue objects, which quote whole regular expressions — and
 * text holding U+0000 is refused up front: PostgreSQL cannot store it in text columns, SQLite can,
 * so the API refuses it on both (BAD_REQUEST) to give the same answer whatever the database.
 */
import { formatIssues } from "@auditrail/audit-core";
import type { z } from "zod";

/** `path: message` per issue, `; `-separated (the root path shows as `input`). */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return formatIssues(issues, "input").join("; ");
}

export const NUL_MESSAGE = "text must not contain the NUL character (U+0000)";

/** One issue per string (or object key) in `value` holding U+0000, with its path. */
export function nulIssues(value: unknown, path: PropertyKey[] = [], out: z.core.$ZodIssue[] = []): z.core.$ZodIssue[] {
  if (typeof value === "string") {
    if (value.includes("\u0000")) out.push({ code: "custom", path, message: NUL_MESSAGE, input: undefined });
  } else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) nulIssues(item, [...path, i], out);
  } else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes("\u0000")) out.push({ code: "custom", path: [...path, key], message: NUL_MESSAGE, input: undefined });
      nulIssues(item, [...path, key], out);
    }
  }
  return out;
}
