/**
 * Database-level operations that do not need the Wasm engine: the one-shot
 * `schema-engine cli …` commands and the `createDatabase` RPC method.
 */
import { requireProvider } from "./adapters.ts";
import { UserFacingError } from "./errors.ts";

function requireUrl(url: string): string {
  if (url === "") {
    throw new UserFacingError("P1012", "The datasource URL is empty: set `datasource.url` in prisma.config.ts.");
  }
  return url;
}

export async function canConnectToDatabase(url: string): Promise<void> {
  if (requireProvider(requireUrl(url)) === "sqlite") {
    (await import("./sqlite.ts")).canConnect(url);
  } else {
    await (await import("./postgres.ts")).canConnect(url);
  }
}

/** Creates the database of the URL and returns its name. */
export async function createDatabase(url: string): Promise<string> {
  if (requireProvider(requireUrl(url)) === "sqlite") {
    return (await import("./sqlite.ts")).createDatabase(url);
  }
  return (await import("./postgres.ts")).createDatabase(url);
}

export async function dropDatabase(url: string): Promise<void> {
  if (requireProvider(requireUrl(url)) === "sqlite") {
    (await import("./sqlite.ts")).dropDatabase(url);
  } else {
    await (await import("./postgres.ts")).dropDatabase(url);
  }
}
