/**
 * Sinks for tests (`@auditrail/audit-core/testing`): an in-memory sink with fault injection, usable
 * in the main thread directly and in workers through `memorySinkSpec`. In workers its state is
 * invisible to the test, so it reports every attempt on a BroadcastChannel the test listens to.
 */
import { BroadcastChannel } from "node:worker_threads";
import { z } from "zod";
import type { AuditEntry } from "./event.ts";
import type { SignedSeal } from "./seal.ts";
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
  /**
   * A write containing an entry with this action crashes its worker thread (an uncaught error,
   * as a native crash or running out of memory would end it).
   */
  crashAction: z.string().optional(),
  /** The first N write calls block their thread for blockMs (a native busy wait: deaf to stop requests). */
  blockFirst: z.number().int().min(0).default(0),
  blockMs: z.number().int().min(0).default(0),
  /** deadLetter() fails with a non-retryable error (so letters fall back to the writer's file). */
  rejectDeadLetters: z.boolean().default(false),
  /** Successful attempts report the entries themselves too (with their chain links), not only ids. */
  reportEntries: z.boolean().default(false),
  /** The first N storeSeal calls fail (retryably: ECONNREFUSED). */
  failSealsFirst: z.number().int().min(0).default(0),
  /** Acts as a transport (AuditSink.forwards): the writer hands it entries unlinked. */
  forwards: z.boolean().default(false),
});

export type MemorySinkOptions = z.input<typeof MemorySinkOptionsSchema>;

/** What a MemorySink reports on its channel. */
export type SinkReport =
  | { type: "attempt"; ids: string[]; ok: boolean; at: number; error?: string; entries?: AuditEntry[]; linked?: boolean }
  | { type: "deadLetter"; letters: DeadLetter[] }
  | { type: "seal"; trail: string; number: number; text: string };

export class MemorySink implements AuditSink {
  readonly rows = new Map<string, AuditEntry>();
  readonly deadLetters = new Map<string, DeadLetter>();
  /** Stored seals by "trail:number". */
  readonly seals = new Map<string, SignedSeal>();
  writes = 0;
  private sealCalls = 0;
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
    const { failFirst, hangFirst, poisonAction, latencyMs, crashAction, blockFirst, blockMs } = this.options;
    const ids = entries.map((e) => e.id);
    if (crashAction !== undefined && entries.some((e) => e.action === crashAction)) {
      this.post({ type: "attempt", ids, ok: false, at: Date.now(), error: "CRASH" });
      setImmediate(() => {
        throw new Error(`worker crashed on an entry with action ${crashAction}`);
      });
      return new Promise<void>(() => undefined);
    }
    if (call <= blockFirst) {
      const until = Date.now() + blockMs;
      while (Date.now() < until) {
        // a thread busy in a native call: no event loop turn, no stop request heard
      }
    }
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
    if (call <= failFirst) return this.fail(ids, Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }));
    if (call <= failFirst + hangFirst) return new Promise<void>(() => undefined);
    const poison = poisonAction === undefined ? undefined : entries.find((e) => e.action === poisonAction);
    if (poison) {
      return this.fail(ids, Object.assign(new Error(`check constraint violated by entry ${poison.id}`), { code: "23514" }));
    }
    for (const entry of entries) if (!this.rows.has(entry.id)) this.rows.set(entry.id, entry);
    this.post({
      type: "attempt",
      ids,
      ok: true,
      at: Date.now(),
      linked: entries.every((e) => "hash" in e),
      ...(this.options.reportEntries ? { entries: [...entries] } : {}),
    });
  }

  async existing(ids: readonly string[]): Promise<ReadonlySet<string>> {
    return new Set(ids.filter((id) => this.rows.has(id)));
  }

  async deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    if (this.options.rejectDeadLetters) throw Object.assign(new Error("dead-letter table missing"), { code: "42P01" });
    for (const letter of letters) this.deadLetters.set(letter.entry.id, letter);
    this.post({ type: "deadLetter", letters: [...letters] });
  }

  async storeSeal(seal: SignedSeal): Promise<void> {
    if (++this.sealCalls <= this.options.failSealsFirst)
      throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    const key = `${seal.seal.trail}:${seal.seal.number}`;
    if (this.seals.has(key)) return;
    this.seals.set(key, seal);
    this.post({ type: "seal", trail: seal.seal.trail, number: seal.seal.number, text: seal.text });
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
