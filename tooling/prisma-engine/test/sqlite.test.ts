import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, describe } from "vitest";

import { defineCliSuite, describeBadUrl } from "./cli-suite.ts";

describe("prisma CLI with the stand-in engine on SQLite", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "prisma-engine-sqlite-data-"));
  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  // The file does not exist yet: `migrate deploy` creates it, like the native engine.
  defineCliSuite({ provider: "sqlite", databaseUrl: () => `file:${join(dataDir, "test.db")}` });

  describeBadUrl("sqlite", [
    {
      name: "a database file that does not exist",
      url: "file:/nonexistent-dir/prisma-engine/test.db",
      error: /P1003: Database `test\.db` does not exist at `\/nonexistent-dir\/prisma-engine\/test\.db`/,
    },
    {
      name: "an unsupported URL scheme",
      url: "mysql://root@127.0.0.1:3306/test",
      error: /P1013: The provided database string is invalid\. The scheme `mysql:` is not supported/,
    },
  ]);
});
