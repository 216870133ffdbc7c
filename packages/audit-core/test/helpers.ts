/** Shared test helpers: temp dirs, sink report listeners, events, and writer clean-up. */
import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BroadcastChannel } from "node:worker_threads";
import type { AuditWriter } from "../src/writer-contract.ts";
import type { AuditEntry, AuditEvent } from "../src/event.ts";
import type { DeadLetter } from "../src/sink.ts";
import type { SinkReport } from "../src/testing.ts";

/** Listens on a fresh, uniquely named BroadcastChannel to what MemorySinks (in any thread) report. */
export class SinkReports {
  readonly name = `audit-core-test-${randomUUID()}`;
  readonly reports: SinkReport[] = [];
  private readonly channel = new BroadcastChannel(this.name);

  constructor() {
    this.channel.onmessage = (message) => {
      this.reports.push((message as { data: SinkReport }).data);
    };
  }

  get attempts(): Extract<SinkReport, { type: "attempt" }>[] {
    return this.reports.filter((r): r is Extract<SinkReport, { type: "attempt" }> => r.type === "attempt");
  }

  /** Every id reported in a successful write, once per write that carried it. */
  get writtenIds(): string[] {
    return this.attempts.filter((a) => a.ok).flatMap((a) => a.ids);
  }

  get failedAttempts(): Extract<SinkReport, { type: "attempt" }>[] {
    return this.attempts.filter((a) => !a.ok);
  }

  /** Every entry a successful write carried (MemorySink option reportEntries). */
  get writtenEntries(): AuditEntry[] {
    return this.attempts.filter((a) => a.ok).flatMap((a) => a.entries ?? []);
  }

  /** Seals stored through storeSeal, in the order stored. */
  get seals(): Extract<SinkReport, { type: "seal" }>[] {
    return this.reports.filter((r): r is Extract<SinkReport, { type: "seal" }> => r.type === "seal");
  }

  get deadLetters(): DeadLetter[] {
    return this.reports.flatMap((r) => (r.type === "deadLetter" ? r.letters : []));
  }

  close(): void {
    this.channel.close();
  }
}

export function auditEvent(i: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return { action: "patient.update", entity: "Patient", entityId: `p-${i}`, ...overrides };
}

/** Collects temp dirs, report listeners and writers made by a test, and disposes of them all. */
export class Cleanup {
  private readonly dirs: string[] = [];
  private readonly listeners: SinkReports[] = [];
  private readonly writers: AuditWriter[] = [];

  async tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "audit-core-"));
    this.dirs.push(dir);
    return dir;
  }

  reports(): SinkReports {
    const reports = new SinkReports();
    this.listeners.push(reports);
    return reports;
  }

  writer<W extends AuditWriter>(writer: W): W {
    this.writers.push(writer);
    return writer;
  }

  async run(): Promise<void> {
    await Promise.all(this.writers.splice(0).map((w) => w.close({ deadlineMs: 200 })));
    for (const l of this.listeners.splice(0)) l.close();
    await Promise.all(this.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** Spool segment files in `dir`. */
export async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => /^segment-\d{16}\.ndjson$/.test(name)).sort();
}

/** Counts how often each value occurs. */
export function counts(values: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A clock whose time and timers move only when the test says so (the sealer's `clock` option). */
export class ManualClock {
  time = Date.parse("2026-12-01T06:00:00.000Z");
  private timers: Array<{ at: number; fn: () => void }> = [];

  now = (): number => this.time;

  schedule = (fn: () => void, ms: number): (() => void) => {
    const timer = { at: this.time + ms, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  };

  /** Moves time on and fires every timer now due. */
  advance(ms: number): void {
    this.time += ms;
    const due = this.timers.filter((t) => t.at <= this.time);
    this.timers = this.timers.filter((t) => t.at > this.time);
    for (const t of due) t.fn();
  }

  get pending(): number {
    return this.timers.length;
  }
}
