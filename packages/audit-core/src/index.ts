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
  InvalidAuditEventError,
  InvalidOptionsError,
  SinkLoadError,
  SpoolCorruptError,
  WorkerEntryMissingError,
  WriterClosedError,
  messageOf,
} from "./errors.ts";
export { CHECKPOINT_ACTION, ChainStream, PURGE_ACTION, canonicalJson, chainHash, verifyChain } from "./chain.ts";
export type { ChainLink, ChainProblem, ChainedEntry, PurgeStart, TamperKind, VerifyInput, VerifyReport } from "./chain.ts";
export { AuditEntrySchema, AuditEventSchema, stampEvent } from "./event.ts";
export type { AuditEntry, AuditEvent } from "./event.ts";
export { LatencyWindow, prometheusText } from "./metrics.ts";
export type { LatencySummary, WriterStats } from "./metrics.ts";
export type { AuditWriterOptions } from "./options.ts";
export { classifyError, retryRetryable, writeWithRetry } from "./writer/retry.ts";
export type { RetryPolicy, WriteControl, WriteOutcome } from "./writer/retry.ts";
export type { AuditSink, CreateSink, DeadLetter, ErrorKind, SinkOptions, SinkSpec } from "./sink.ts";
export { appendDeadLetterFile, keepDeadLetters, readDeadLetterFile } from "./writer/dead-letter.ts";
export { closeOnSignals } from "./writer/shutdown.ts";
export type { SignalOptions } from "./writer/shutdown.ts";
export { uuidv7 } from "./id.ts";
