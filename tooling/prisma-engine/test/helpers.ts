/**
 * Test helpers: a throw-away Prisma project that uses the stand-in through a
 * typical prisma.config.ts, and a runner for the real prisma CLI.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const packageDir = fileURLToPath(new URL("..", import.meta.url));
const prismaBin = join(packageDir, "node_modules", ".bin", "prisma");

export type TestProvider = "sqlite" | "postgresql";

export const PRISMA_CONFIG = `import { defineConfig } from "prisma/config";
import { schemaEngineBinary } from "@auditrail/prisma-engine";

process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= schemaEngineBinary;

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "" },
});
`;

export function schema(provider: TestProvider, extraUserField = ""): string {
  return `datasource db {
  provider = "${provider}"
}

model User {
  id    Int    @id @default(autoincrement())
  email String @unique
  posts Post[]${extraUserField === "" ? "" : `\n  ${extraUserField}`}
}

model Post {
  id       Int    @id @default(autoincrement())
  title    String
  authorId Int
  author   User   @relation(fields: [authorId], references: [id])
}
`;
}

export interface PrismaResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout + stderr, for assertions on messages printed to either. */
  output: string;
}

export class TestProject {
  readonly dir: string;

  constructor(readonly provider: TestProvider) {
    this.dir = mkdtempSync(join(tmpdir(), `prisma-engine-${provider}-`));
    // Resolvable from prisma.config.ts: `prisma/config` and this package (its built dist/).
    mkdirSync(join(this.dir, "node_modules", "@auditrail"), { recursive: true });
    symlinkSync(join(packageDir, "node_modules", "prisma"), join(this.dir, "node_modules", "prisma"));
    symlinkSync(packageDir, join(this.dir, "node_modules", "@auditrail", "prisma-engine"));
    mkdirSync(join(this.dir, "prisma"));
    this.write("prisma.config.ts", PRISMA_CONFIG);
    this.write("prisma/schema.prisma", schema(provider));
  }

  write(path: string, content: string): void {
    const file = join(this.dir, path);
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, content);
  }

  /** Runs `prisma <args>` in the project with DATABASE_URL set. */
  prisma(args: string[], databaseUrl: string | undefined): PrismaResult {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CHECKPOINT_DISABLE: "1",
      PRISMA_HIDE_UPDATE_MESSAGE: "1",
      NO_COLOR: "1",
      FORCE_COLOR: "0",
    };
    // prisma.config.ts must be what points the CLI at the stand-in.
    delete env.PRISMA_SCHEMA_ENGINE_BINARY;
    delete env.DATABASE_URL;
    if (databaseUrl !== undefined) env.DATABASE_URL = databaseUrl;
    const result = spawnSync(prismaBin, args, { cwd: this.dir, env, encoding: "utf8", timeout: 100_000 });
    if (result.error) throw result.error;
    return {
      status: result.status,
      stdout: result.stdout,
      stderr: result.stderr,
      output: `${result.stdout}\n${result.stderr}`,
    };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Fails with the CLI output when a command did not exit with `expected`. */
export function expectStatus(result: PrismaResult, expected: number): PrismaResult {
  if (result.status !== expected) {
    throw new Error(`prisma exited with ${String(result.status)} instead of ${expected}:\n${result.output}`);
  }
  return result;
}
