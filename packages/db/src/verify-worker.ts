/**
 * The worker-thread entry of `verifyOffThread` (built to dist/verify-worker.js): reads the anchors,
 * walks the trail and posts the report, so a long verify never holds the API's event loop.
 */
import { parentPort, workerData } from "node:worker_threads";
import { publicKeyFromPem } from "@auditrail/audit-core";
import { anchoredSealTexts } from "./anchors.ts";
import { verifyAuditTrail } from "./verify.ts";
import type { VerifyJob } from "./verify-thread.ts";

const job = workerData as VerifyJob;
const { publicKeyPem, anchors, ...options } = job;
const report = await verifyAuditTrail({ ...options, publicKey: publicKeyFromPem(publicKeyPem), anchoredSeals: anchoredSealTexts(anchors) });
parentPort?.postMessage(report);
