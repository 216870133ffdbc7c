// Prisma CLI configuration. The provider (and so the schema + migrations folder) follows
// DATABASE_URL: file:… → SQLite, postgres(ql)://… → PostgreSQL; unset → the embedded SQLite file
// packages/db/auditrail.db.
import { schemaEngineBinary } from "@auditrail/prisma-engine";
import { defineConfig } from "prisma/config";
import { databaseUrlFromEnv, providerOf } from "./src/url.ts";

// The CLI downloads a native schema engine on every command; these machines cannot. Our stand-in
// (tooling/prisma-engine) speaks the same protocol through Prisma's own wasm engine. A machine
// that has the native binary can point this variable at it instead.
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= schemaEngineBinary;

const url = databaseUrlFromEnv();
const provider = providerOf(url);

export default defineConfig({
  schema: `prisma/${provider}/schema.prisma`,
  migrations: { path: `prisma/${provider}/migrations`, seed: "tsx scripts/seed.ts" },
  datasource: { url },
});
