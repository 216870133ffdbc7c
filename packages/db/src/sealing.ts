/**
 * Opening a process's sealer, shared by the API (apps/api/src/sealing.ts) and the ingest service
 * (apps/ingest): the signing key (or the development key pair made under .auditrail/keys), a
 * `Sealer` that stores its seals in the database's seal table and anchors them in `anchorDir`, and
 * — for the process that owns the database's own stream (the API) — that stream as a source.
 * Takes already-parsed settings: each app's config parses its own environment.
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Sealer, generateSealKeyPair, loadPublicKey } from "@auditrail/audit-core";
import type { AnchorSources } from "./anchors.ts";
import { type DatabaseStreamSource, databaseStreamSource } from "./db-stream.ts";
import { sqlSinkSpec } from "./sink.ts";

/** Where a process without a configured signing key keeps the development key pair. */
export const DEVELOPMENT_KEY_DIR = ".auditrail/keys";

export interface SealSettings {
  /** The trail this process seals (the anchor folder's sub-folder; one running process per trail). */
  readonly trail: string;
  /** The Ed25519 signing key (PEM). Unset: the development key under DEVELOPMENT_KEY_DIR, made if missing. */
  readonly signingKeyFile?: string | undefined;
  /** The public key verify uses (PEM). Unset: the signing key's public half. */
  readonly publicKeyFile?: string | undefined;
  /** The append-only anchor folder: another volume than the database's in production. */
  readonly anchorDir: string;
  /** At most one seal this often (and one at close). */
  readonly sealEveryMs: number;
  /** A witness that cosigns each seal. */
  readonly witnessUrl?: string | undefined;
}

/** The signing key file in effect: the configured one, or the development key under `dir` (made unless there). */
export async function sealKeyFile(
  configured: string | undefined,
  dir: string = DEVELOPMENT_KEY_DIR,
): Promise<{ keyFile: string; development: boolean; created: boolean }> {
  if (configured) return { keyFile: configured, development: false, created: false };
  const keyFile = join(dir, "dev-seal.pem");
  if (existsSync(keyFile)) return { keyFile, development: true, created: false };
  await mkdir(dir, { recursive: true });
  const { privateKeyPem, publicKeyPem } = generateSealKeyPair();
  await writeFile(keyFile, privateKeyPem, { flag: "wx", mode: 0o600 });
  await writeFile(join(dir, "dev-seal.pub.pem"), publicKeyPem, { flag: "wx" });
  return { keyFile, development: true, created: true };
}

export interface OpenSealerOptions {
  readonly onError: (error: Error) => void;
  /**
   * Also seal the database's own stream (entries written in business transactions, purge
   * entries): the API does; an ingest process seals only the stream it writes.
   */
  readonly sealDatabaseStream: boolean;
}

export interface OpenedSealer {
  readonly sealer: Sealer;
  readonly trail: string;
  /** The signing key file in effect (the path; the key never leaves it). */
  readonly keyFile: string;
  /** The development key's file, when no signing key was configured. */
  readonly developmentKey: string | undefined;
  /** The public key verify uses, PEM: from a file, never from the database. */
  readonly publicKeyPem: string;
  /** Where verify reads the anchored seals back. */
  readonly anchors: AnchorSources;
  /** The last seal, then the database stream's connection. */
  close(): Promise<void>;
}

/** Opens the sealer for the database at `url` (its seal table stores the seals). */
export async function openSealer(settings: SealSettings, url: string, options: OpenSealerOptions): Promise<OpenedSealer> {
  const key = await sealKeyFile(settings.signingKeyFile);
  const publicKey = await loadPublicKey(settings.publicKeyFile ?? key.keyFile);
  const sealer = await Sealer.open({
    trail: settings.trail,
    signingKeyFile: key.keyFile,
    anchorDir: settings.anchorDir,
    sealEveryMs: settings.sealEveryMs,
    sink: sqlSinkSpec({ url }),
    onError: options.onError,
    ...(settings.witnessUrl ? { witness: { url: settings.witnessUrl } } : {}),
  });
  let source: DatabaseStreamSource | undefined;
  if (options.sealDatabaseStream) {
    try {
      source = await databaseStreamSource(url);
    } catch (error) {
      await sealer.close();
      throw error;
    }
    const db = source;
    sealer.addSource(() => db.poll());
  }
  return {
    sealer,
    trail: settings.trail,
    keyFile: key.keyFile,
    developmentKey: key.development ? key.keyFile : undefined,
    publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
    anchors: { dir: settings.anchorDir, witnessUrl: settings.witnessUrl },
    close: async () => {
      await sealer.close();
      await source?.close();
    },
  };
}
