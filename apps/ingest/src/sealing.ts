/**
 * Seals for an ingest process, opened by @auditrail/db's `openSealer` as the API's are: each
 * ingest process chains what it writes into a stream of its own and owns a Sealer that signs that
 * stream's Merkle log (Ed25519) at most every `sealEveryMs`, and at stop, into the anchor folder
 * (outside the database) and the `AuditSeal` table. One process seals a trail (the anchor's lock),
 * so every ingest process seals its own trail: by default `ingest-<host>-<pid>`. The settings
 * (config.ts's `seal`) come from the API's variable names; unset AUDIT_SEAL_KEY_FILE: the
 * development key under .auditrail/keys (the API's: one public key verifies both), made if missing.
 */
import { hostname } from "node:os";
import { type OpenedSealer, openSealer } from "@auditrail/db";
import type { ResolvedIngestConfig } from "./config.ts";

/** The default trail: unique per running process, so any number of them can share an anchor folder. */
export function defaultTrail(): string {
  const host = hostname()
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .slice(0, 100);
  return `ingest-${host || "host"}-${process.pid}`;
}

/** Opens this process's sealer; seals are stored in `databaseUrl`'s seal table too. */
export function openIngestSealing(
  config: ResolvedIngestConfig["seal"],
  databaseUrl: string,
  onError: (error: Error) => void,
): Promise<OpenedSealer> {
  return openSealer({ ...config, trail: config.trail ?? defaultTrail() }, databaseUrl, { onError, sealDatabaseStream: false });
}
