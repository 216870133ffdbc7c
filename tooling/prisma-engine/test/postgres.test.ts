/**
 * PostgreSQL tests: they need a server. The database URL comes from
 * TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test); a fresh,
 * uniquely named database is created next to it for every run and dropped
 * afterwards. Without TEST_DATABASE_URL the tests are skipped, except on CI
 * (CI=true), where the local default is used and an unreachable server fails.
 */
import { randomBytes } from "node:crypto";

import pg from "pg";
import { afterAll, beforeAll, describe, expect } from "vitest";

import { defineCliSuite, describeBadUrl } from "./cli-suite.ts";

const DEFAULT_CI_URL = "postgresql://postgres@127.0.0.1:5432/postgres";
const baseUrl = process.env.TEST_DATABASE_URL ?? (process.env.CI === "true" ? DEFAULT_CI_URL : undefined);

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function onServer<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

describe.skipIf(baseUrl === undefined)("prisma CLI with the stand-in engine on PostgreSQL", () => {
  const database = `prisma_engine_test_${Date.now()}_${randomBytes(3).toString("hex")}`;
  let databaseUrl = "";

  beforeAll(async () => {
    // Fails (rather than skips) when the server is unreachable.
    await onServer((client) => client.query(`CREATE DATABASE "${database}"`));
    databaseUrl = withDatabase(baseUrl ?? "", database);
  });

  afterAll(async () => {
    await onServer(async (client) => {
      const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2", [
        database,
        `${database}_shadow_%`,
      ]);
      for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    });
  });

  defineCliSuite({
    provider: "postgresql",
    databaseUrl: () => databaseUrl,
    // `migrate dev` replays the migrations on a temporary shadow database: it must be gone.
    afterMigrateDev: async () => {
      const { rows } = await onServer((client) =>
        client.query("SELECT datname FROM pg_database WHERE datname LIKE $1", [`${database}_shadow_%`]),
      );
      expect(rows).toEqual([]);
    },
  });

  describeBadUrl("postgresql", [
    {
      name: "an unreachable server",
      url: "postgresql://postgres@127.0.0.1:1/test",
      error: /P1001: Can't reach database server at `127\.0\.0\.1:1`/,
    },
    {
      name: "a URL that cannot be parsed",
      url: "postgresql://postgres@127.0.0.1:notaport/test",
      error: /P1013: The provided database string is invalid/,
    },
  ]);
});
