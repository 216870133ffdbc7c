import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { createDatabase } from "../src/client.ts";
import { checkedInMigrations, pendingMigrations } from "../src/migrations.ts";
import { type TestDatabase, createTestDatabase, migrateDeploy, testProviders } from "../src/testing.ts";

const run = promisify(execFile);
const packageRoot = fileURLToPath(new URL("..", import.meta.url));

describe.each(testProviders())("migrations on %s", (provider) => {
  let db: TestDatabase;
  afterAll(() => db?.drop());

  it("apply to an empty database through `prisma migrate deploy`", async () => {
    db = await createTestDatabase(provider, { migrate: false });
    const out = await migrateDeploy(db.ownerUrl);
    expect(out).toMatch(/successfully applied/);
    const handle = createDatabase(db.ownerUrl);
    try {
      expect(await handle.prisma.auditEntry.count()).toBe(0);
      expect(await handle.prisma.user.count()).toBe(0);
    } finally {
      await handle.close();
    }
  });

  it("are idempotent: a second deploy has nothing to apply", async () => {
    expect(await migrateDeploy(db.ownerUrl)).toMatch(/No pending migrations/);
  });

  it("leave no drift: `migrate diff` from the database to the schema finds no difference", async () => {
    const { stdout } = await run(
      `${packageRoot}/node_modules/.bin/prisma`,
      ["migrate", "diff", "--from-config-datasource", "--to-schema", `prisma/${provider}/schema.prisma`, "--exit-code"],
      { cwd: packageRoot, env: { ...process.env, DATABASE_URL: db.ownerUrl } },
    );
    expect(stdout).toMatch(/No difference detected/);
  });
});

describe.each(testProviders())("pending migrations on %s", (provider) => {
  it("lists every checked-in migration before deploy, and none after", async () => {
    const db = await createTestDatabase(provider, { migrate: false });
    const handle = createDatabase(db.ownerUrl);
    try {
      const all = await checkedInMigrations(handle);
      expect(all.length).toBeGreaterThan(0);
      expect(await pendingMigrations(handle)).toEqual(all);
      await migrateDeploy(db.ownerUrl);
      expect(await pendingMigrations(handle)).toEqual([]);
    } finally {
      await handle.close();
      await db.drop();
    }
  });
});
