/**
 * SQLite support: URL parsing, the adapter factory handed to the Wasm engine,
 * the one-shot database commands of the CLI, and fixes for the Wasm engine's
 * SQLite connector (measured with schema-engine-wasm 7.10):
 *
 * - `diagnoseMigrationHistory` / `devDiagnostic` fail with P1014 when
 *   `_prisma_migrations` does not exist instead of reporting "no migrations
 *   table": the table is created (with the engine's own DDL) for the duration
 *   of the call and dropped again afterwards, so the answer is the native one.
 * - the engine runs multi-statement scripts (migrations replayed on the shadow
 *   database, `db execute`) as a single prepared statement, which
 *   better-sqlite3 rejects: such statements are executed as a script.
 * - `reset` only deletes rows: we drop every table, view and trigger instead.
 */
import { existsSync, mkdirSync, closeSync, openSync, rmSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";

import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import type { SqlDriverAdapter, SqlQuery, SqlResultSet } from "@prisma/driver-adapter-utils";
import Database from "better-sqlite3";

import { DelegatingAdapter, type EngineAdapterFactory, rawSql } from "./adapters.ts";
import { type DatabaseLocation, databaseAlreadyExists, databaseDoesNotExist, errorMessage } from "./errors.ts";

export const MIGRATIONS_TABLE = "_prisma_migrations";

/** The statement the engine itself uses to create the migrations table on SQLite. */
export const CREATE_MIGRATIONS_TABLE = `CREATE TABLE "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
);`;

const IN_MEMORY = ":memory:";

export interface SqliteTarget extends DatabaseLocation {
  /** Absolute file path, or `:memory:`. */
  path: string;
}

/**
 * `file:./dev.db` → absolute path. Relative paths are resolved from the working
 * directory (the CLI starts the engine in the project's base directory), query
 * parameters (`?connection_limit=1`, …) are ignored.
 */
export function parseSqliteUrl(url: string, cwd: string = process.cwd()): SqliteTarget {
  let path = url.replace(/^(file|sqlite):/i, "");
  path = path.split("?")[0] ?? "";
  if (path.startsWith("//")) path = path.slice(2); // file:///abs/path
  if (path === "" || path === IN_MEMORY) return { path: IN_MEMORY, database: IN_MEMORY, location: IN_MEMORY };
  const absolute = resolve(cwd, decodeURIComponent(path));
  return { path: absolute, database: basename(absolute), location: absolute };
}

/** `cli can-connect-to-database`: a missing file is P1003, as with the native engine. */
export function canConnect(url: string): void {
  const target = parseSqliteUrl(url);
  if (target.path === IN_MEMORY) return;
  if (!existsSync(target.path)) throw databaseDoesNotExist(target, true);
  const db = new Database(target.path, { fileMustExist: true });
  try {
    db.prepare("SELECT 1").get();
  } finally {
    db.close();
  }
}

/** `cli create-database`: creates an empty database file (and its directory). */
export function createDatabase(url: string): string {
  const target = parseSqliteUrl(url);
  if (target.path === IN_MEMORY) return target.database;
  if (existsSync(target.path)) throw databaseAlreadyExists(target);
  mkdirSync(dirname(target.path), { recursive: true });
  closeSync(openSync(target.path, "w"));
  return target.database;
}

/** `cli drop-database`: deletes the file. */
export function dropDatabase(url: string): void {
  const target = parseSqliteUrl(url);
  if (target.path === IN_MEMORY) return;
  for (const suffix of ["", "-journal", "-wal", "-shm"]) rmSync(target.path + suffix, { force: true });
}

function isMultiStatementError(error: unknown): boolean {
  return errorMessage(error).includes("more than one statement");
}

const EMPTY_RESULT: SqlResultSet = { columnNames: [], columnTypes: [], rows: [] };

/** better-sqlite3 adapter that runs multi-statement SQL as a script. */
class SqliteAdapter extends DelegatingAdapter {
  constructor(
    inner: SqlDriverAdapter,
    private readonly onDispose: () => void,
  ) {
    super(inner);
  }

  override async dispose(): Promise<void> {
    this.onDispose();
    await this.inner.dispose();
  }

  override async executeRaw(query: SqlQuery): Promise<number> {
    try {
      return await this.inner.executeRaw(query);
    } catch (error) {
      if (query.args.length > 0 || !isMultiStatementError(error)) throw error;
      await this.inner.executeScript(query.sql);
      return 0;
    }
  }

  override async queryRaw(query: SqlQuery): Promise<SqlResultSet> {
    try {
      return await this.inner.queryRaw(query);
    } catch (error) {
      if (query.args.length > 0 || !isMultiStatementError(error)) throw error;
      await this.inner.executeScript(query.sql);
      return EMPTY_RESULT;
    }
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export class SqliteAdapterFactory implements EngineAdapterFactory {
  readonly provider = "sqlite" as const;
  readonly providerName = "sqlite" as const;
  readonly adapterName: string;
  private readonly target: SqliteTarget;
  private readonly shadowTarget: SqliteTarget | undefined;
  /** The engine's main connection (the first one it opens). */
  private main: SqlDriverAdapter | undefined;
  /** Connections not disposed by the engine yet. */
  private readonly open = new Set<SqlDriverAdapter>();

  constructor(url: string, shadowDatabaseUrl?: string) {
    // Without a URL (diffs between schema files) an in-memory database is used.
    this.target = parseSqliteUrl(url);
    this.shadowTarget = shadowDatabaseUrl ? parseSqliteUrl(shadowDatabaseUrl) : undefined;
    this.adapterName = new PrismaBetterSqlite3({ url: IN_MEMORY }).adapterName;
  }

  private async connectTo(target: SqliteTarget): Promise<SqlDriverAdapter> {
    const adapter = new SqliteAdapter(await new PrismaBetterSqlite3({ url: target.path }).connect(), () => {
      this.open.delete(adapter);
    });
    this.open.add(adapter);
    return adapter;
  }

  async connect(): Promise<SqlDriverAdapter> {
    const adapter = await this.connectTo(this.target);
    this.main ??= adapter;
    return adapter;
  }

  /** A fresh in-memory database unless `shadowDatabaseUrl` is configured. */
  connectToShadowDb(): Promise<SqlDriverAdapter> {
    return this.connectTo(this.shadowTarget ?? { path: IN_MEMORY, database: IN_MEMORY, location: IN_MEMORY });
  }

  private mainConnection(): SqlDriverAdapter {
    if (this.main === undefined) throw new Error("The SQLite database is not connected yet");
    return this.main;
  }

  async hasMigrationsTable(): Promise<boolean> {
    const result = await this.mainConnection().queryRaw(
      rawSql(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = '${MIGRATIONS_TABLE}'`),
    );
    return result.rows.length > 0;
  }

  /**
   * Runs `run` with `_prisma_migrations` present. When the table had to be
   * created it is dropped again afterwards and `created` is true.
   */
  async withMigrationsTable<T>(run: () => Promise<T>): Promise<{ value: T; created: boolean }> {
    if (await this.hasMigrationsTable()) return { value: await run(), created: false };
    await this.mainConnection().executeScript(CREATE_MIGRATIONS_TABLE);
    try {
      return { value: await run(), created: true };
    } finally {
      await this.mainConnection().executeScript(`DROP TABLE IF EXISTS ${quoteIdentifier(MIGRATIONS_TABLE)};`);
    }
  }

  /** Creates `_prisma_migrations` if it does not exist (as the native engine does before writing to it). */
  async ensureMigrationsTable(): Promise<void> {
    if (!(await this.hasMigrationsTable())) await this.mainConnection().executeScript(CREATE_MIGRATIONS_TABLE);
  }

  /** Empties the database: drops every view, trigger and table (including `_prisma_migrations`). */
  async reset(): Promise<void> {
    const connection = this.mainConnection();
    const objects = await connection.queryRaw(
      rawSql("SELECT type, name FROM sqlite_master WHERE type IN ('view', 'trigger', 'table') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"),
    );
    const order = ["view", "trigger", "table"];
    const statements = objects.rows
      .map(([type, name]) => ({ type: String(type), name: String(name) }))
      .sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type))
      .map(({ type, name }) => `DROP ${type.toUpperCase()} IF EXISTS ${quoteIdentifier(name)};`);
    if (statements.length === 0) return;
    await connection.executeScript(["PRAGMA foreign_keys = OFF;", ...statements, "PRAGMA foreign_keys = ON;"].join("\n"));
    await connection.executeScript("VACUUM;").catch(() => undefined);
  }

  /**
   * Closes the connections. The engine holds its main connection in
   * `locking_mode=EXCLUSIVE`, where SQLite keeps the rollback journal file
   * around until the connection is closed: closing it removes `<db>-journal`.
   */
  async close(): Promise<void> {
    for (const adapter of [...this.open]) await adapter.dispose().catch(() => undefined);
  }
}
