// Prisma CLI configuration. The provider (and so the schema + migrations folder) follows
// DATABASE_URL: file:… → SQLite (the default), postgres(ql)://… → PostgreSQL.
import { schemaEngineBinary } from "@auditrail/prisma-engine";
import { defineConfig } from "prisma/config";
import { providerOf } from "./src/url.ts";

// The CLI downloads a native schema engine on every command; these machines cannot. Our stand-in
// (tooling/prisma-engine) speaks the same protocol through Prisma's own wasm engine. A machine
// that has the native binary can point this variable at it instead.
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= schemaEngineBinary;

const url = process.env.DATABASE_URL ?? "";
const provider = providerOf(url || "file:./auditrail.db");

export default defineConfig({
  schema: `prisma/${provider}/schema.prisma`,
  migrations: { path: `prisma/${provider}/migrations`, seed: "tsx scripts/seed.ts" },
  datasource: { url },
});
