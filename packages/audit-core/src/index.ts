/**
 * @auditrail/audit-core — the audit writer. Its one public entry; the tRPC plugin is
 * `@auditrail/audit-core/trpc`, test sinks are `@auditrail/audit-core/testing`.
 */
export { createAuditWriter } from "./audit-writer.ts";
export type { AuditMode, AuditReceipt, AuditWriter, CloseReport } from "./writer-contract.ts";
export { currentAuditContext, withAuditContext } from "./context.ts";
export type { AuditActor, AuditContext } from "./context.ts";
export {
  AuditEntryDroppedError,
  AuditrailError,
  AuditWriteError,
  AnchorError,
  EntryTooLargeError,
  InvalidAuditEventError,
  InvalidIssuesError,
  InvalidJetStreamConfigError,
  InvalidOptionsError,
  InvalidSealerOptionsError,
  MerkleProofError,
  SealFormatError,
  SealKeyError,
  SealSignatureError,
  WitnessError,
  SinkLoadError,
  SpillFailedError,
  SpoolCorruptError,
  SpoolLockedError,
  WorkerDiedError,
  WorkerEntryMissingError,
  WriteStoppedError,
  EntriesStoredElsewhereError,
  CopyTextError,
  WriteTimeoutError,
  WriterClosedError,
  formatIssues,
  messageOf,
} from "./errors.ts";
export type { AuditErrorCode, IssueLike } from "./errors.ts";
export { canonicalJson } from "./canonical.ts";
export { ChainStream, PURGE_ACTION, chainHash, chainHashOfJsonText, verifyChain } from "./chain.ts";
export type {
  ChainLink,
  ChainProblem,
  ChainedEntry,
  EntryWithJsonText,
  PurgeStart,
  StreamReport,
  TamperKind,
  VerifyInput,
  VerifyReport,
} from "./chain.ts";
export {
  EMPTY_ROOT,
  MerkleLog,
  consistencyPathFrom,
  consistencyProof,
  consistencyRanges,
  entryLeaf,
  entryLeafHex,
  frontierLength,
  frontierNode,
  hashFromHex,
  inclusionPathFrom,
  inclusionProof,
  inclusionRanges,
  leafHash,
  nodeHash,
  rangeRoot,
  rootOf,
  subtreeHash,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.ts";
export type { LeafRange, LeafSource, MerkleState } from "./merkle.ts";
export {
  EntryProofSchema,
  STREAM_ID,
  TRAIL_NAME,
  cosignSeal,
  generateSealKeyPair,
  keyId,
  loadPublicKey,
  loadSigningKey,
  parseSeal,
  publicKeyFromPem,
  sealBody,
  sealHash,
  signSeal,
  signingKeyFromPem,
  verifyProof,
  verifySeal,
} from "./seal.ts";
export type { EntryProof, ProofVerdict, Seal, SealSignature, SealSigner, SignedSeal, StreamHead } from "./seal.ts";
export { DirectoryAnchor } from "./anchor.ts";
export type { ConsistencyProofs } from "./anchor.ts";
export { WitnessClient, checkSuccession, startWitness } from "./witness.ts";
export type { WitnessOptions, WitnessServer } from "./witness.ts";
export { Sealer, SealerOptionsSchema } from "./writer/sealer.ts";
export type { SealerClock, SealerOptions, SealerStats, StreamSealer } from "./writer/sealer.ts";
export {
  AuditEntrySchema,
  AuditEventSchema,
  DEFAULT_MAX_ENTRY_BYTES,
  ENTRY_FIELDS,
  JSON_FIELDS,
  LIMITS,
  normalizeText,
  stampEvent,
} from "./event.ts";
export type { AuditEntry, AuditEvent, EntryLimits } from "./event.ts";
export { LatencyWindow } from "./metrics.ts";
export type { LatencySummary, WriterStats } from "./metrics.ts";
export type { AuditWriterOptions } from "./options.ts";
export { classifyError, retryRetryable, writeWithRetry } from "./writer/retry.ts";
export { linkAndWrite } from "./writer/link-write.ts";
export type { LinkedWriteOutcome } from "./writer/link-write.ts";
export type { RetryPolicy, WriteControl, WriteOutcome } from "./writer/retry.ts";
export type { AuditSink, CreateSink, DeadLetter, ErrorKind, SinkOptions, SinkSpec } from "./sink.ts";
export { DEAD_LETTER_FILE, appendDeadLetterFile, keepDeadLetters, readDeadLetterFile } from "./writer/dead-letter.ts";
export { CLOSE_MARGIN_MS, CLOSE_STOP_WAIT_MS, closeOnSignals } from "./writer/shutdown.ts";
export type { SignalOptions } from "./writer/shutdown.ts";
export { uuidv7 } from "./id.ts";
