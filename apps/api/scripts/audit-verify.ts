// Verifies the audit trail's hash chains in DATABASE_URL (default: the embedded SQLite file).
// Prints OK, or each chain's first broken link with the kind of tampering; exits 1 if broken.
//   pnpm --filter @auditrail/api audit:verify
import { createDatabase, databaseUrlFromEnv, redactUrl, verifyAuditTrail } from "@auditrail/db";

const url = databaseUrlFromEnv();
const db = createDatabase(url);
try {
  const report = await verifyAuditTrail(db);
  console.log(`${redactUrl(url)}: ${report.entries} chained entries in ${report.streams} chain(s).`);
  if (report.ok) {
    console.log("OK: every chain is intact.");
  } else {
    for (const p of report.problems) {
      console.log(`BROKEN (${p.kind}) chain ${p.streamId} at seq ${p.seq}${p.id ? ` (entry ${p.id})` : ""}: ${p.detail}`);
    }
    process.exitCode = 1;
  }
} finally {
  await db.close();
}
