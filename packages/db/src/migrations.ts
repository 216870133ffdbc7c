/**
 * Which checked-in migrations a database has not applied yet, read from Prisma's own
 * `_prisma_migrations` table: what `GET /health` reports and what a server checks before serving.
 */
import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { DatabaseHandle } from "./client.ts";

/** The migration folder names for the handle's provider, oldest first. */
export async function checkedInMigrations(handle: Pick<DatabaseHandle, "provider">): Promise<string[]> {
  const dir = fileURLToPath(new URL(`../prisma/${handle.provider}/migrations`, import.meta.url));
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** Checked-in migrations not (successfully) applied to the database; [] when up to date. */
export async function pendingMigrations(handle: DatabaseHandle): Promise<string[]> {
  const expected = await checkedInMigrations(handle);
  let applied: { migration_name: string }[];
  try {
    applied = await handle.prisma.$queryRawUnsafe<{ migration_name: string }[]>(
      `SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    );
  } catch {
    return expected; // no migrations table: nothing applied
  }
  const done = new Set(applied.map((row) => row.migration_name));
  return expected.filter((name) => !done.has(name));
}
