/**
 * @auditrail/audit-core — the audit writer. Its one public entry; the tRPC plugin is
 * `@auditrail/audit-core/trpc`, test sinks are `@auditrail/audit-core/testing`.
 */
export { createAuditWriter } from "./audit-writer.ts";
export type { AuditMode, AuditReceipt, AuditWriter, CloseReport } from "./audit-writer.ts";
export { currentAuditContext, withAuditContext } from "./context.ts";
export type { AuditActor, AuditContext } from "./context.ts";
export {
  AuditEntryDroppedError,
  AuditrailError,
  AuditWriteError,
  EntryTooLargeError,
  InvalidAuditEventError,
  InvalidOptionsError,
  SinkLoadError,
  SpoolCorruptError,
  SpoolLockedError,
  WorkerDiedError,
  WorkerEntryMissingError,
  WriterClosedError,
  messageOf,
} from "./errors.ts";
export { CHECKPOINT_ACTION, ChainStream, PURGE_ACTION, canonicalJson, chainHash, verifyChain } from "./chain.ts";
export type { ChainLink, ChainProblem, ChainedEntry, PurgeStart, TamperKind, VerifyInput, VerifyReport } from "./chain.ts";
export { AuditEntrySchema, AuditEventSchema, DEFAULT_MAX_ENTRY_BYTES, normalizeText, stampEvent } from "./event.ts";
export type { AuditEntry, AuditEvent, EntryLimits } from "./event.ts";
export { LatencyWindow, prometheusText } from "./metrics.ts";
export type { LatencySummary, WriterStats } from "./metrics.ts";
export type { AuditWriterOptions } from "./options.ts";
export { classifyError } from "./writer/retry.ts";
export type { AuditSink, CreateSink, DeadLetter, ErrorKind, SinkOptions, SinkSpec } from "./sink.ts";
export { DEAD_LETTER_FILE, readDeadLetterFile } from "./writer/dead-letter.ts";
export { CLOSE_MARGIN_MS, closeOnSignals } from "./writer/shutdown.ts";
export type { SignalOptions } from "./writer/shutdown.ts";
export { uuidv7 } from "./id.ts";
