/**
 * PostgreSQL support: URL parsing, the adapter factory handed to the Wasm
 * engine, and the one-shot database commands of the CLI.
 *
 * Quirks handled here (all measured with @prisma/adapter-pg 7.10):
 * - adapter-pg rejects columns of PostgreSQL's internal `"char"` type (OID 18),
 *   which the engine's introspection queries select (`relkind`, `contype`, …):
 *   inside this process such columns are reported as `text`.
 * - `PrismaPg#connectToShadowDb()` creates the shadow database through the main
 *   database's pool and drops it while its own pool is still connected; we
 *   create `<db>_shadow_<random>` ourselves and drop it from a separate
 *   connection once the shadow pool is closed.
 * - adapter-pg's `executeScript` splits scripts on every `;` (breaking function
 *   bodies and string literals); scripts are sent as one simple query instead,
 *   like the native engine does.
 */
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { userInfo } from "node:os";

import { PrismaPg } from "@prisma/adapter-pg";
import {
  ColumnTypeEnum,
  type ConnectionInfo,
  type SqlDriverAdapter,
  type SqlQuery,
  type SqlResultSet,
  type Transaction,
} from "@prisma/driver-adapter-utils";
import pg from "pg";

import { DelegatingAdapter, type EngineAdapterFactory, rawSql } from "./adapters.ts";
import { type DatabaseLocation, UserFacingError, fromPgError, invalidConnectionString } from "./errors.ts";

const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;
/** Longest identifier PostgreSQL keeps (NAMEDATALEN - 1). */
const MAX_IDENTIFIER_BYTES = 63;
/** Query parameters understood by Prisma's engines but not by `pg`. */
const PRISMA_ONLY_PARAMS = [
  "schema",
  "connection_limit",
  "pool_timeout",
  "socket_timeout",
  "pgbouncer",
  "statement_cache_size",
  "connect_timeout",
  "max_connection_lifetime",
  "max_idle_connection_lifetime",
];

export interface PostgresTarget extends DatabaseLocation {
  /** The URL as given (may contain Prisma-only parameters). */
  url: string;
  /** `pg` configuration derived from the URL. */
  config: pg.PoolConfig;
  /** Default schema (`?schema=`), `public` when absent. */
  schema: string;
  user: string;
}

export function parsePostgresUrl(url: string): PostgresTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidConnectionString("The PostgreSQL connection URL could not be parsed.");
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, "")) || "postgres";
  const schema = parsed.searchParams.get("schema") ?? "public";
  const connectTimeoutSeconds = Number(parsed.searchParams.get("connect_timeout") ?? "5");
  for (const param of PRISMA_ONLY_PARAMS) parsed.searchParams.delete(param);
  parsed.pathname = `/${encodeURIComponent(database)}`;

  const config: pg.PoolConfig = {
    connectionString: parsed.toString(),
    connectionTimeoutMillis: Number.isFinite(connectTimeoutSeconds) ? connectTimeoutSeconds * 1000 : 5000,
  };
  if (schema !== "public") {
    // Migration scripts use unqualified names: resolve them in the chosen schema.
    config.options = `-c search_path=${schema.replace(/[\\ ]/g, (char) => `\\${char}`)}`;
  }
  const host = parsed.searchParams.get("host") ?? (parsed.hostname || "localhost");
  const port = parsed.port || "5432";
  const user = decodeURIComponent(parsed.username) || process.env.PGUSER || userInfo().username;
  return { url, config, database, schema, user, location: `${host}:${port}` };
}

/** The same server and credentials, another database. */
export function withDatabase(target: PostgresTarget, database: string): PostgresTarget {
  const url = new URL(target.url);
  url.pathname = `/${encodeURIComponent(database)}`;
  return parsePostgresUrl(url.toString());
}

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

interface PgResultPrototype {
  addFields(fields: Array<{ dataTypeID: number }>): void;
}

let charAsTextInstalled = false;

/**
 * Makes `pg` report `"char"` columns as `text` in this process, so that
 * adapter-pg accepts the engine's catalog queries. `pg` builds a `Result` for
 * every query and calls `addFields()` with the row description before parsing
 * rows: rewriting the type there also selects the text parser for the values.
 */
export function installCharAsTextFix(): void {
  if (charAsTextInstalled) return;
  const require = createRequire(import.meta.url);
  const resultClass: unknown = require("pg/lib/result.js");
  const prototype: unknown = typeof resultClass === "function" ? Reflect.get(resultClass, "prototype") : undefined;
  const original: unknown = typeof prototype === "object" && prototype !== null ? Reflect.get(prototype, "addFields") : undefined;
  if (typeof prototype !== "object" || prototype === null || typeof original !== "function") {
    throw new Error('pg/lib/result.js has an unexpected shape: cannot map PostgreSQL "char" columns to text');
  }
  const addFields: PgResultPrototype["addFields"] = function (this: unknown, fields) {
    for (const field of fields) {
      if (field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID;
    }
    Reflect.apply(original, this, [fields]);
  };
  Reflect.set(prototype, "addFields", addFields);
  charAsTextInstalled = true;
}

async function withClient<T>(target: PostgresTarget, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(target.config);
  client.on("error", () => {
    // Errors of an idle client surface on the next query; do not crash.
  });
  try {
    await client.connect();
  } catch (error) {
    throw fromPgError(error, target) ?? error;
  }
  try {
    return await run(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs statements on a maintenance database of the server (`postgres`, else `template1`). */
async function withMaintenanceClient<T>(target: PostgresTarget, run: (client: pg.Client) => Promise<T>): Promise<T> {
  try {
    return await withClient(withDatabase(target, "postgres"), run);
  } catch (error) {
    if (error instanceof UserFacingError && error.code === "P1003") {
      return withClient(withDatabase(target, "template1"), run);
    }
    throw error;
  }
}

function isPgErrorCode(error: unknown, code: string): boolean {
  return typeof error === "object" && error !== null && Reflect.get(error, "code") === code;
}

async function dropDatabaseNamed(client: pg.Client, name: string): Promise<void> {
  try {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
  } catch (error) {
    // `WITH (FORCE)` needs PostgreSQL 13.
    if (!isPgErrorCode(error, "42601")) throw error;
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)}`);
  }
}

/** `cli can-connect-to-database`. */
export async function canConnect(url: string): Promise<void> {
  const target = parsePostgresUrl(url);
  await withClient(target, async (client) => {
    await client.query("SELECT 1");
  });
}

/** `cli create-database`: returns the database name. */
export async function createDatabase(url: string): Promise<string> {
  const target = parsePostgresUrl(url);
  await withMaintenanceClient(target, async (client) => {
    try {
      await client.query(`CREATE DATABASE ${quoteIdentifier(target.database)}`);
    } catch (error) {
      throw fromPgError(error, target) ?? error;
    }
  });
  return target.database;
}

/** `cli drop-database`. */
export async function dropDatabase(url: string): Promise<void> {
  const target = parsePostgresUrl(url);
  await withMaintenanceClient(target, (client) => dropDatabaseNamed(client, target.database));
}

/** Name of a temporary shadow database, within PostgreSQL's identifier limit. */
export function shadowDatabaseName(database: string): string {
  const suffix = `_shadow_${randomBytes(6).toString("hex")}`;
  let base = database;
  while (Buffer.byteLength(base + suffix) > MAX_IDENTIFIER_BYTES) base = base.slice(0, -1);
  return base + suffix;
}

/** adapter-pg adapter with whole-script execution and a dispose hook. */
class PostgresAdapter extends DelegatingAdapter {
  constructor(
    inner: SqlDriverAdapter,
    private readonly afterDispose?: () => Promise<void>,
  ) {
    super(inner);
  }

  override async executeScript(script: string): Promise<void> {
    // No parameters: `pg` uses the simple query protocol, which accepts several
    // statements and runs them in one implicit transaction.
    await this.inner.executeRaw(rawSql(script));
  }

  override async dispose(): Promise<void> {
    try {
      await this.inner.dispose();
    } finally {
      await this.afterDispose?.();
    }
  }
}

const NO_DATABASE = "This command needs a database, but no datasource URL is configured: set `datasource.url` in prisma.config.ts.";

/**
 * Stands in for a database when no URL is configured, so that diffs between
 * schema files work offline. The engine's PostgreSQL connector runs one query
 * when it starts (schema existence and server version); anything else fails.
 */
class OfflinePostgresAdapter implements SqlDriverAdapter {
  readonly provider = "postgres" as const;
  readonly adapterName = "@prisma/adapter-pg";

  constructor(private readonly schema: string) {}

  async queryRaw(query: SqlQuery): Promise<SqlResultSet> {
    if (!query.sql.includes("version()")) throw new Error(NO_DATABASE);
    return {
      columnNames: ["exists", "version", "numeric_version"],
      columnTypes: [ColumnTypeEnum.Boolean, ColumnTypeEnum.Text, ColumnTypeEnum.Int32],
      rows: [[true, "PostgreSQL 16.0 (no database configured)", 160000]],
    };
  }

  executeRaw(): Promise<number> {
    return Promise.reject(new Error(NO_DATABASE));
  }

  executeScript(): Promise<void> {
    return Promise.reject(new Error(NO_DATABASE));
  }

  startTransaction(): Promise<Transaction> {
    return Promise.reject(new Error(NO_DATABASE));
  }

  getConnectionInfo(): ConnectionInfo {
    return { schemaName: this.schema, supportsRelationJoins: true };
  }

  async dispose(): Promise<void> {}
}

export class PostgresAdapterFactory implements EngineAdapterFactory {
  readonly provider = "postgres" as const;
  readonly providerName = "postgresql" as const;
  readonly adapterName: string;
  private readonly target: PostgresTarget;
  private readonly offline: boolean;
  private readonly shadowTarget: PostgresTarget | undefined;
  /** Temporary shadow databases created and not dropped yet. */
  private readonly temporaryDatabases = new Set<string>();

  constructor(url: string, shadowDatabaseUrl?: string) {
    installCharAsTextFix();
    this.offline = url === "";
    this.target = parsePostgresUrl(this.offline ? "postgresql://localhost/postgres" : url);
    this.shadowTarget = shadowDatabaseUrl ? parsePostgresUrl(shadowDatabaseUrl) : undefined;
    this.adapterName = new PrismaPg(this.target.config).adapterName;
  }

  private async connectTo(target: PostgresTarget, afterDispose?: () => Promise<void>): Promise<SqlDriverAdapter> {
    const factory = new PrismaPg(target.config, { schema: target.schema });
    return new PostgresAdapter(await factory.connect(), afterDispose);
  }

  async connect(): Promise<SqlDriverAdapter> {
    if (this.offline) return new OfflinePostgresAdapter(this.target.schema);
    return this.connectTo(this.target);
  }

  async connectToShadowDb(): Promise<SqlDriverAdapter> {
    if (this.offline) throw new Error(NO_DATABASE);
    if (this.shadowTarget !== undefined) return this.connectTo(this.shadowTarget);

    const name = shadowDatabaseName(this.target.database);
    await withClient(this.target, async (client) => {
      try {
        await client.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
      } catch (error) {
        throw new UserFacingError(
          "P3014",
          `Prisma Migrate could not create the shadow database. Please make sure the database user has permission to create databases, or set \`datasource.shadowDatabaseUrl\` in prisma.config.ts. Original error: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    });
    this.temporaryDatabases.add(name);
    return this.connectTo(withDatabase(this.target, name), () => this.dropTemporaryDatabase(name));
  }

  private async dropTemporaryDatabase(name: string): Promise<void> {
    if (!this.temporaryDatabases.delete(name)) return;
    // From a separate connection: the shadow pool is closed by now.
    await withClient(this.target, (client) => dropDatabaseNamed(client, name));
  }

  async close(): Promise<void> {
    for (const name of [...this.temporaryDatabases]) {
      await this.dropTemporaryDatabase(name).catch(() => undefined);
    }
  }
}
