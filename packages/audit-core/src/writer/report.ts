/**
 * Errors the writer handled never vanish: they go to `onError` when given; otherwise to
 * process.emitWarning, at most once per error code every WARNING_INTERVAL_MS (with how many were
 * held back since), so a failing database cannot flood the log. Either way they are counted
 * (stats().errors, `auditrail_errors_total`).
 */
import { messageOf } from "../errors.ts";
import type { Counters } from "../metrics.ts";

export const WARNING_INTERVAL_MS = 10_000;

export class ErrorReporter {
  private readonly lastWarned = new Map<string, { at: number; held: number }>();

  constructor(
    private readonly counters: Counters,
    private readonly onError: ((error: Error) => void) | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  report(error: unknown): void {
    const err = error instanceof Error ? error : new Error(messageOf(error));
    this.counters.errors++;
    if (this.onError) {
      this.onError(err);
      return;
    }
    const { code: own } = err as { code?: unknown };
    const code = typeof own === "string" ? own : err.name;
    const last = this.lastWarned.get(code);
    const now = this.now();
    if (last && now - last.at < WARNING_INTERVAL_MS) {
      last.held++;
      return;
    }
    const held = last?.held ?? 0;
    this.lastWarned.set(code, { at: now, held: 0 });
    const suffix = held > 0 ? ` (${held} more like it in the last ${WARNING_INTERVAL_MS / 1000} s)` : "";
    process.emitWarning(`auditrail writer: ${err.message}${suffix}`, { type: "AuditrailWarning", code });
  }
}
