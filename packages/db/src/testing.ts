/**
 * `@auditrail/db/testing`: real databases for tests. Every suite that touches a database runs on
 * SQLite (a file in a fresh temp dir) and on PostgreSQL (a database created per call next to
 * TEST_DATABASE_URL, dropped afterwards), both migrated by the ordinary `prisma migrate deploy`.
 * Under CI (CI=true) a missing TEST_DATABASE_URL is an error, never a silent skip.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import pg from "pg";
import type { DatabaseHandle } from "./client.ts";
import { allowPurge } from "./retention.ts";
import { sqlitePath } from "./sqlite-sink.ts";
import { type Provider, providerOf, redactUrl } from "./url.ts";

const run = promisify(execFile);
const packageRoot = fileURLToPath(new URL("..", import.meta.url));
const prismaBin = join(packageRoot, "node_modules", ".bin", "prisma");

/** The providers to test on: SQLite always; PostgreSQL when TEST_DATABASE_URL is set. */
export function testProviders(env: NodeJS.ProcessEnv = process.env): Provider[] {
  if (env.TEST_DATABASE_URL) return ["sqlite", "postgresql"];
  if (env.CI === "true") {
    throw new Error("CI=true but TEST_DATABASE_URL is not set: PostgreSQL tests must not be skipped under CI.");
  }
  return ["sqlite"];
}

/** Applies the checked-in migrations to `url` with `prisma migrate deploy`; returns its output. */
export async function migrateDeploy(url: string): Promise<string> {
  const { stdout, stderr } = await run(prismaBin, ["migrate", "deploy"], {
    cwd: packageRoot,
    env: { ...process.env, DATABASE_URL: url },
  });
  return stdout + stderr;
}

export interface TestDatabase {
  readonly provider: Provider;
  readonly url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database of `provider`; migrated unless `migrate: false`. */
export async function createTestDatabase(
  provider: Provider,
  { migrate = true }: { migrate?: boolean } = {},
): Promise<TestDatabase> {
  const db = provider === "sqlite" ? await freshSqlite() : await freshPostgres();
  if (migrate) await migrateDeploy(db.url);
  return db;
}

async function freshSqlite(): Promise<TestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), "auditrail-test-"));
  return {
    provider: "sqlite",
    url: `file:${join(dir, "test.db")}`,
    drop: () => rm(dir, { recursive: true, force: true }),
  };
}

async function freshPostgres(): Promise<TestDatabase> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error("TEST_DATABASE_URL is not set: cannot create a PostgreSQL test database.");
  const name = `auditrail_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: base });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(`Cannot reach PostgreSQL at ${redactUrl(base)} (TEST_DATABASE_URL)`, { cause: error });
  }
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    provider: "postgresql",
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: base });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await client.end();
    },
  };
}

/**
 * Empties the audit tables between tests. On PostgreSQL the audit table is append-only (trigger),
 * so this goes through the same transaction-local permission the retention purge uses.
 */
export async function clearAuditTrail(handle: DatabaseHandle): Promise<void> {
  await handle.prisma.$transaction(async (tx) => {
    await allowPurge(handle, tx);
    await tx.auditEntry.deleteMany();
    await tx.deadLetter.deleteMany();
  });
}

/**
 * Runs SQL as someone with direct database access would — the tamper tests' attacker. On
 * PostgreSQL it runs as a superuser session with triggers off (the append-only guard included).
 */
export async function runRawSql(url: string, sql: string): Promise<void> {
  if (providerOf(url) === "sqlite") {
    const raw = new Database(sqlitePath(url));
    try {
      raw.exec(sql);
    } finally {
      raw.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("SET session_replication_role = replica");
    await client.query(sql);
  } finally {
    await client.end();
  }
}
