/**
 * @auditrail/prisma-engine — a stand-in for Prisma's native schema-engine
 * binary, backed by @prisma/schema-engine-wasm (see README.md).
 *
 * Use it from a prisma.config.ts:
 *
 *   import { schemaEngineBinary } from "@auditrail/prisma-engine";
 *   process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= schemaEngineBinary;
 */
import { fileURLToPath } from "node:url";

/** Absolute path of the `schema-engine` executable, for `PRISMA_SCHEMA_ENGINE_BINARY`. */
export const schemaEngineBinary: string = fileURLToPath(new URL("../bin/schema-engine", import.meta.url));
