/**
 * Sinks for tests (`@auditrail/audit-core/testing`): an in-memory sink with fault injection, usable
 * in the main thread directly and in workers through `memorySinkSpec`. In workers its state is
 * invisible to the test, so it reports every attempt on a BroadcastChannel the test listens to.
 */
import { BroadcastChannel } from "node:worker_threads";
import { z } from "zod";
import type { AuditEntry } from "./event.ts";
import type { AuditSink, DeadLetter, SinkOptions, SinkSpec } from "./sink.ts";

export const MemorySinkOptionsSchema = z.strictObject({
  /** BroadcastChannel name on which every attempt and dead letter is reported. */
  channel: z.string().optional(),
  /** The first N write calls fail with a retryable error (ECONNREFUSED). */
  failFirst: z.number().int().min(0).default(0),
  /** The first N write calls (after failFirst) never settle, as a hung connection does. */
  hangFirst: z.number().int().min(0).default(0),
  /** A write containing an entry with this action fails as a constraint violation (poison). */
  poisonAction: z.string().optional(),
  /** Every write takes this long. */
  latencyMs: z.number().min(0).default(0),
  /** deadLetter() fails with a non-retryable error (so letters fall back to the writer's file). */
  rejectDeadLetters: z.boolean().default(false),
  /** Acts as a transport (AuditSink.forwards): the writer hands it entries unlinked. */
  forwards: z.boolean().default(false),
});

export type MemorySinkOptions = z.input<typeof MemorySinkOptionsSchema>;

/** What a MemorySink reports on its channel. */
export type SinkReport =
  | { type: "attempt"; ids: string[]; ok: boolean; at: number; error?: string; linked?: boolean }
  | { type: "deadLetter"; letters: DeadLetter[] };

export class MemorySink implements AuditSink {
  readonly rows = new Map<string, AuditEntry>();
  readonly deadLetters = new Map<string, DeadLetter>();
  writes = 0;
  readonly forwards: boolean;
  private readonly options: z.output<typeof MemorySinkOptionsSchema>;
  private readonly channel: BroadcastChannel | undefined;

  constructor(options: MemorySinkOptions = {}) {
    this.options = MemorySinkOptionsSchema.parse(options);
    this.forwards = this.options.forwards;
    this.channel = this.options.channel ? new BroadcastChannel(this.options.channel) : undefined;
  }

  async write(entries: readonly AuditEntry[]): Promise<void> {
    const call = ++this.writes;
    const { failFirst, hangFirst, poisonAction, latencyMs } = this.options;
    const ids = entries.map((e) => e.id);
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
    if (call <= failFirst) return this.fail(ids, Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }));
    if (call <= failFirst + hangFirst) return new Promise<void>(() => undefined);
    const poison = poisonAction === undefined ? undefined : entries.find((e) => e.action === poisonAction);
    if (poison) {
      return this.fail(ids, Object.assign(new Error(`check constraint violated by entry ${poison.id}`), { code: "23514" }));
    }
    for (const entry of entries) if (!this.rows.has(entry.id)) this.rows.set(entry.id, entry);
    this.post({ type: "attempt", ids, ok: true, at: Date.now(), linked: entries.every((e) => "hash" in e) });
  }

  async existing(ids: readonly string[]): Promise<ReadonlySet<string>> {
    return new Set(ids.filter((id) => this.rows.has(id)));
  }

  async deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    if (this.options.rejectDeadLetters) throw Object.assign(new Error("dead-letter table missing"), { code: "42P01" });
    for (const letter of letters) this.deadLetters.set(letter.entry.id, letter);
    this.post({ type: "deadLetter", letters: [...letters] });
  }

  async close(): Promise<void> {
    this.channel?.close();
  }

  private fail(ids: string[], error: Error & { code: string }): Promise<never> {
    this.post({ type: "attempt", ids, ok: false, at: Date.now(), error: error.code });
    return Promise.reject(error);
  }

  private post(report: SinkReport): void {
    this.channel?.postMessage(report);
  }
}

/** The module entry workers call. */
export function createSink(options: SinkOptions): AuditSink {
  return new MemorySink(options as MemorySinkOptions);
}

/** A sink spec naming this module's built file, for writers whose workers need a MemorySink. */
export function memorySinkSpec(options: MemorySinkOptions = {}): SinkSpec {
  // From src/ (tests) and from dist/ alike this names the built file, which workers can load.
  return { module: new URL("../dist/testing.js", import.meta.url).href, options };
}
