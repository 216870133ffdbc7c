/**
 * Literal text search over Prisma's `contains` / `startsWith`, which compile to SQL LIKE: the
 * user's `%`, `_` and `\` must match themselves, not act as wildcards.
 * - PostgreSQL: LIKE's escape character is `\` by default, so escaping `\`, `%` and `_` is exact.
 * - SQLite: Prisma writes its LIKE without an ESCAPE clause and SQLite has no default escape, so
 *   no escaping is possible. There `%` / `_` in the text make LIKE match a superset of the rows,
 *   and the caller filters the rows it fetched (`needsRecheck`, then a plain `includes`). For
 *   dotted prefixes, `dottedPrefixRange` avoids LIKE altogether.
 */
import type { Provider } from "@auditrail/db";

/** The text to hand to `contains` / `startsWith` so that it matches literally where LIKE can escape. */
export function likeText(provider: Provider, text: string): string {
  return provider === "postgresql" ? text.replace(/[\\%_]/g, (c) => `\\${c}`) : text;
}

/** True when the database's LIKE may match more rows than the literal text (SQLite with `%` or `_`). */
export function needsRecheck(provider: Provider, text: string): boolean {
  return provider === "sqlite" && /[%_]/.test(text);
}

/**
 * Every string starting with `prefix` (which ends in "."), as the range `[gte, lt)` under
 * byte-wise order (SQLite's default BINARY collation): up to the prefix with its "." made "/".
 */
export function dottedPrefixRange(prefix: `${string}.`): { gte: string; lt: string } {
  return { gte: prefix, lt: `${prefix.slice(0, -1)}/` };
}
