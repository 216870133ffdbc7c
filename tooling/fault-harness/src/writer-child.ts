/**
 * The writer child process (built to dist/writer-child.js; `child.ts` spawns it). It creates an
 * audit writer from the JSON config in argv[2], drives load against it and reports on stdout, one
 * JSON line each:
 *   {"t":"ready"}                                   the writer is up (spool replayed from here on)
 *   {"t":"rec","id":"…","s":"queued"}               a record() resolved (state as in the receipt)
 *   {"t":"err","m":"…"}                             an error the writer reported to onError
 *   {"t":"closed","signal":"SIGTERM","ms":…,"report":{…}}   SIGTERM/SIGINT: closed within its deadline
 * On SIGTERM it stops the load and closes the writer (closeOnSignals: drain until the deadline,
 * spill the rest), prints the report and exits 0. SIGKILL just kills it.
 */
import { type AuditWriterOptions, closeOnSignals, createAuditWriter } from "@auditrail/audit-core";
import { type LoadOptions, startLoad } from "./load.ts";

export interface WriterChildConfig {
  /** Writer options, all plain data (no onError: errors are reported as `err` lines). */
  readonly writer: Omit<AuditWriterOptions, "onError">;
  readonly load: Pick<LoadOptions, "ratePerSec" | "concurrency">;
  /** Deadline for close() on SIGTERM (default: the writer's closeDeadlineMs). */
  readonly closeDeadlineMs?: number;
}

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? "{}") as WriterChildConfig;
  let errors = 0;
  const writer = await createAuditWriter({
    ...config.writer,
    onError: (error) => {
      // Enough to diagnose, without flooding the pipe during a long outage.
      if (errors++ < 20) print({ t: "err", m: error.message });
    },
  });
  print({ t: "ready" });
  const load = startLoad(writer, {
    ...config.load,
    onRecorded: (receipt) => print({ t: "rec", id: receipt.id, s: receipt.state }),
  });
  let signalledAt = 0;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      signalledAt = performance.now();
      void load.stop();
    });
  }
  closeOnSignals(writer, {
    ...(config.closeDeadlineMs === undefined ? {} : { deadlineMs: config.closeDeadlineMs }),
    onClosed: (report, signal) => print({ t: "closed", signal, ms: Math.round(performance.now() - signalledAt), report }),
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`writer child failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
