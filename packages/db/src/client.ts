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
import type BetterSqlite3 from "better-sqlite3";
import { PrismaClient as PostgresClient } from "./generated/postgresql/client.ts";
import { PrismaClient as SqliteClient } from "./generated/sqlite/client.ts";
import { sqlitePurging } from "./purge-flag.ts";
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
  /**
   * Called with every SQL statement the client sends through its driver adapter (`BEGIN` for a
   * transaction start), before it runs: for counting statements per call (N+1 tests) or tracing.
   */
  readonly onStatement?: (sql: string) => void;
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
  return new SqliteClient({ adapter: observed(sqliteAdapter(adapter), options.onStatement) });
}

/**
 * The bound parameters one SQLite statement may carry. better-sqlite3 bundles SQLite ≥ 3.32,
 * whose limit is 32,766; its Prisma adapter does not report it (no getConnectionInfo), so Prisma
 * falls back to the historical 999 and splits a `createMany` of more than 58 audit rows (17
 * columns each) into several INSERTs. Reporting the real limit keeps bulk inserts one statement.
 */
export const SQLITE_MAX_BIND_VALUES = 32_766;

/**
 * The better-sqlite3 adapter, with two fixes:
 * - it reports SQLite's real bind-parameter limit (above);
 * - statements sent outside a transaction wait while one is open. The adapter runs everything on
 *   one connection and only serialises transactions against each other, so without this a
 *   concurrent request's plain write would execute inside another request's open transaction —
 *   seeing its uncommitted rows, and vanishing if it rolls back (while its caller was told it
 *   succeeded, and its audit entry says so). On PostgreSQL each runs on its own pooled connection.
 *   Consequence, as on PostgreSQL under locks: inside a `$transaction` callback use the `tx`
 *   client, never the outer one — an outer statement there waits until the transaction times out.
 */
function sqliteAdapter(factory: PrismaBetterSqlite3): PrismaBetterSqlite3 {
  const connectionInfo = () => ({ maxBindValues: SQLITE_MAX_BIND_VALUES, supportsRelationJoins: false });
  return new Proxy(factory, {
    get(obj, prop) {
      const value: unknown = Reflect.get(obj, prop, obj);
      if (typeof value !== "function") return value;
      if (prop !== "connect") return value.bind(obj);
      return async () => {
        const adapter = (await Reflect.apply(value, obj, [])) as { client?: BetterSqlite3.Database };
        // The append-only triggers let a DELETE through only while this says 1 (see retention.ts).
        adapter.client?.function("auditrail_purging", { deterministic: false }, () => (sqlitePurging() ? 1 : 0));
        return isolated(adapter, connectionInfo);
      };
    },
  });
}

function isolated<A extends object>(adapter: A, connectionInfo: () => object): A {
  let open: Promise<void> | undefined; // settles when the open transaction commits or rolls back
  return new Proxy(adapter, {
    get(target, key) {
      if (key === "getConnectionInfo") return connectionInfo;
      const member: unknown = Reflect.get(target, key, target);
      if (typeof member !== "function") return member;
      if (key === "startTransaction") {
        return async (...args: unknown[]) => {
          const tx = (await Reflect.apply(member, target, args)) as object;
          let release: () => void = () => undefined;
          open = new Promise<void>((resolve) => (release = resolve));
          const end = () => {
            open = undefined;
            release();
          };
          return new Proxy(tx, {
            get(t, k) {
              const m: unknown = Reflect.get(t, k, t);
              if (typeof m !== "function") return m;
              if (k !== "commit" && k !== "rollback") return m.bind(t);
              return async (...a: unknown[]) => {
                try {
                  return await Reflect.apply(m, t, a);
                } finally {
                  end();
                }
              };
            },
          });
        };
      }
      if (key === "queryRaw" || key === "executeRaw" || key === "executeScript") {
        return async (...args: unknown[]) => {
          // Re-check after each wait: the next transaction may have begun in between.
          while (open) await open;
          return Reflect.apply(member, target, args);
        };
      }
      return member.bind(target);
    },
  });
}

function openPostgres(url: string, options: DatabaseOptions): Database {
  const adapter = new PrismaPg({ connectionString: url, max: options.pgPoolSize ?? 10 });
  return new PostgresClient({ adapter: observed(adapter, options.onStatement) }) as unknown as Database;
}

/**
 * The adapter factory, with every statement reported to `onStatement`: the connection it makes and
 * the transactions those start are wrapped so their `queryRaw` / `executeRaw` report the SQL and
 * `startTransaction` reports `BEGIN` (which the adapters send themselves). Prisma's own `query`
 * log event would do for queries but misses `BEGIN`; this sees exactly what reaches the driver.
 */
function observed<T extends object>(factory: T, onStatement: ((sql: string) => void) | undefined): T {
  if (!onStatement) return factory;
  const wrap = <O extends object>(target: O): O =>
    new Proxy(target, {
      get(obj, prop) {
        const value: unknown = Reflect.get(obj, prop, obj);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (prop === "queryRaw" || prop === "executeRaw") onStatement((args[0] as { sql: string }).sql);
          if (prop === "startTransaction") onStatement("BEGIN");
          const result: unknown = Reflect.apply(value, obj, args);
          if (prop === "connect" || prop === "connectToShadowDb" || prop === "startTransaction") {
            return (result as Promise<object>).then((inner) => wrap(inner));
          }
          return result;
        };
      },
    });
  return wrap(factory);
}
