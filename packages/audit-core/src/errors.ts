/**
 * Every error auditrail throws, in one table. Each has a stable `code` and a message that says what
 * was wrong and what is accepted instead.
 */
export class AuditrailError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The writer's options failed validation; `issues` lists every problem, one per line. */
export class InvalidOptionsError extends AuditrailError {
  constructor(readonly issues: readonly string[]) {
    super("ERR_AUDIT_INVALID_OPTIONS", `Invalid audit writer options:\n- ${issues.join("\n- ")}`);
  }
}

/** An event passed to `record` failed validation; nothing was enqueued. */
export class InvalidAuditEventError extends AuditrailError {
  constructor(readonly issues: readonly string[]) {
    super("ERR_AUDIT_INVALID_EVENT", `Invalid audit event:\n- ${issues.join("\n- ")}`);
  }
}

/**
 * An event larger than `maxEntryBytes` (estimated size of its JSON text); nothing was enqueued.
 * The size is where measuring stopped: measuring ends as soon as the limit is passed.
 */
export class EntryTooLargeError extends AuditrailError {
  constructor(readonly bytes: number, readonly maxEntryBytes: number) {
    super(
      "ERR_AUDIT_ENTRY_TOO_LARGE",
      `Audit entry too large: at least ${bytes} bytes, over maxEntryBytes (${maxEntryBytes}). Record less (ids, a diff), raise maxEntryBytes, or set oversize: "truncate".`,
    );
  }
}

/** `record` was called after `close` began. */
export class WriterClosedError extends AuditrailError {
  constructor() {
    super("ERR_AUDIT_WRITER_CLOSED", "The audit writer is closed: record() was called after close().");
  }
}

/** The sink module named by a sink spec could not be loaded or did not export `createSink`. */
export class SinkLoadError extends AuditrailError {
  constructor(module: string, reason: string, cause?: unknown) {
    super("ERR_AUDIT_SINK_LOAD", `Cannot load audit sink "${module}": ${reason}`, { cause });
  }
}

/** A sync-mode write failed after its attempts; the caller asked to wait for the row, so it fails. */
export class AuditWriteError extends AuditrailError {
  constructor(attempts: number, cause: unknown) {
    super(
      "ERR_AUDIT_WRITE_FAILED",
      `Audit entry not written after ${attempts} attempt(s): ${messageOf(cause)}`,
      { cause },
    );
  }
}

/** A spool segment could not be read back (corrupt line); the segment is kept for inspection. */
export class SpoolCorruptError extends AuditrailError {
  constructor(file: string, line: number, cause: unknown) {
    super("ERR_AUDIT_SPOOL_CORRUPT", `Spool segment ${file} line ${line} is not a valid entry`, {
      cause,
    });
  }
}

/** The compiled worker entry is missing: the package was used from source without being built. */
export class WorkerEntryMissingError extends AuditrailError {
  constructor(file: string) {
    super(
      "ERR_AUDIT_WORKER_MISSING",
      `The audit worker entry ${file} does not exist: build @auditrail/audit-core (tsc) first.`,
    );
  }
}

/** An entry refused by the `drop` overflow policy (reported to onError, counted in stats). */
export class AuditEntryDroppedError extends AuditrailError {
  constructor(readonly id: string, capacity: number) {
    super("ERR_AUDIT_DROPPED", `Audit entry ${id} dropped: the queue is full (${capacity} entries) and overflow is "drop".`);
  }
}

/** Another live process holds the spool directory's lock: one writer per spool directory. */
export class SpoolLockedError extends AuditrailError {
  constructor(readonly dir: string, readonly pid: number) {
    super(
      "ERR_AUDIT_SPOOL_LOCKED",
      `The spool directory ${dir} is in use by process ${pid}: give each writer (each server process) its own spoolDir.`,
    );
  }
}

/** A batch whose worker thread died (out of memory, crashed) without answering. */
export class WorkerDiedError extends AuditrailError {
  constructor(cause: unknown) {
    super("ERR_AUDIT_WORKER_DIED", `The audit worker writing this entry died: ${messageOf(cause)}`, { cause });
  }
}

/** A Merkle log state or proof request that does not fit its log (wrong size, count or hash). */
export class MerkleProofError extends AuditrailError {
  constructor(message: string) {
    super("ERR_AUDIT_MERKLE", message);
  }
}

/** A seal's text is not in the seal format (see seal.ts); `reason` says where. */
export class SealFormatError extends AuditrailError {
  constructor(readonly reason: string) {
    super("ERR_AUDIT_SEAL_FORMAT", `Not a valid seal: ${reason}`);
  }
}

/** No signature on the seal verifies with the given public key (forged, altered, or another key). */
export class SealSignatureError extends AuditrailError {
  constructor(reason: string) {
    super("ERR_AUDIT_SEAL_SIGNATURE", `Seal signature not valid: ${reason}`);
  }
}

/** A seal key could not be read or is not an Ed25519 key of the expected kind. */
export class SealKeyError extends AuditrailError {
  constructor(source: string, reason: string, cause?: unknown) {
    super("ERR_AUDIT_SEAL_KEY", `Seal key ${source}: ${reason}`, { cause });
  }
}

/** The sealer's options failed validation; `issues` lists every problem, one per line. */
export class InvalidSealerOptionsError extends AuditrailError {
  constructor(readonly issues: readonly string[]) {
    super("ERR_AUDIT_INVALID_SEALER_OPTIONS", `Invalid sealer options:\n- ${issues.join("\n- ")}`);
  }
}

/** An anchor directory is unusable or holds something that does not continue the trail. */
export class AnchorError extends AuditrailError {
  constructor(dir: string, reason: string, cause?: unknown) {
    super("ERR_AUDIT_ANCHOR", `Seal anchor ${dir}: ${reason}`, { cause });
  }
}

/** A witness refused a seal (it is not consistent with the last seal the witness saw), or could not be reached. */
export class WitnessError extends AuditrailError {
  constructor(
    readonly reason: string,
    /** True when the witness answered and refused; false when it could not be reached or failed. */
    readonly refused: boolean,
    cause?: unknown,
    /** The witness's HTTP status, when it answered. */
    readonly status?: number,
  ) {
    super("ERR_AUDIT_WITNESS", `Witness ${refused ? "refused the seal" : "unavailable"}: ${reason}`, { cause });
  }
}

/** One line of text for any thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
