/**
 * The prisma CLI scenario shared by the SQLite and PostgreSQL tests: every
 * step runs the real `prisma` binary, which spawns bin/schema-engine because
 * the project's prisma.config.ts sets PRISMA_SCHEMA_ENGINE_BINARY.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { TestProject, type TestProvider, expectStatus, schema } from "./helpers.ts";

export interface SuiteOptions {
  provider: TestProvider;
  /** URL of an empty database, available once `beforeAll` hooks ran. */
  databaseUrl: () => string;
  /** Extra checks after `migrate dev` (e.g. no shadow database left behind). */
  afterMigrateDev?: () => Promise<void>;
}

export function defineCliSuite({ provider, databaseUrl, afterMigrateDev }: SuiteOptions): void {
  let project: TestProject;

  beforeAll(() => {
    project = new TestProject(provider);
  });

  afterAll(() => {
    project.remove();
  });

  const migrationsDir = () => join(project.dir, "prisma", "migrations");

  it("migrate diff --from-empty --to-schema --script prints the CREATE TABLE SQL (no database needed)", () => {
    const result = expectStatus(
      project.prisma(["migrate", "diff", "--from-empty", "--to-schema", "prisma/schema.prisma", "--script"], undefined),
      0,
    );
    expect(result.stdout).toContain('CREATE TABLE "User"');
    expect(result.stdout).toContain('CREATE TABLE "Post"');
    expect(result.stdout).toContain('CREATE UNIQUE INDEX "User_email_key"');
    expect(result.stdout).toMatch(/FOREIGN KEY \("authorId"\) REFERENCES "User"/);

    // Keep it as the first migration of the project.
    project.write("prisma/migrations/20240101000000_init/migration.sql", result.stdout);
    project.write("prisma/migrations/migration_lock.toml", `provider = "${provider}"\n`);
  });

  it("migrate deploy applies the migrations folder to an empty database", () => {
    const result = expectStatus(project.prisma(["migrate", "deploy"], databaseUrl()), 0);
    expect(result.output).toContain("20240101000000_init");
    expect(result.output).toContain("All migrations have been successfully applied.");
  });

  it("migrate deploy is idempotent", () => {
    const result = expectStatus(project.prisma(["migrate", "deploy"], databaseUrl()), 0);
    expect(result.output).toContain("No pending migrations to apply.");
  });

  it("migrate status says the database is up to date", () => {
    const result = expectStatus(project.prisma(["migrate", "status"], databaseUrl()), 0);
    expect(result.output).toContain("Database schema is up to date!");
  });

  it("migrate diff --from-config-datasource --exit-code reports no difference after deploy", () => {
    const args = ["migrate", "diff", "--from-config-datasource", "--to-schema", "prisma/schema.prisma", "--exit-code"];
    const same = expectStatus(project.prisma(args, databaseUrl()), 0);
    expect(same.stdout).toContain("No difference detected.");

    // …and does report one once the schema changes (exit code 2).
    project.write("prisma/schema.prisma", schema(provider, "nickname String?"));
    const changed = expectStatus(project.prisma([...args, "--script"], databaseUrl()), 2);
    expect(changed.stdout).toMatch(/"nickname" TEXT/);
  });

  it("migrate dev --create-only creates the next migration against the database", async () => {
    const result = expectStatus(project.prisma(["migrate", "dev", "--name", "add_nickname", "--create-only"], databaseUrl()), 0);
    expect(result.output).toContain("add_nickname");
    const created = readdirSync(migrationsDir()).find((name) => name.endsWith("_add_nickname"));
    expect(created).toBeDefined();
    const sql = readFileSync(join(migrationsDir(), created ?? "", "migration.sql"), "utf8");
    expect(sql).toMatch(/"nickname" TEXT/);
    await afterMigrateDev?.();
  });

  it("migrate dev applies the new migration, after which status is up to date", async () => {
    const dev = expectStatus(project.prisma(["migrate", "dev"], databaseUrl()), 0);
    expect(dev.output).toContain("add_nickname");
    expect(dev.output).toContain("Your database is now in sync with your schema.");
    await afterMigrateDev?.();

    const status = expectStatus(project.prisma(["migrate", "status"], databaseUrl()), 0);
    expect(status.output).toContain("2 migrations found");
    expect(status.output).toContain("Database schema is up to date!");
  });

  it("migrate reset --force empties the database and re-applies every migration", () => {
    const result = expectStatus(project.prisma(["migrate", "reset", "--force"], databaseUrl()), 0);
    expect(result.output).toContain("Database reset successful");
    expect(result.output).toContain("add_nickname");
    const status = expectStatus(project.prisma(["migrate", "status"], databaseUrl()), 0);
    expect(status.output).toContain("Database schema is up to date!");
  });

  it("db execute runs a multi-statement script", () => {
    project.write(
      "seed.sql",
      `INSERT INTO "User" ("email") VALUES ('a@example.com');\nINSERT INTO "User" ("email") VALUES ('b;c@example.com');\n`,
    );
    const result = expectStatus(project.prisma(["db", "execute", "--file", "seed.sql"], databaseUrl()), 0);
    expect(result.output).toContain("Script executed successfully.");
    // A duplicate e-mail violates the unique index: the error comes back from the database.
    const duplicate = project.prisma(["db", "execute", "--file", "seed.sql"], databaseUrl());
    expect(duplicate.status).toBe(1);
  });
}

/** Helper for the "bad URL" tests of both providers. */
export function describeBadUrl(provider: TestProvider, cases: Array<{ name: string; url: string; error: RegExp }>): void {
  describe("with a bad datasource URL", () => {
    let project: TestProject;
    beforeAll(() => {
      project = new TestProject(provider);
    });
    afterAll(() => {
      project.remove();
    });

    it.each(cases)("$name gives a clear error", ({ url, error }) => {
      const result = project.prisma(["migrate", "status"], url);
      expect(result.status).toBe(1);
      expect(result.output).toMatch(error);
    });
  });
}
