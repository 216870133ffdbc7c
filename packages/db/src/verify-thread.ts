/**
 * Verify off the event loop: `verifyOffThread` runs verifyAuditTrail in a worker thread of its own
 * (the built dist/verify-worker.js) and resolves with its report — what `audit.verify` uses, so
 * the API keeps answering (health checks included) while a million rows are walked.
 */
import { Worker } from "node:worker_threads";
import type { AnchorSources } from "./anchors.ts";
import { type TrailReport, VERIFY_HEAP_MB, type VerifyTrailOptions } from "./verify.ts";

/** What the worker is given: structured-cloneable (the key as PEM text). */
export interface VerifyJob extends Omit<VerifyTrailOptions, "publicKey" | "anchoredSeals"> {
  readonly publicKeyPem: string;
  readonly anchors: AnchorSources;
}

/** Resolves from src/ (tests, tsx) and from dist/ alike: worker threads need built JS. */
const WORKER = new URL("../dist/verify-worker.js", import.meta.url);

export function verifyOffThread(job: VerifyJob): Promise<TrailReport> {
  return new Promise((resolve, reject) => {
    // A bounded heap: the walk keeps one page at a time, so it needs little, and the API's
    // process must not grow by whatever a lazy collector would let a long walk accumulate.
    const worker = new Worker(WORKER, { workerData: job, resourceLimits: { maxOldGenerationSizeMb: VERIFY_HEAP_MB } });
    let report: TrailReport | undefined;
    worker.once("message", (message: TrailReport) => {
      report = message;
    });
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (report) resolve(report);
      else reject(new Error(`the verify worker exited with code ${code} before reporting`));
    });
  });
}
