/**
 * The only seam between the writer and a database. A sink inserts entries and keeps dead letters;
 * it knows SQL, the writer does not. Workers cannot receive a live client, so a sink is named by a
 * serialisable spec: the module to import and the options its `createSink` takes. Each worker (and
 * the main thread, in sync mode) builds its own sink from the spec and owns its connections.
 */
import { isAbsolute } from "node:path";
import { pathToFileURL } from "node:url";
import { SinkLoadError, messageOf } from "./errors.ts";
import type { AuditEntry } from "./event.ts";
import type { SignedSeal } from "./seal.ts";

/** An entry the database rejected as invalid, kept with the reason for later replay. */
export interface DeadLetter {
  readonly entry: AuditEntry;
  readonly error: string;
  readonly attempts: number;
  readonly failedAt: string;
}

/** retryable: the same write may succeed later. poison: this data will never be accepted. */
export type ErrorKind = "retryable" | "poison";

export interface AuditSink {
  /**
   * True for a transport (e.g. JetStream): the sink forwards entries to a process that writes and
   * chains them where they are stored, so the writer hands them over unlinked and reports no
   * chain heads (a checkpoint about a chain that is never stored would read as a truncation).
   */
  readonly forwards?: boolean;
  /**
   * Inserts the entries in one go, skipping ids already stored (a retry never doubles a row).
   * Entries from the writer carry their chain link (streamId, seq, prevHash, hash): store it.
   */
  write(entries: readonly AuditEntry[]): Promise<void>;
  /**
   * Which of these ids are stored already. Asked before linking entries that may have been
   * written before (replayed from the spool, or retried after a worker failed), so that a row
   * written once is not given a second place in a chain that would then show a gap. Without it,
   * such replays can make verification report a deletion that did not happen.
   */
  existing?(ids: readonly string[]): Promise<ReadonlySet<string>>;
  /** Keeps entries the database rejected, with their error, skipping ids already kept. */
  deadLetter(letters: readonly DeadLetter[]): Promise<void>;
  /**
   * Keeps a signed seal (see the README, Seals): its trail, number, time, hash (sealHash) and full text,
   * skipping a (trail, number) already stored — the sealer retries a seal that failed to store.
   * Called in the main thread by the sealer, on a sink of its own.
   */
  storeSeal?(seal: SignedSeal): Promise<void>;
  /** The sink's own reading of an error, where it knows better than the generic rules. */
  classify?(error: unknown): ErrorKind | undefined;
  close(): Promise<void>;
}

export type SinkOptions = Readonly<Record<string, unknown>>;

export interface SinkSpec {
  /** A module specifier, file URL or absolute path of a module exporting `createSink(options)`. */
  readonly module: string;
  /** Structured-cloneable options handed to `createSink` (a URL, pool sizes, …). */
  readonly options?: SinkOptions | undefined;
}

export type CreateSink = (options: SinkOptions) => AuditSink | Promise<AuditSink>;

/** Imports the spec's module and returns its createSink, without building a sink. */
export async function checkSinkModule(spec: SinkSpec): Promise<CreateSink> {
  const specifier = isAbsolute(spec.module) ? pathToFileURL(spec.module).href : spec.module;
  let mod: { createSink?: unknown };
  try {
    mod = (await import(specifier)) as { createSink?: unknown };
  } catch (error) {
    throw new SinkLoadError(spec.module, messageOf(error), error);
  }
  if (typeof mod.createSink !== "function") {
    throw new SinkLoadError(spec.module, "the module does not export a createSink(options) function");
  }
  return mod.createSink as CreateSink;
}

/** Imports the spec's module and builds its sink. */
export async function loadSink(spec: SinkSpec): Promise<AuditSink> {
  const create = await checkSinkModule(spec);
  return create(spec.options ?? {});
}
