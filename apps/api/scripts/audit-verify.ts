// Verifies the audit trail against the signed seals kept outside the database. The public key and
// the anchors are given here, never read from the database. Exits 0 when OK, 1 on any break, 2 on
// bad usage.
//   audit:verify --public-key FILE --anchors DIR [--witness URL] [--max-problems N] [--grace-ms N] [--threads N]
//       the database in DATABASE_URL (default: the embedded SQLite file); streams walked by N
//       worker threads side by side (default: one per core)
//   audit:verify --export FILE --anchors DIR --public-key FILE     an NDJSON export, offline
//   audit:verify --proof FILE --public-key FILE                     one entry's proof (audit.proof), offline
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { scriptArgs } from "./args.ts";
import { EntryProofSchema, formatIssues, loadPublicKey, messageOf, verifyProof } from "@auditrail/audit-core";
import { type TrailReport, anchoredSealTexts, databaseUrlFromEnv, redactUrl, verifyAuditTrail, verifyExportFile } from "@auditrail/db";

const USAGE = `usage:
  audit:verify --public-key FILE --anchors DIR [--witness URL] [--max-problems N] [--grace-ms N] [--threads N]
  audit:verify --export FILE --anchors DIR --public-key FILE
  audit:verify --proof FILE --public-key FILE`;

const { values } = parseArgs({
  args: scriptArgs(),
  options: {
    "public-key": { type: "string" },
    anchors: { type: "string" },
    witness: { type: "string" },
    proof: { type: "string" },
    export: { type: "string" },
    "max-problems": { type: "string", default: "100" },
    "grace-ms": { type: "string", default: "60000" },
    threads: { type: "string", default: String(availableParallelism()) },
  },
});
const maxProblems = Number(values["max-problems"]);
const graceMs = Number(values["grace-ms"]);
const threads = Number(values.threads);
if (
  !values["public-key"] ||
  (!values.proof && !values.anchors) ||
  !(maxProblems >= 1) ||
  !(graceMs >= 0) ||
  !Number.isInteger(threads) ||
  threads < 1
) {
  console.error(USAGE);
  process.exit(2);
}

try {
  const publicKey = await loadPublicKey(values["public-key"]);
  if (values.proof) {
    const parsed = EntryProofSchema.safeParse(JSON.parse(await readFile(values.proof, "utf8")));
    if (!parsed.success)
      throw new Error(`${values.proof} is not an entry proof: ${formatIssues(parsed.error.issues, "(proof)").join("; ")}`);
    const verdict = verifyProof(parsed.data, publicKey);
    if (verdict.ok) {
      console.log(
        `OK: entry ${parsed.data.entry.id} is seq ${parsed.data.entry.seq} of stream ${verdict.stream.streamId}, in seal ${verdict.seal.trail}#${verdict.seal.number} (${verdict.seal.time}) signed by this key.`,
      );
    } else {
      console.log(`BROKEN: ${verdict.reason}`);
      process.exitCode = 1;
    }
  } else {
    // Read one at a time as verify goes: a seal a second is millions of files over the years.
    const anchoredSeals = anchoredSealTexts({ dir: values.anchors as string, witnessUrl: values.witness });
    const options = { publicKey, anchoredSeals, maxProblems, graceMs, threads };
    const source = values.export ?? redactUrl(databaseUrlFromEnv());
    const report = values.export
      ? await verifyExportFile(values.export, options)
      : await verifyAuditTrail({ ...options, url: databaseUrlFromEnv() });
    print(source, report);
    if (!report.ok) process.exitCode = 1;
  }
} catch (error) {
  console.error(`audit:verify: ${messageOf(error)}`);
  process.exitCode = 2;
}

function print(source: string, report: TrailReport): void {
  const seals = report.seals.map((s) => `${s.trail}#${s.number} (${s.time})`).join(", ") || "none";
  console.log(
    `${source}: ${report.entries} entries in ${report.streams} stream(s); newest seals: ${seals}; ${Math.round(report.elapsedMs)} ms.`,
  );
  if (report.unsealed > 0) console.log(`${report.unsealed} entries are younger than the newest seal (not covered yet).`);
  if (report.ok) {
    console.log("OK: every stream matches its signed seals.");
    return;
  }
  for (const p of report.problems) {
    const where = [p.streamId && `stream ${p.streamId}`, p.seq !== null && `seq ${p.seq}`, p.id && `(${p.id})`].filter(Boolean).join(" ");
    console.log(`BROKEN (${p.kind})${where ? ` ${where}` : ""}: ${p.detail}`);
  }
  if (report.problemCount > report.problems.length)
    console.log(`… and ${report.problemCount - report.problems.length} more (raise --max-problems).`);
}
