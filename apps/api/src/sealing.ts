/**
 * Seals for the API process: the settings are config.ts's (AUDIT_SEAL_KEY_FILE,
 * AUDIT_PUBLIC_KEY_FILE, AUDIT_ANCHOR_DIR, AUDIT_SEAL_EVERY_MS, AUDIT_TRAIL, AUDIT_WITNESS_URL);
 * @auditrail/db's `openSealer` opens a Sealer that signs every stream of the process's writers
 * and the database's own stream (transactional entries, purge entries), and audit.verify /
 * audit.proof get the public key and the anchors — from outside the database — through
 * `SealServices`.
 */
import type { Sealer } from "@auditrail/audit-core";
import { type AnchorSources, type SealSettings, openSealer } from "@auditrail/db";

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
  close(): Promise<void>;
}

/** Opens the sealer for the database at `url` (its seal table stores the seals) and what verify needs. */
export async function openSealing(settings: SealSettings, url: string, onError: (error: Error) => void): Promise<Sealing> {
  const opened = await openSealer(settings, url, { onError, sealDatabaseStream: true });
  const { sealer } = opened;
  return {
    sealer,
    services: { url, publicKeyPem: opened.publicKeyPem, anchors: opened.anchors, sealer },
    close: () => opened.close(),
  };
}
