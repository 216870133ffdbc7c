/**
 * Seals for the API process: the signing key, the anchors and the interval come from the
 * environment (read here, in one place), a Sealer signs every stream of the process's writers and
 * the database's own stream (transactional entries, purge entries), and audit.verify / audit.proof
 * get the public key and the anchors — from outside the database — through `SealServices`.
 *
 *   AUDIT_SEAL_KEY_FILE     PEM Ed25519 private key (`pnpm --filter @auditrail/api audit:keygen`).
 *                           Unset: a development key is made under .auditrail/keys (logged).
 *   AUDIT_PUBLIC_KEY_FILE   PEM public key verify uses (default: the signing key's public half).
 *   AUDIT_ANCHOR_DIR        the anchor directory (default .auditrail/anchors; another volume in production)
 *   AUDIT_SEAL_EVERY_MS     at most one seal this often (default 1000)
 *   AUDIT_TRAIL             the trail's name (default clinic)
 *   AUDIT_WITNESS_URL       a witness that cosigns each seal (optional)
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Sealer, type SinkSpec, TRAIL_NAME, generateSealKeyPair, loadPublicKey } from "@auditrail/audit-core";
import { type AnchorSources, type DatabaseStreamSource, databaseStreamSource } from "@auditrail/db";
import { z } from "zod";

export const SealEnvSchema = z.object({
  AUDIT_SEAL_KEY_FILE: z.string().min(1).optional(),
  AUDIT_PUBLIC_KEY_FILE: z.string().min(1).optional(),
  AUDIT_ANCHOR_DIR: z.string().min(1).default(".auditrail/anchors"),
  AUDIT_SEAL_EVERY_MS: z.coerce.number().int().min(10).max(86_400_000).default(1_000),
  AUDIT_TRAIL: z.string().regex(TRAIL_NAME).default("clinic"),
  AUDIT_WITNESS_URL: z.url().optional(),
});

export type SealEnv = z.output<typeof SealEnvSchema>;

/** A named error listing every bad seal setting. */
export class SealConfigError extends Error {
  constructor(readonly issues: readonly string[]) {
    super(`invalid seal settings: ${issues.join("; ")}`);
    this.name = "SealConfigError";
  }
}

export function sealEnvOf(env: NodeJS.ProcessEnv): SealEnv {
  const parsed = SealEnvSchema.safeParse(env);
  if (!parsed.success) throw new SealConfigError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  return parsed.data;
}

/** What audit.verify, audit.proof and audit.purge need. */
export interface SealServices {
  /** The database, as verify's own connection (in a worker thread) opens it. */
  readonly url: string;
  /** The seal signer's public key, PEM: from a file, never from the database. */
  readonly publicKeyPem: string;
  readonly anchors: AnchorSources;
  /** Signs purges (notePurge) and everything the writers report. */
  readonly sealer: Pick<Sealer, "notePurge" | "seal" | "stats">;
}

export interface Sealing {
  readonly sealer: Sealer;
  readonly services: SealServices;
  /** The development key's file, when no AUDIT_SEAL_KEY_FILE was given. */
  readonly developmentKey: string | undefined;
  close(): Promise<void>;
}

/** A development key pair under `dir`, made unless one is there. */
export async function developmentKey(dir: string): Promise<{ keyFile: string; created: boolean }> {
  const keyFile = join(dir, "dev-seal.pem");
  if (existsSync(keyFile)) return { keyFile, created: false };
  await mkdir(dir, { recursive: true });
  const { privateKeyPem, publicKeyPem } = generateSealKeyPair();
  await writeFile(keyFile, privateKeyPem, { flag: "wx", mode: 0o600 });
  await writeFile(join(dir, "dev-seal.pub.pem"), publicKeyPem, { flag: "wx" });
  return { keyFile, created: true };
}

/** Opens the sealer for `url` (the writers' sink spec stores seals) and what verify needs. */
export async function openSealing(env: SealEnv, url: string, sink: SinkSpec, onError: (error: Error) => void): Promise<Sealing> {
  let keyFile = env.AUDIT_SEAL_KEY_FILE;
  let made: string | undefined;
  if (!keyFile) {
    const dev = await developmentKey(".auditrail/keys");
    keyFile = dev.keyFile;
    made = dev.keyFile;
  }
  const publicKey = env.AUDIT_PUBLIC_KEY_FILE ? await loadPublicKey(env.AUDIT_PUBLIC_KEY_FILE) : await loadPublicKey(keyFile);
  const sealer = await Sealer.open({
    trail: env.AUDIT_TRAIL,
    signingKeyFile: keyFile,
    anchorDir: env.AUDIT_ANCHOR_DIR,
    sealEveryMs: env.AUDIT_SEAL_EVERY_MS,
    sink,
    onError,
    ...(env.AUDIT_WITNESS_URL ? { witness: { url: env.AUDIT_WITNESS_URL } } : {}),
  });
  let source: DatabaseStreamSource | undefined;
  try {
    source = await databaseStreamSource(url);
  } catch (error) {
    await sealer.close();
    throw error;
  }
  const db = source;
  sealer.addSource(() => db.poll());
  return {
    sealer,
    developmentKey: made,
    services: {
      url,
      publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
      anchors: { dir: env.AUDIT_ANCHOR_DIR, witnessUrl: env.AUDIT_WITNESS_URL },
      sealer,
    },
    close: async () => {
      await sealer.close();
      await db.close();
    },
  };
}
