/**
 * Step 5b, dead letters: entries the database rejected as invalid. They go to the sink's own
 * store (a table) with retry; if the sink cannot take them either, the worker hands them back and
 * the main thread appends them to `dead-letters.ndjson` in the spool folder. Either way they are
 * kept with their error, listable, and can be recorded again once the cause is fixed.
 */
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { AuditSink, DeadLetter } from "../sink.ts";
import { type RetryPolicy, type WriteControl, retryRetryable } from "./retry.ts";

/** In a worker: stores letters through the sink; returns those it could not store. */
export async function keepDeadLetters(
  sink: AuditSink,
  letters: readonly DeadLetter[],
  policy: RetryPolicy,
  control: WriteControl = {},
): Promise<DeadLetter[]> {
  if (letters.length === 0) return [];
  try {
    await retryRetryable(() => sink.deadLetter(letters), policy, control);
    return [];
  } catch {
    return [...letters];
  }
}

export const DEAD_LETTER_FILE = "dead-letters.ndjson";

/** In the main thread: the file fallback for letters no sink would take. */
export async function appendDeadLetterFile(dir: string, letters: readonly DeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  // Sync mode never opens the spool, so the folder may not exist yet.
  await mkdir(dir, { recursive: true });
  await appendFile(join(dir, DEAD_LETTER_FILE), letters.map((l) => `${JSON.stringify(l)}\n`).join(""));
}

/**
 * The letters kept in the fallback file (or `file` in `dir`), oldest first. A last line without
 * its newline was torn by a crash mid-append and is skipped, as the spool does.
 */
export async function readDeadLetterFile(dir: string, file = DEAD_LETTER_FILE): Promise<DeadLetter[]> {
  const text = await readFile(join(dir, file), "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return "";
    throw error;
  });
  const lines = text.split("\n");
  lines.pop();
  return lines.filter((line) => line !== "").map((line) => JSON.parse(line) as DeadLetter);
}
