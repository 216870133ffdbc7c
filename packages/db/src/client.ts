/**
 * The client factory: one typed Prisma client whatever the database.
 *
 * Each provider has its own generated client (Prisma generates per provider), but both come from
 * the same models file, so their model APIs are the same. The app codes against `Database`, the
 * SQLite client's type. tsc cannot prove the PostgreSQL client assignable to it (it does not
 * compare the generic conditional types of two generated copies), so that one place casts; the
 * whole test suite runs on both databases to hold the equivalence.
 */
import { PrismaBetterSqlite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient as PostgresClient } from "./generated/postgresql/client.ts";
import { PrismaClient as SqliteClient } from "./generated/sqlite/client.ts";
import { type Provider, providerOf } from "./url.ts";

/** The client the app codes against (see the note above). */
export type Database = SqliteClient;

/** What a `$transaction` callback receives: every model delegate and raw query, no lifecycle calls. */
export type Transaction = Omit<Database, "$connect" | "$disconnect" | "$on" | "$extends" | "$transaction">;

export interface DatabaseHandle {
  readonly prisma: Database;
  readonly provider: Provider;
  readonly url: string;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** SQLite only: how long a writer waits on a locked database before SQLITE_BUSY (default 5000). */
  readonly sqliteBusyTimeoutMs?: number;
  /** PostgreSQL only: connections in the pool (default 10). */
  readonly pgPoolSize?: number;
}

/** Opens `url` with the matching driver adapter: `file:` → better-sqlite3, `postgres(ql)://` → pg. */
export function createDatabase(url: string, options: DatabaseOptions = {}): DatabaseHandle {
  const provider = providerOf(url);
  const prisma = provider === "sqlite" ? openSqlite(url, options) : openPostgres(url, options);
  return { prisma, provider, url, close: () => prisma.$disconnect() };
}

function openSqlite(url: string, options: DatabaseOptions): Database {
  const adapter = new PrismaBetterSqlite3({
    url,
    timeout: options.sqliteBusyTimeoutMs ?? 5000,
  });
  return new SqliteClient({ adapter });
}

function openPostgres(url: string, options: DatabaseOptions): Database {
  const adapter = new PrismaPg({ connectionString: url, max: options.pgPoolSize ?? 10 });
  return new PostgresClient({ adapter }) as unknown as Database;
}
