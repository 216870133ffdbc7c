// Retention purge of DATABASE_URL (default: the embedded SQLite file): deletes audit entries older
// than --older-than-days (at least 30) through the controlled path, records the purge, and signs
// the streams' new starts in a seal (AUDIT_SEAL_KEY_FILE, AUDIT_ANCHOR_DIR, AUDIT_TRAIL as the API
// uses them). One process seals a trail: with the API running, purge through audit.purge instead.
//   pnpm --filter @auditrail/api audit:purge -- --older-than-days 2190 --reason "retention: 6 years"
import { parseArgs } from "node:util";
import { createDatabase, databaseUrlFromEnv, purgeAuditEntries, redactUrl } from "@auditrail/db";
import { prismaSinkSpec } from "@auditrail/db/sink";
import { MINIMUM_RETENTION_DAYS } from "../src/routers/audit.ts";
import { openSealing, sealEnvOf } from "../src/sealing.ts";

const { values } = parseArgs({ options: { "older-than-days": { type: "string" }, reason: { type: "string" } } });
const days = Number(values["older-than-days"]);
if (!Number.isInteger(days) || days < MINIMUM_RETENTION_DAYS || !values.reason) {
  console.error(`usage: audit:purge --older-than-days <N ≥ ${MINIMUM_RETENTION_DAYS}> --reason "<why>"`);
  process.exit(2);
}
const url = databaseUrlFromEnv();
const sealing = await openSealing(sealEnvOf(process.env), url, prismaSinkSpec({ url }), (err) => console.error(`sealer: ${err.message}`));
const db = createDatabase(url);
try {
  const olderThan = new Date(Date.now() - days * 86_400_000);
  const report = await purgeAuditEntries(db, { olderThan, reason: values.reason, actor: { id: "cli", role: "admin" } });
  const signed = report.streams.length > 0 ? await sealing.sealer.notePurge(report.streams) : await sealing.sealer.seal();
  console.log(`${redactUrl(url)}: purged ${report.deleted} entries older than ${olderThan.toISOString()} (purge entry ${report.entryId}${signed ? `, signed in seal ${signed.seal.trail}#${signed.seal.number}` : ""}).`);
} finally {
  await db.close();
  await sealing.close();
}
