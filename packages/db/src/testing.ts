/**
 * `@auditrail/db/testing`: real databases for tests. Every suite that touches a database runs on
 * SQLite (a file in a fresh temp dir) and on PostgreSQL (a database created per call next to
 * TEST_DATABASE_URL, dropped afterwards), both migrated by the ordinary `prisma migrate deploy`.
 * On PostgreSQL the test's `url` connects as a login role of its own that is a member of
 * auditrail_app — what the migrations give the application (INSERT/SELECT on the audit tables) —
 * never as the owner; `ownerUrl` is the migrating owner's. Under CI (CI=true) a missing
 * TEST_DATABASE_URL is an error, never a silent skip.
 */
import { execFile } from "node:child_process";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import pg from "pg";
import type { DatabaseHandle } from "./client.ts";
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
  /** What the application connects with (PostgreSQL: a member of auditrail_app, not the owner). */
  readonly url: string;
  /** The owner's connection, which migrates (SQLite: the same file). */
  readonly ownerUrl: string;
  drop(): Promise<void>;
}

/** A fresh, empty database of `provider`; migrated unless `migrate: false`. */
export async function createTestDatabase(provider: Provider, { migrate = true }: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const db = provider === "sqlite" ? await freshSqlite() : await freshPostgres();
  if (migrate) await migrateDeploy(db.ownerUrl);
  return db;
}

/**
 * A fresh copy of `db` (its schema, rows and grants), for tests that each need the same starting
 * point: much faster than migrating and filling a new database. `db` must have no open connections.
 */
export async function copyTestDatabase(db: TestDatabase): Promise<TestDatabase> {
  if (db.provider === "sqlite") {
    const copy = await freshSqlite();
    await copyFile(sqlitePath(db.url), sqlitePath(copy.url));
    return copy;
  }
  return freshPostgres(new URL(db.ownerUrl).pathname.slice(1));
}

async function freshSqlite(): Promise<TestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), "auditrail-test-"));
  return {
    provider: "sqlite",
    url: `file:${join(dir, "test.db")}`,
    ownerUrl: `file:${join(dir, "test.db")}`,
    drop: () => rm(dir, { recursive: true, force: true }),
  };
}

async function freshPostgres(template?: string): Promise<TestDatabase> {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error("TEST_DATABASE_URL is not set: cannot create a PostgreSQL test database.");
  const name = `auditrail_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: base });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(`Cannot reach PostgreSQL at ${redactUrl(base)} (TEST_DATABASE_URL)`, { cause: error });
  }
  await admin.query(`CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ""}`);
  // The application's login role: a member of auditrail_app (made by the migrations), no password
  // (the test server trusts local connections), dropped with the database.
  const role = `${name}_app`;
  await admin.query(`DO $$ BEGIN CREATE ROLE auditrail_app NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
  await admin.query(`CREATE ROLE "${role}" LOGIN IN ROLE auditrail_app`);
  await admin.end();
  const owner = new URL(base);
  owner.pathname = `/${name}`;
  const app = new URL(owner);
  app.username = role;
  app.password = "";
  return {
    provider: "postgresql",
    url: app.toString(),
    ownerUrl: owner.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: base });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await client.query(`DROP ROLE IF EXISTS "${role}"`);
      await client.end();
    },
  };
}

/**
 * Empties the audit tables between tests: the audit tables are append-only, so this goes around
 * the guards as their owner would (SQLite: on a purge connection; PostgreSQL: triggers off).
 */
export async function clearAuditTrail(handle: Pick<DatabaseHandle, "url">): Promise<void> {
  await runRawSql(handle.url, `DELETE FROM "AuditEntry"; DELETE FROM "DeadLetter"; DELETE FROM "AuditSeal";`);
}

/**
 * Runs SQL as someone with direct database access would — the tamper tests' attacker. On
 * PostgreSQL it runs as a superuser (TEST_DATABASE_URL's user, on `url`'s database) with triggers
 * off (the append-only guard included); on SQLite on a connection that passes the guards.
 */
export async function runRawSql(url: string, sql: string): Promise<void> {
  if (providerOf(url) === "sqlite") {
    // With the file in hand: drop the append-only triggers, run the SQL, put them back.
    const raw = purgeConnection(url, 5_000);
    try {
      raw.transaction(() => {
        const triggers = raw.prepare(`SELECT "name", "sql" FROM sqlite_master WHERE "type" = 'trigger'`).all() as {
          name: string;
          sql: string;
        }[];
        for (const t of triggers) raw.exec(`DROP TRIGGER "${t.name}"`);
        raw.exec(sql);
        for (const t of triggers) raw.exec(t.sql);
      })();
    } finally {
      raw.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: superuserUrl(url) });
  await client.connect();
  try {
    await client.query("SET session_replication_role = replica");
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** `url`'s database, reached as TEST_DATABASE_URL's user (the superuser that created it). */
function superuserUrl(url: string): string {
  const base = process.env.TEST_DATABASE_URL;
  if (!base) return url;
  const target = new URL(url);
  const su = new URL(base);
  su.pathname = target.pathname;
  return su.toString();
}

/** A raw SQLite connection past the append-only triggers (its auditrail_purging() says 1). */
function purgeConnection(url: string, busyTimeoutMs: number): Database.Database {
  const db = new Database(sqlitePath(url), { timeout: busyTimeoutMs, fileMustExist: true });
  db.function("auditrail_purging", { deterministic: false }, () => 1);
  return db;
}
