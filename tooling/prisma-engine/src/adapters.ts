/**
 * Connection URL → driver adapter factory for the Wasm schema engine.
 *
 * The native engine connects to the database itself from a URL; the Wasm
 * engine needs a "migration aware" driver adapter factory instead (one that
 * can also open a shadow database). PostgreSQL and SQLite are supported.
 */
import type {
  ConnectionInfo,
  IsolationLevel,
  SqlDriverAdapter,
  SqlMigrationAwareDriverAdapterFactory,
  SqlQuery,
  SqlResultSet,
  Transaction,
} from "@prisma/driver-adapter-utils";

import { invalidConnectionString } from "./errors.ts";

export type Provider = "postgresql" | "sqlite";

/** Datasource passed by the CLI with `--datasource '{"url": …}'` (from prisma.config.ts). */
export interface DatasourceConfig {
  url?: string | undefined;
  shadowDatabaseUrl?: string | undefined;
}

/** An adapter factory plus what the engine wrapper needs to know about it. */
export interface EngineAdapterFactory extends SqlMigrationAwareDriverAdapterFactory {
  readonly providerName: Provider;
  /** Releases everything still open (pools, temporary shadow databases). */
  close(): Promise<void>;
}

export function providerFromUrl(url: string): Provider | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case "postgres":
    case "postgresql":
      return "postgresql";
    case "file":
    case "sqlite":
      return "sqlite";
    default:
      return undefined;
  }
}

/** Reads `provider = "…"` from the `datasource` block of Prisma schema files. */
export function providerFromSchemas(contents: readonly string[]): Provider | undefined {
  for (const content of contents) {
    const block = /datasource\s+\w+\s*\{([^}]*)\}/.exec(content)?.[1];
    const provider = block === undefined ? undefined : /provider\s*=\s*"([^"]+)"/.exec(block)?.[1];
    if (provider === undefined) continue;
    switch (provider) {
      case "postgres":
      case "postgresql":
        return "postgresql";
      case "sqlite":
        return "sqlite";
      default:
        throw invalidConnectionString(
          `The datasource provider \`${provider}\` is not supported by @auditrail/prisma-engine (only postgresql and sqlite are).`,
        );
    }
  }
  return undefined;
}

/** Checks a URL and returns its provider, with a P1013 error when unsupported. */
export function requireProvider(url: string): Provider {
  const provider = providerFromUrl(url);
  if (provider === undefined) {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
    throw invalidConnectionString(
      scheme === undefined
        ? "The URL must start with `postgresql://`, `postgres://` or `file:`."
        : `The scheme \`${scheme}:\` is not supported by @auditrail/prisma-engine: use \`postgresql://\`, \`postgres://\` or \`file:\`.`,
    );
  }
  return provider;
}

/**
 * Creates the adapter factory for a datasource. When `url` is empty (e.g.
 * `migrate diff --from-empty --to-schema …` without a database) the adapter
 * points at a throw-away target that is never queried.
 */
export async function createAdapterFactory(provider: Provider, datasource: DatasourceConfig): Promise<EngineAdapterFactory> {
  if (provider === "sqlite") {
    const { SqliteAdapterFactory } = await import("./sqlite.ts");
    return new SqliteAdapterFactory(datasource.url ?? "", datasource.shadowDatabaseUrl);
  }
  const { PostgresAdapterFactory } = await import("./postgres.ts");
  return new PostgresAdapterFactory(datasource.url ?? "", datasource.shadowDatabaseUrl);
}

/**
 * A driver adapter forwarding every call to another one. Subclasses override
 * what must behave differently in the migration process.
 */
export class DelegatingAdapter implements SqlDriverAdapter {
  readonly provider: SqlDriverAdapter["provider"];
  readonly adapterName: SqlDriverAdapter["adapterName"];
  readonly getConnectionInfo?: () => ConnectionInfo;

  constructor(protected readonly inner: SqlDriverAdapter) {
    this.provider = inner.provider;
    this.adapterName = inner.adapterName;
    const { getConnectionInfo } = inner;
    if (getConnectionInfo !== undefined) this.getConnectionInfo = () => getConnectionInfo.call(inner);
  }

  queryRaw(query: SqlQuery): Promise<SqlResultSet> {
    return this.inner.queryRaw(query);
  }

  executeRaw(query: SqlQuery): Promise<number> {
    return this.inner.executeRaw(query);
  }

  executeScript(script: string): Promise<void> {
    return this.inner.executeScript(script);
  }

  startTransaction(isolationLevel?: IsolationLevel): Promise<Transaction> {
    return this.inner.startTransaction(isolationLevel);
  }

  dispose(): Promise<void> {
    return this.inner.dispose();
  }
}

/** A parameterless statement, as the engine sends for DDL. */
export function rawSql(sql: string): SqlQuery {
  return { sql, args: [], argTypes: [] };
}
