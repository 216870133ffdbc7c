/**
 * Every error auditrail throws, in one table (as piscina's `kErrors`): a stable code and the
 * message it builds, saying what was wrong and what is accepted instead. Each error is an
 * AuditrailError carrying its code; the named classes below exist so callers can `instanceof` them
 * and read their fields (`issues`, `bytes`, …).
 */

const list = (issues: readonly string[]) => `\n- ${issues.join("\n- ")}`;

export const ERRORS = {
  ERR_AUDIT_INVALID_OPTIONS: (issues: readonly string[]) => `Invalid audit writer options:${list(issues)}`,
  ERR_AUDIT_INVALID_EVENT: (issues: readonly string[]) => `Invalid audit event:${list(issues)}`,
  ERR_AUDIT_INVALID_SEALER_OPTIONS: (issues: readonly string[]) => `Invalid sealer options:${list(issues)}`,
  ERR_AUDIT_PLUGIN_OPTIONS: (issues: readonly string[]) => `Invalid audit plugin options:${list(issues)}`,
  ERR_AUDIT_META: (issues: readonly string[]) => `Invalid audit meta:${list(issues)}`,
  ERR_AUDIT_INVALID_JETSTREAM_CONFIG: (issues: readonly string[], what: string) => `Invalid ${what}:${list(issues)}`,
  ERR_AUDIT_ENTRY_TOO_LARGE: (bytes: number, maxEntryBytes: number) =>
    `Audit entry too large: at least ${bytes} bytes, over maxEntryBytes (${maxEntryBytes}). Record less (ids, a diff), raise maxEntryBytes, or set oversize: "truncate".`,
  ERR_AUDIT_WRITER_CLOSED: () => "The audit writer is closed: record() was called after close().",
  ERR_AUDIT_SINK_LOAD: (module: string, reason: string) => `Cannot load audit sink "${module}": ${reason}`,
  ERR_AUDIT_WRITE_FAILED: (attempts: number, cause: unknown) => `Audit entry not written after ${attempts} attempt(s): ${messageOf(cause)}`,
  ERR_AUDIT_WRITE_TIMEOUT: (ms: number) => `sink write did not finish within ${ms} ms`,
  ERR_AUDIT_WRITE_STOPPED: () => "sink write abandoned: the writer is stopping",
  ERR_AUDIT_STORED_ELSEWHERE: (ids: readonly string[]) =>
    `Nothing of the batch was stored: ${ids.length} of its entries are stored already under another chain link (another stream wrote them meanwhile):${list(ids)}`,
  ERR_AUDIT_SPOOL_CORRUPT: (file: string, line: number) => `Spool segment ${file} line ${line} is not a valid entry`,
  ERR_AUDIT_WORKER_MISSING: (file: string) => `The audit worker entry ${file} does not exist: build @auditrail/audit-core (tsc) first.`,
  ERR_AUDIT_DROPPED: (id: string, capacity: number) =>
    `Audit entry ${id} dropped: the queue is full (${capacity} entries) and overflow is "drop".`,
  ERR_AUDIT_SPOOL_LOCKED: (dir: string, pid: number) =>
    `The spool directory ${dir} is in use by process ${pid}: give each writer (each server process) its own spoolDir.`,
  ERR_AUDIT_SPILL_FAILED: (cause: unknown) =>
    `Audit entry not kept: the writer closed while it waited for room, and spilling it to the spool failed: ${messageOf(cause)}`,
  ERR_AUDIT_WORKER_DIED: (cause: unknown) => `The audit worker writing this entry died: ${messageOf(cause)}`,
  ERR_AUDIT_MERKLE: (message: string) => message,
  ERR_AUDIT_SEAL_FORMAT: (reason: string) => `Not a valid seal: ${reason}`,
  ERR_AUDIT_SEAL_SIGNATURE: (reason: string) => `Seal signature not valid: ${reason}`,
  ERR_AUDIT_SEAL_KEY: (source: string, reason: string) => `Seal key ${source}: ${reason}`,
  ERR_AUDIT_ANCHOR: (dir: string, reason: string) => `Seal anchor ${dir}: ${reason}`,
  ERR_AUDIT_WITNESS: (reason: string, refused: boolean) => `Witness ${refused ? "refused the seal" : "unavailable"}: ${reason}`,
  ERR_AUDIT_INVALID_REDACTION: (rule: unknown, reason: string) => `Invalid redaction rule ${JSON.stringify(rule)}: ${reason}`,
  ERR_AUDIT_CONFIG: (path: string, reason: string) => `Audit plugin misused by procedure "${path}": ${reason}`,
  ERR_AUDIT_COPY_TEXT: (reason: string) => `Not PostgreSQL's COPY TO text output: ${reason}`,
} as const satisfies Record<string, (...args: never[]) => string>;

export type AuditErrorCode = keyof typeof ERRORS;

/** The code and the message the table builds for it: `super(...describe(code, ...args))`. */
function describe<C extends AuditErrorCode>(code: C, ...args: Parameters<(typeof ERRORS)[C]>): [C, string] {
  const build = ERRORS[code] as (...a: Parameters<(typeof ERRORS)[C]>) => string;
  return [code, build(...args)];
}

/** The base of every auditrail error: `code` is stable, `name` is the class's name. */
export class AuditrailError extends Error {
  readonly code: AuditErrorCode;
  constructor(code: AuditErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Options, an event or a config that failed validation; `issues` lists every problem, one per line. */
export class InvalidIssuesError extends AuditrailError {
  constructor(
    code: AuditErrorCode,
    message: string,
    readonly issues: readonly string[],
  ) {
    super(code, message);
  }
}

/** A zod issue as every formatter here reads it (zod's `$ZodIssue` fits). */
export interface IssueLike {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/**
 * The one zod-issue formatter: one line per issue, `path.to.field: message`; an issue about the
 * value as a whole is named `whole` ("(options)", "input", …). `prefix` goes before a non-empty path.
 */
export function formatIssues(issues: readonly IssueLike[], whole: string, prefix = ""): string[] {
  return issues.map((i) => `${i.path.length > 0 ? prefix + i.path.map(String).join(".") : whole}: ${i.message}`);
}

/** The writer's options failed validation. */
export class InvalidOptionsError extends InvalidIssuesError {
  constructor(issues: readonly string[]) {
    super(...describe("ERR_AUDIT_INVALID_OPTIONS", issues), issues);
  }
}

/** An event passed to `record` failed validation; nothing was enqueued. */
export class InvalidAuditEventError extends InvalidIssuesError {
  constructor(issues: readonly string[]) {
    super(...describe("ERR_AUDIT_INVALID_EVENT", issues), issues);
  }
}

/** The sealer's options failed validation. */
export class InvalidSealerOptionsError extends InvalidIssuesError {
  constructor(issues: readonly string[]) {
    super(...describe("ERR_AUDIT_INVALID_SEALER_OPTIONS", issues), issues);
  }
}

/** createAuditPlugin's options failed validation. */
export class InvalidAuditPluginOptionsError extends InvalidIssuesError {
  constructor(issues: readonly string[]) {
    super(...describe("ERR_AUDIT_PLUGIN_OPTIONS", issues), issues);
  }
}

/** Procedures whose `meta.audit` is invalid or missing, or asks for what the plugin was not given. */
export class InvalidAuditMetaError extends InvalidIssuesError {
  constructor(issues: readonly string[]) {
    super(...describe("ERR_AUDIT_META", issues), issues);
  }
}

/** A JetStream transport or ingest configuration failed validation (thrown by @auditrail/jetstream). */
export class InvalidJetStreamConfigError extends InvalidIssuesError {
  constructor(
    readonly what: string,
    issues: readonly string[],
  ) {
    super(...describe("ERR_AUDIT_INVALID_JETSTREAM_CONFIG", issues, what), issues);
  }
}

/**
 * An event larger than `maxEntryBytes` (estimated size of its JSON text); nothing was enqueued.
 * The size is where measuring stopped: measuring ends as soon as the limit is passed.
 */
export class EntryTooLargeError extends AuditrailError {
  constructor(
    readonly bytes: number,
    readonly maxEntryBytes: number,
  ) {
    super(...describe("ERR_AUDIT_ENTRY_TOO_LARGE", bytes, maxEntryBytes));
  }
}

/** `record` was called after `close` began. */
export class WriterClosedError extends AuditrailError {
  constructor() {
    super(...describe("ERR_AUDIT_WRITER_CLOSED"));
  }
}

/** The sink module named by a sink spec could not be loaded or did not export `createSink`. */
export class SinkLoadError extends AuditrailError {
  constructor(module: string, reason: string, cause?: unknown) {
    super(...describe("ERR_AUDIT_SINK_LOAD", module, reason), { cause });
  }
}

/** A sync-mode write failed after its attempts; the caller asked to wait for the row, so it fails. */
export class AuditWriteError extends AuditrailError {
  constructor(attempts: number, cause: unknown) {
    super(...describe("ERR_AUDIT_WRITE_FAILED", attempts, cause), { cause });
  }
}

/** One attempt of a sink write took longer than `writeTimeoutMs`; retryable. */
export class WriteTimeoutError extends AuditrailError {
  constructor(ms: number) {
    super(...describe("ERR_AUDIT_WRITE_TIMEOUT", ms));
  }
}

/** The attempt in progress was abandoned because the writer is stopping (see WriteControl.signal). */
export class WriteStoppedError extends AuditrailError {
  constructor() {
    super(...describe("ERR_AUDIT_WRITE_STOPPED"));
  }
}

/**
 * A sink found entries of a chained batch stored already with another link (another streamId,
 * seq or hash): another writer stored the same entry meanwhile (two ingest processes holding one
 * redelivered message). Skipping them would leave seqs in this stream that later entries link
 * through, so the sink stored nothing of the batch. Neither retryable nor poison: the entries are
 * stored; the caller takes back the batch's links, leaves `ids` out and writes the rest again
 * (see linkAndWrite). Rows identical to the entry's (a retried batch) are skipped, never this.
 */
export class EntriesStoredElsewhereError extends AuditrailError {
  constructor(readonly ids: readonly string[]) {
    super(...describe("ERR_AUDIT_STORED_ELSEWHERE", ids));
  }
}

/** A spool segment could not be read back (corrupt line); the segment is kept for inspection. */
export class SpoolCorruptError extends AuditrailError {
  constructor(file: string, line: number, cause: unknown) {
    super(...describe("ERR_AUDIT_SPOOL_CORRUPT", file, line), { cause });
  }
}

/** The compiled worker entry is missing: the package was used from source without being built. */
export class WorkerEntryMissingError extends AuditrailError {
  constructor(file: string) {
    super(...describe("ERR_AUDIT_WORKER_MISSING", file));
  }
}

/** An entry refused by the `drop` overflow policy (reported to onError, counted in stats). */
export class AuditEntryDroppedError extends AuditrailError {
  constructor(
    readonly id: string,
    capacity: number,
  ) {
    super(...describe("ERR_AUDIT_DROPPED", id, capacity));
  }
}

/** Another live process holds the spool directory's lock: one writer per spool directory. */
export class SpoolLockedError extends AuditrailError {
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(...describe("ERR_AUDIT_SPOOL_LOCKED", dir, pid));
  }
}

/**
 * record() waited for room (overflow "block") until close(), and the spill at close could not put
 * its entry on disk (disk full): the entry was not kept.
 */
export class SpillFailedError extends AuditrailError {
  constructor(cause: unknown) {
    super(...describe("ERR_AUDIT_SPILL_FAILED", cause), { cause });
  }
}

/** A batch whose worker thread died (out of memory, crashed) without answering. */
export class WorkerDiedError extends AuditrailError {
  constructor(cause: unknown) {
    super(...describe("ERR_AUDIT_WORKER_DIED", cause), { cause });
  }
}

/** A Merkle log state or proof request that does not fit its log (wrong size, count or hash). */
export class MerkleProofError extends AuditrailError {
  constructor(message: string) {
    super(...describe("ERR_AUDIT_MERKLE", message));
  }
}

/** A seal's text is not in the seal format (see seal.ts); `reason` says where. */
export class SealFormatError extends AuditrailError {
  constructor(readonly reason: string) {
    super(...describe("ERR_AUDIT_SEAL_FORMAT", reason));
  }
}

/** No signature on the seal verifies with the given public key (forged, altered, or another key). */
export class SealSignatureError extends AuditrailError {
  constructor(reason: string) {
    super(...describe("ERR_AUDIT_SEAL_SIGNATURE", reason));
  }
}

/** A seal key could not be read or is not an Ed25519 key of the expected kind. */
export class SealKeyError extends AuditrailError {
  constructor(source: string, reason: string, cause?: unknown) {
    super(...describe("ERR_AUDIT_SEAL_KEY", source, reason), { cause });
  }
}

/** An anchor directory is unusable or holds something that does not continue the trail. */
export class AnchorError extends AuditrailError {
  constructor(dir: string, reason: string, cause?: unknown) {
    super(...describe("ERR_AUDIT_ANCHOR", dir, reason), { cause });
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
    super(...describe("ERR_AUDIT_WITNESS", reason, refused), { cause });
  }
}

/** A redaction rule that is not a field name or dotted path. */
export class InvalidRedactionRuleError extends AuditrailError {
  constructor(rule: unknown, reason: string) {
    super(...describe("ERR_AUDIT_INVALID_REDACTION", rule, reason));
  }
}

/** A procedure used the tRPC plugin in a way its configuration does not allow (found at call time). */
export class AuditConfigError extends AuditrailError {
  constructor(path: string, reason: string) {
    super(...describe("ERR_AUDIT_CONFIG", path, reason));
  }
}

/**
 * Rows read with COPY … TO STDOUT (text format) that are not what PostgreSQL writes there: a line
 * with another number of fields, an escape COPY TO never writes, data after the last line break.
 */
export class CopyTextError extends AuditrailError {
  constructor(reason: string) {
    super(...describe("ERR_AUDIT_COPY_TEXT", reason));
  }
}

/** One line of text for any thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
