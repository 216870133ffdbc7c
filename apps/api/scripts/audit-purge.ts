// Retention purge of DATABASE_URL (default: the embedded SQLite file): deletes audit entries older
// than --older-than-days (at least 30) through the controlled path, and records the purge.
//   pnpm --filter @auditrail/api audit:purge -- --older-than-days 2190 --reason "retention: 6 years"
import { parseArgs } from "node:util";
import { createDatabase, databaseUrlFromEnv, purgeAuditEntries, redactUrl } from "@auditrail/db";
import { MINIMUM_RETENTION_DAYS } from "../src/routers/audit.ts";

const { values } = parseArgs({ options: { "older-than-days": { type: "string" }, reason: { type: "string" } } });
const days = Number(values["older-than-days"]);
if (!Number.isInteger(days) || days < MINIMUM_RETENTION_DAYS || !values.reason) {
  console.error(`usage: audit:purge --older-than-days <N ≥ ${MINIMUM_RETENTION_DAYS}> --reason "<why>"`);
  process.exit(2);
}
const url = databaseUrlFromEnv();
const db = createDatabase(url);
try {
  const olderThan = new Date(Date.now() - days * 86_400_000);
  const report = await purgeAuditEntries(db, { olderThan, reason: values.reason, actor: { id: "cli", role: "admin" } });
  console.log(`${redactUrl(url)}: purged ${report.deleted} entries older than ${olderThan.toISOString()} (purge entry ${report.entryId}).`);
} finally {
  await db.close();
}
