// Retention purge of DATABASE_URL (default: the embedded SQLite file): deletes audit entries older
// than --older-than-days (at least 30) through the controlled path, records the purge, and signs
// the streams' new starts in a seal (AUDIT_SEAL_KEY_FILE, AUDIT_ANCHOR_DIR, AUDIT_TRAIL: the API's
// settings, read by its config.ts). One process seals a trail: with the API running, purge through audit.purge instead.
//   pnpm --filter @auditrail/api audit:purge -- --older-than-days 2190 --reason "retention: 6 years"
import { parseArgs } from "node:util";
import { scriptArgs } from "./args.ts";
import { messageOf } from "@auditrail/audit-core";
import { createDatabase, purgeAuditEntries, redactUrl } from "@auditrail/db";
import { type Config, ConfigError, loadConfig } from "../src/config.ts";
import { MINIMUM_RETENTION_DAYS } from "../src/routers/audit.ts";
import { openSealing } from "../src/sealing.ts";
import { RETRY_LIMITS, retryConflicts } from "../src/transact.ts";

const USAGE = `usage: audit:purge -- --older-than-days <N ≥ ${MINIMUM_RETENTION_DAYS}> [--reason "<why>"]

Deletes the audit entries of DATABASE_URL (default: the embedded SQLite file) older than N days,
through the controlled path (whole chain prefixes, one transaction), and records the purge as an
audit entry with the reason (default: "retention: older than N days"). While the audit writers
hold the database it retries for up to ${RETRY_LIMITS.budgetMs / 1000} s.`;

const args = scriptArgs();
let values: { "older-than-days"?: string | undefined; reason?: string | undefined; help?: boolean | undefined };
try {
  ({ values } = parseArgs({
    args,
    options: { "older-than-days": { type: "string" }, reason: { type: "string" }, help: { type: "boolean", short: "h" } },
  }));
} catch (error) {
  console.error(`${messageOf(error)}\n\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const days = Number(values["older-than-days"]);
if (!Number.isInteger(days) || days < MINIMUM_RETENTION_DAYS || values.reason === "") {
  console.error(USAGE);
  process.exit(2);
}
const reason = values.reason ?? `retention: older than ${days} days`;
let config: Config;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`audit:purge: ${error.message}`);
  process.exit(2);
}
const url = config.databaseUrl;
const sealing = await openSealing(config.seal, url, (err) => console.error(`sealer: ${err.message}`));
const db = createDatabase(url);
try {
  const olderThan = new Date(Date.now() - days * 86_400_000);
  const report = await retryConflicts(
    () => purgeAuditEntries(db, { olderThan, reason, actor: { id: "cli", role: "admin" } }),
    RETRY_LIMITS,
    "The purge",
  );
  const signed = report.streams.length > 0 ? await sealing.sealer.notePurge(report.streams) : await sealing.sealer.seal();
  console.log(
    `${redactUrl(url)}: purged ${report.deleted} entries older than ${olderThan.toISOString()} (purge entry ${report.entryId}${signed ? `, signed in seal ${signed.seal.trail}#${signed.seal.number}` : ""}).`,
  );
} catch (error) {
  console.error(`audit:purge failed: ${messageOf(error)}`);
  process.exitCode = 1;
} finally {
  await db.close();
  await sealing.close();
}
