/**
 * @auditrail/db — the data layer: the client factory over SQLite or PostgreSQL, URL handling,
 * password hashing for staff, and the demo seed. The audit sink is its own entry,
 * `@auditrail/db/sink`, because workers load it by module name.
 */
export { createDatabase } from "./client.ts";
export type { Database, DatabaseHandle, DatabaseOptions, Transaction } from "./client.ts";
// Row types and query-argument types, from the client the app codes against (see client.ts).
export type {
  Appointment,
  AuditEntry as AuditEntryRow,
  DentalRecord,
  DentalRecordAmendment,
  Patient,
  Prisma,
  Session,
  User,
} from "./generated/sqlite/client.ts";
export { checkedInMigrations, pendingMigrations } from "./migrations.ts";
export { hashPassword, verifyPassword } from "./password.ts";
export { purgeAuditEntries } from "./retention.ts";
export { sqlitePath, sqliteTime } from "./sqlite-sink.ts";
export type { PurgeOptions, PurgeReport } from "./retention.ts";
export { VERIFY_HEAP_MB, verifyAuditTrail } from "./verify.ts";
export type { BreakKind, PurgeRecord, TrailBreak, TrailReport, VerifyTrailOptions } from "./verify.ts";
export { verifyOffThread } from "./verify-thread.ts";
export type { VerifyJob } from "./verify-thread.ts";
export { AnchorReadError, anchoredSealTexts, readAnchoredSeals } from "./anchors.ts";
export type { AnchorSources } from "./anchors.ts";
export { databaseStreamSource } from "./db-stream.ts";
export type { DatabaseStreamSource } from "./db-stream.ts";
export { openSealer, sealKeyFile } from "./sealing.ts";
export type { OpenSealerOptions, OpenedSealer, SealSettings } from "./sealing.ts";
export { ProofUnavailableError, buildEntryProof } from "./proof.ts";
export { PurgeGapError } from "./retention.ts";
export { ExportFormatError, verifyExportFile } from "./export-verify.ts";
export { DEAD_LETTER_LINE_KEY, deadLetterLines } from "./export-lines.ts";
export { AUDIT_COLUMNS, AUDIT_COLUMN_KINDS } from "./audit-rows.ts";
export { DEMO_STAFF, patientSearchKey, seedDemoData } from "./seed.ts";
export type { SeedReport } from "./seed.ts";
export {
  PROVIDERS,
  UnsupportedDatabaseUrlError,
  databaseUrlFromEnv,
  defaultDatabaseUrl,
  providerOf,
  redactUrl,
} from "./url.ts";
export type { Provider } from "./url.ts";
