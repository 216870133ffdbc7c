/**
 * Seals for an ingest process, as apps/api/src/sealing.ts opens them for the API: each ingest
 * process chains what it writes into a stream of its own and owns a Sealer that signs that
 * stream's Merkle log (Ed25519) at most every `sealEveryMs`, and at stop, into the anchor folder
 * (outside the database) and the `AuditSeal` table. One process seals a trail (the anchor's lock),
 * so every ingest process seals its own trail: by default `ingest-<host>-<pid>`.
 *
 *   AUDIT_SEAL_KEY_FILE   PEM Ed25519 private key. Unset: the development key under .auditrail/keys
 *                         (the API's: one public key verifies both), made if missing.
 *   AUDIT_ANCHOR_DIR      the anchor directory (default .auditrail/anchors; another volume in production)
 *   AUDIT_SEAL_EVERY_MS   at most one seal this often (default 1000)
 *   AUDIT_TRAIL           this process's trail (default ingest-<host>-<pid>; one running process per trail)
 *   AUDIT_WITNESS_URL     a witness that cosigns each seal (optional)
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { Sealer, TRAIL_NAME, generateSealKeyPair } from "@auditrail/audit-core";
import { sqlSinkSpec } from "@auditrail/db/sink";
import { z } from "zod";

export const DEVELOPMENT_KEY_DIR = ".auditrail/keys";

export const IngestSealConfigSchema = z.strictObject({
  /** This process's trail (the anchor's sub-folder). Default: ingest-<host>-<pid>. */
  trail: z.string().regex(TRAIL_NAME, "1–128 of A-Z a-z 0-9 . _ -, starting with a letter or digit").optional(),
  /** The Ed25519 signing key (PEM). Unset: the development key under .auditrail/keys. */
  signingKeyFile: z.string().min(1).optional(),
  /** The append-only anchor folder: another volume than the database's in production. */
  anchorDir: z.string().min(1).default(".auditrail/anchors"),
  /** A seal at most this often, only when something new was written; and one at stop. */
  sealEveryMs: z.number().int().min(10).max(86_400_000).default(1_000),
  /** A witness that cosigns each seal. */
  witnessUrl: z.url().optional(),
});

export type IngestSealConfig = z.output<typeof IngestSealConfigSchema>;

/** The seal settings from the environment (the API's variable names). */
export function sealConfigFromEnv(env: NodeJS.ProcessEnv): z.input<typeof IngestSealConfigSchema> {
  return {
    ...(env.AUDIT_TRAIL ? { trail: env.AUDIT_TRAIL } : {}),
    ...(env.AUDIT_SEAL_KEY_FILE ? { signingKeyFile: env.AUDIT_SEAL_KEY_FILE } : {}),
    ...(env.AUDIT_ANCHOR_DIR ? { anchorDir: env.AUDIT_ANCHOR_DIR } : {}),
    ...(env.AUDIT_SEAL_EVERY_MS ? { sealEveryMs: Number(env.AUDIT_SEAL_EVERY_MS) } : {}),
    ...(env.AUDIT_WITNESS_URL ? { witnessUrl: env.AUDIT_WITNESS_URL } : {}),
  };
}

/** The default trail: unique per running process, so any number of them can share an anchor folder. */
export function defaultTrail(): string {
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 100);
  return `ingest-${host || "host"}-${process.pid}`;
}

/** A development key pair under `dir` (the API's file names), made unless one is there. */
export async function developmentKey(dir: string): Promise<{ keyFile: string; created: boolean }> {
  const keyFile = join(dir, "dev-seal.pem");
  if (existsSync(keyFile)) return { keyFile, created: false };
  await mkdir(dir, { recursive: true });
  const { privateKeyPem, publicKeyPem } = generateSealKeyPair();
  await writeFile(keyFile, privateKeyPem, { flag: "wx", mode: 0o600 });
  await writeFile(join(dir, "dev-seal.pub.pem"), publicKeyPem, { flag: "wx" });
  return { keyFile, created: true };
}

export interface IngestSealing {
  readonly sealer: Sealer;
  readonly trail: string;
  /** The development key's file, when no signing key was configured. */
  readonly developmentKey: string | undefined;
}

/** Opens this process's sealer; seals are stored in `databaseUrl`'s seal table too. */
export async function openIngestSealing(config: IngestSealConfig, databaseUrl: string, onError: (error: Error) => void): Promise<IngestSealing> {
  let keyFile = config.signingKeyFile;
  let made: string | undefined;
  if (!keyFile) {
    keyFile = (await developmentKey(DEVELOPMENT_KEY_DIR)).keyFile;
    made = keyFile;
  }
  const trail = config.trail ?? defaultTrail();
  const sealer = await Sealer.open({
    trail,
    signingKeyFile: keyFile,
    anchorDir: config.anchorDir,
    sealEveryMs: config.sealEveryMs,
    sink: sqlSinkSpec({ url: databaseUrl }),
    onError,
    ...(config.witnessUrl ? { witness: { url: config.witnessUrl } } : {}),
  });
  return { sealer, trail, developmentKey: made };
}
