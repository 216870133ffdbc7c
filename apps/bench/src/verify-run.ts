/**
 * The verify case's own process (spawned by cases/verify.ts), so its peak RSS is verify's alone:
 *
 *   node verify-run.js <database url> <public key PEM file> <seal file> <walker threads>
 *
 * Prints a VerifyRunResult as one JSON line.
 */
import { readFile } from "node:fs/promises";
import { loadPublicKey } from "@auditrail/audit-core";
import { verifyAuditTrail } from "@auditrail/db/verify";

const [url, publicKeyFile, sealFile, threadsArg] = process.argv.slice(2);
const threads = Number(threadsArg);
if (!url || !publicKeyFile || !sealFile || !Number.isInteger(threads) || threads < 1) {
  console.error("usage: verify-run.js <database url> <public key PEM file> <seal file> <walker threads>");
  process.exit(2);
}
// Peak RSS, sampled: the process's maxRSS is no use here — after fork and exec Linux reports the
// parent's high-water mark (the bench process that filled the database) when it was larger.
let peakRss = process.memoryUsage.rss();
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 10);
const cpu = process.cpuUsage();
const report = await verifyAuditTrail({
  url,
  publicKey: await loadPublicKey(publicKeyFile),
  anchoredSeals: [await readFile(sealFile, "utf8")],
  threads,
});
clearInterval(sampler);
console.log(
  JSON.stringify({
    entries: report.entries,
    ok: report.ok,
    problems: report.problemCount,
    threads,
    elapsedMs: report.elapsedMs,
    cpuMs: cpuMs(),
    maxRssMb: Math.max(peakRss, process.memoryUsage.rss()) / 2 ** 20,
  }),
);
process.exit(0);

function cpuMs(): number {
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / 1000;
}
