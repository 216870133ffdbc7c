import { fileURLToPath } from "node:url";

/** Database URLs → providers. Each provider has prisma/<provider>/{schema.prisma,migrations}. */
export const PROVIDERS = ["sqlite", "postgresql"] as const;
export type Provider = (typeof PROVIDERS)[number];

/** Thrown for a database URL that is neither `file:` (SQLite) nor `postgres(ql)://` (PostgreSQL). */
export class UnsupportedDatabaseUrlError extends Error {
  override readonly name = "UnsupportedDatabaseUrlError";
  constructor(url: string) {
    super(
      `Unsupported database URL "${redactUrl(url)}": use file:<path> for SQLite ` +
        `(e.g. file:./auditrail.db) or postgresql://user@host:5432/db for PostgreSQL.`,
    );
  }
}

/** Which provider serves a URL; throws UnsupportedDatabaseUrlError for anything else. */
export function providerOf(url: string): Provider {
  if (url.startsWith("file:")) return "sqlite";
  if (/^postgres(ql)?:\/\//.test(url)) return "postgresql";
  throw new UnsupportedDatabaseUrlError(url);
}

/** A URL with its password masked, fit for error messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}

/**
 * The embedded default: an SQLite file inside this package, addressed absolutely so the CLI, the
 * seed and the API (each with its own working directory) all open the same file.
 */
export function defaultDatabaseUrl(): string {
  return `file:${fileURLToPath(new URL("../auditrail.db", import.meta.url))}`;
}

/** DATABASE_URL when set, else the embedded SQLite default. */
export function databaseUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.DATABASE_URL || defaultDatabaseUrl();
}
