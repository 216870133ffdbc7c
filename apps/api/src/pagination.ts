/**
 * Keyset (cursor) pagination shared by every list: a page is fetched with `take: limit + 1`, and the
 * cursor is the sort key of the page's last row, base64url-encoded JSON. Keysets, unlike offsets,
 * return every row exactly once while rows are inserted concurrently, and cost one statement per
 * page whatever its size.
 */
import { TRPCError } from "@trpc/server";
import { z } from "zod";

export const Limit = (max: number, fallback: number) => z.number().int().min(1).max(max).default(fallback);
export const Cursor = z.string().min(1).max(512);

export interface Page<T> {
  readonly items: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

export function encodeCursor(key: unknown): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

/** The key a cursor carries, checked against `schema`; BAD_REQUEST if it is not one of ours. */
export function decodeCursor<T>(cursor: string, schema: z.ZodType<T>): T {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    raw = undefined;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new TRPCError({ code: "BAD_REQUEST", message: "Invalid cursor: pass back a nextCursor this API returned." });
  return parsed.data;
}

/** Cuts the `limit + 1` rows fetched into a page, with the cursor of its last row if more follow. */
export function pageOf<Row, Item>(rows: Row[], limit: number, keyOf: (row: Row) => unknown, map: (row: Row) => Item): Page<Item> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept[kept.length - 1];
  return { items: kept.map(map), nextCursor: more && last !== undefined ? encodeCursor(keyOf(last)) : null };
}
