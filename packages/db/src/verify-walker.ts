/**
 * A worker-thread entry of verifyAuditTrail's `threads` option (built to dist/verify-walker.js):
 * walks the streams it is dealt on a connection of its own and posts their results.
 */
import { parentPort, workerData } from "node:worker_threads";
import { type StreamJob, type WalkSettings, walkStreams } from "./verify.ts";

const { settings, jobs } = workerData as { settings: WalkSettings; jobs: StreamJob[] };
parentPort?.postMessage(await walkStreams(settings, jobs));
