/**
 * The writer's options: one schema, every default stated here, validated once at construction.
 * Anything wrong becomes an InvalidOptionsError listing every problem.
 */
import { resolve } from "node:path";
import { z } from "zod";
import { InvalidOptionsError, formatIssues } from "./errors.ts";
import { DEFAULT_MAX_ENTRY_BYTES } from "./event.ts";
import type { StreamSealer } from "./writer/sealer.ts";

const int = (min: number, max: number) => z.number().int().min(min).max(max);

export const AuditWriterOptionsSchema = z.strictObject({
  /** The sink: a module exporting createSink(options), and those options (structured-cloneable). */
  sink: z.strictObject({
    module: z.string().min(1),
    options: z.record(z.string(), z.unknown()).optional(),
  }),
  /**
   * async (default): record() appends the entry to the spool and queues it; its receipt resolves
   * once the append is written (to the kernel's page cache, no fsync: survives kill -9, not power
   * loss); workers write in batches, and a spool segment is deleted once every entry in it is written.
   * sync: record() resolves once the row is committed (the main thread writes, one row a call).
   * durable: record() resolves once the entry is fsynced to the spool; workers write as in async.
   */
  mode: z.enum(["async", "sync", "durable"]).default("async"),
  /** Worker threads writing batches (the origin's max_workers). */
  maxWorkers: int(1, 64).default(2),
  /** Entries queued + in flight before the overflow policy applies. */
  maxQueueSize: int(1, 10_000_000).default(10_000),
  /**
   * When the queue is full: block (record() waits for room), spill (to the spool on disk; replayed
   * as room frees), or drop (counted in stats().dropped and reported to onError; never silent).
   */
  overflow: z.enum(["block", "spill", "drop"]).default("spill"),
  /**
   * A batch is sent when it has maxBatchSize entries or its oldest entry waited maxBatchWaitMs.
   * Below maxBatchSize entries per maxBatchWaitMs, every batch costs a worker hand-off, a round
   * trip and a commit whatever its size: 100 ms makes an API at a few hundred calls a second send
   * tens of entries a batch, not a handful (the writer's CPU per entry fell ~3× against 20 ms,
   * apps/bench/RESULTS.md). An entry is crash-safe in the spool meanwhile; flush() and close()
   * do not wait for the age.
   */
  maxBatchSize: int(1, 10_000).default(500),
  maxBatchWaitMs: int(0, 60_000).default(100),
  retry: z
    .strictObject({
      initialDelayMs: int(1, 60_000).default(50),
      maxDelayMs: int(1, 600_000).default(5_000),
      multiplier: z.number().min(1).max(10).default(2),
      /** Attempts per write in sync mode; async and durable retry retryable errors until written. */
      syncMaxAttempts: int(1, 100).default(3),
      /** Attempts at an error no rule recognises before it is treated as poison. */
      unknownErrorAttempts: int(1, 100).default(5),
      /** One sink write taking longer fails (retryably) as a timeout. */
      writeTimeoutMs: int(1, 600_000).default(10_000),
    })
    .prefault({}),
  /** Where spool segments and the dead-letter fallback file live (resolved from the cwd). */
  spoolDir: z.string().min(1).default(".auditrail/spool"),
  /** Entries per spool segment before a new one starts. */
  segmentMaxEntries: int(1, 1_000_000).default(10_000),
  /**
   * The most an entry may weigh: an estimate of its JSON text in UTF-8 bytes, measured in
   * record() with an early exit (a 12 MB payload costs about what a payload of the limit does).
   */
  maxEntryBytes: int(4_096, 64 * 1024 * 1024).default(DEFAULT_MAX_ENTRY_BYTES),
  /**
   * An entry over maxEntryBytes: reject (record() rejects with EntryTooLargeError) or truncate
   * (its JSON fields that do not fit are replaced by `{ "$truncated": { maxEntryBytes } }`).
   */
  oversize: z.enum(["reject", "truncate"]).default("reject"),
  /**
   * Tamper evidence: the process's sealer (`Sealer.open`, writer/sealer.ts), shared by its
   * writers. Each writer reports its streams' Merkle logs to it after every write and has it seal
   * at close. Without one, entries are chained but nothing is sealed.
   */
  sealer: z
    .custom<StreamSealer>(
      (v) =>
        typeof v === "object" &&
        v !== null &&
        typeof (v as StreamSealer).report === "function" &&
        typeof (v as StreamSealer).seal === "function",
      "a Sealer (Sealer.open)",
    )
    .optional(),
  /** close() default deadline: drain until then, spill what is left (returns within it + CLOSE_MARGIN_MS). */
  closeDeadlineMs: int(0, 600_000).default(10_000),
  /**
   * Called with errors the writer handled (dropped entries, worker failures, unreadable spool
   * lines, dead-letter file failures). Without it they go to process.emitWarning (at most one per
   * error code every 10 s) — never nowhere; either way stats().errors counts them. In async mode
   * record() rejects only for an invalid or oversized event, after close(), or when the disk
   * refuses the entry.
   */
  onError: z.custom<(error: Error) => void>((v) => typeof v === "function").optional(),
});

export type AuditWriterOptions = z.input<typeof AuditWriterOptionsSchema>;
export type ResolvedOptions = z.output<typeof AuditWriterOptionsSchema>;

export function parseOptions(input: unknown): ResolvedOptions {
  const parsed = AuditWriterOptionsSchema.safeParse(input);
  if (!parsed.success) {
    throw new InvalidOptionsError(formatIssues(parsed.error.issues, "(options)"));
  }
  const options = parsed.data;
  if (options.retry.maxDelayMs < options.retry.initialDelayMs) {
    throw new InvalidOptionsError(["retry.maxDelayMs: must be ≥ retry.initialDelayMs"]);
  }
  return { ...options, spoolDir: resolve(options.spoolDir) };
}
