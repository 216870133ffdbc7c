import { afterEach, describe, expect, it, vi } from "vitest";
import { AuditWriteError, EntriesStoredElsewhereError, WriteStoppedError, WriteTimeoutError } from "../errors.ts";
import { type AuditEntry, stampEvent } from "../event.ts";
import type { AuditSink, DeadLetter } from "../sink.ts";
import { MemorySink } from "../testing.ts";
import { type RetryPolicy, type WriteOutcome, backoffDelay, classifyError, retryRetryable, writeWithRetry } from "./retry.ts";

const policy: RetryPolicy = {
  initialDelayMs: 10,
  maxDelayMs: 100,
  multiplier: 2,
  maxAttempts: Number.POSITIVE_INFINITY,
  unknownErrorAttempts: 3,
  writeTimeoutMs: 1_000,
};

const entries = (n: number, action = "patient.update"): AuditEntry[] =>
  Array.from({ length: n }, (_, i) => stampEvent({ action, entity: "Patient", entityId: String(i) }, undefined));

const noSleep = () => Promise.resolve();

/** A sink that counts how many times each id was inserted and fails as `failures` says. */
class ScriptedSink implements AuditSink {
  readonly inserted = new Map<string, number>();
  readonly letters: DeadLetter[] = [];
  calls = 0;
  constructor(private readonly failures: (call: number, entries: readonly AuditEntry[]) => unknown) {}
  async write(batch: readonly AuditEntry[]): Promise<void> {
    const error = this.failures(++this.calls, batch);
    if (error !== undefined) throw error;
    for (const e of batch) this.inserted.set(e.id, (this.inserted.get(e.id) ?? 0) + 1);
  }
  async deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    this.letters.push(...letters);
  }
  async close(): Promise<void> {}
}

const coded = (code: string, message = code) => Object.assign(new Error(message), { code });

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("backoffDelay", () => {
  it("grows the ceiling by the multiplier on each attempt until maxDelayMs", () => {
    const ceilings = [1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, policy, () => 1));
    expect(ceilings).toEqual([10, 20, 40, 80, 100, 100]);
  });

  it("draws a uniform delay between 0 and the ceiling (full jitter)", () => {
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(20);
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(4, policy);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(80);
    }
  });
});

describe("classifyError", () => {
  it.each([
    "ECONNREFUSED",
    "ECONNRESET",
    "ETIMEDOUT",
    "40001",
    "40P01",
    "57P01",
    "53300",
    "08006",
    "SQLITE_BUSY",
    "SQLITE_LOCKED_SHAREDCACHE",
    "ERR_AUDIT_WRITE_TIMEOUT",
  ])("reads code %s as retryable", (code) => {
    expect(classifyError(coded(code))).toBe("retryable");
  });

  it.each(["23505", "23514", "22001", "SQLITE_CONSTRAINT_UNIQUE", "SQLITE_TOOBIG", "ERR_AUDIT_INVALID_EVENT"])(
    "reads code %s as poison",
    (code) => {
      expect(classifyError(coded(code))).toBe("poison");
    },
  );

  it("follows the cause chain; knows no ORM's codes (a sink's classify does)", () => {
    expect(classifyError(coded("P2034"))).toBeUndefined();
    expect(classifyError(new Error("outer", { cause: new Error("mid", { cause: coded("23505") }) }))).toBe("poison");
  });

  it("recognises connection failures by message when there is no code", () => {
    expect(classifyError(new Error("Connection terminated unexpectedly"))).toBe("retryable");
    expect(classifyError(new Error("SqliteError: database is locked"))).toBe("retryable");
  });

  it("lets the sink's own classification win", () => {
    expect(classifyError(coded("ECONNREFUSED"), { classify: () => "poison" })).toBe("poison");
    expect(classifyError(coded("ECONNREFUSED"), { classify: () => undefined })).toBe("retryable");
  });

  it("returns undefined for errors no rule recognises", () => {
    expect(classifyError(new Error("something odd"))).toBeUndefined();
    expect(classifyError(coded("ENOENT"))).toBeUndefined();
    expect(classifyError("a string")).toBeUndefined();
    expect(classifyError(undefined)).toBeUndefined();
  });
});

describe("writeWithRetry", () => {
  it("retries a retryable failure with growing delays, then writes every entry exactly once", async () => {
    vi.spyOn(Math, "random").mockReturnValue(1);
    const sink = new MemorySink({ failFirst: 4 });
    const batch = entries(5);
    const delays: number[] = [];
    const outcome = await writeWithRetry(sink, batch, policy, {
      sleep: noSleep,
      onRetry: (_attempt, delay) => delays.push(delay),
    });
    expect(delays).toEqual([10, 20, 40, 80]);
    expect(outcome).toEqual({ written: 5, retries: 4, deadLetters: [] });
    expect(sink.writes).toBe(5);
    expect([...sink.rows.keys()]).toEqual(batch.map((e) => e.id));
  });

  it("sleeps for the backoff delay between attempts by default", async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, "random").mockReturnValue(1);
    const sink = new MemorySink({ failFirst: 2 });
    let outcome: WriteOutcome | undefined;
    void writeWithRetry(sink, entries(1), { ...policy, initialDelayMs: 10, maxDelayMs: 20 }).then((o) => {
      outcome = o;
    });
    // delays 10 ms, then 20 ms: not done 1 ms before the second delay ends, done once it has
    await vi.advanceTimersByTimeAsync(29);
    expect(outcome).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(outcome?.retries).toBe(2);
  });

  it("splits a batch around poison entries, dead-letters each with its error and writes the rest once", async () => {
    const batch = [...entries(3), ...entries(1, "poison"), ...entries(4), ...entries(1, "poison"), ...entries(2)];
    const poisonIds = batch.filter((e) => e.action === "poison").map((e) => e.id);
    const sink = new ScriptedSink((_call, chunk) => {
      const bad = chunk.find((e) => e.action === "poison");
      return bad ? coded("23514", `check constraint violated by entry ${bad.id}`) : undefined;
    });
    const outcome = await writeWithRetry(sink, batch, policy, { sleep: noSleep });
    expect(outcome.written).toBe(batch.length - 2);
    expect(outcome.retries).toBe(0);
    expect(outcome.deadLetters.map((l) => l.entry.id)).toEqual(poisonIds);
    for (const letter of outcome.deadLetters) {
      expect(letter.error).toBe(`check constraint violated by entry ${letter.entry.id}`);
      expect(letter.attempts).toBe(1);
      expect(Number.isNaN(Date.parse(letter.failedAt))).toBe(false);
    }
    expect(sink.inserted.size).toBe(batch.length - 2);
    expect([...sink.inserted.values()].every((n) => n === 1)).toBe(true);
    for (const id of poisonIds) expect(sink.inserted.has(id)).toBe(false);
  });

  it("treats an unrecognised error as poison after unknownErrorAttempts", async () => {
    const sink = new ScriptedSink(() => new Error("driver exploded"));
    const retried: number[] = [];
    const outcome = await writeWithRetry(sink, entries(1), policy, { sleep: noSleep, onRetry: (a) => retried.push(a) });
    expect(retried).toEqual([1, 2]);
    expect(outcome.deadLetters).toHaveLength(1);
    expect(outcome.deadLetters[0]).toMatchObject({ error: "driver exploded", attempts: 3 });
    expect(sink.calls).toBe(3);
  });

  it("hands EntriesStoredElsewhereError to the caller at once: not retried, nothing dead-lettered", async () => {
    const batch = entries(3);
    const refused = new EntriesStoredElsewhereError([batch[1]?.id as string]);
    const sink = new ScriptedSink(() => refused);
    const retried: number[] = [];
    const error = await writeWithRetry(sink, batch, policy, { sleep: noSleep, onRetry: (a) => retried.push(a) }).catch((e: unknown) => e);
    expect(error).toBe(refused);
    expect(sink.calls).toBe(1);
    expect(retried).toEqual([]);
    expect(sink.letters).toEqual([]);
  });

  it("gives up with AuditWriteError after maxAttempts", async () => {
    const sink = new MemorySink({ failFirst: 10 });
    const error = await writeWithRetry(sink, entries(2), { ...policy, maxAttempts: 3 }, { sleep: noSleep }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuditWriteError);
    expect((error as AuditWriteError).message).toMatch(/after 3 attempt\(s\): connect ECONNREFUSED/);
    expect((error as AuditWriteError).cause).toMatchObject({ code: "ECONNREFUSED" });
    expect(sink.writes).toBe(3);
  });

  it("fails a hung write with a retryable WriteTimeoutError and retries it", async () => {
    const sink = new MemorySink({ hangFirst: 1 });
    const errors: unknown[] = [];
    vi.useFakeTimers();
    let outcome: WriteOutcome | undefined;
    void writeWithRetry(
      sink,
      entries(3),
      { ...policy, writeTimeoutMs: 30 },
      {
        sleep: noSleep,
        onRetry: (_a, _d, error) => errors.push(error),
      },
    ).then((o) => {
      outcome = o;
    });
    await vi.advanceTimersByTimeAsync(29);
    expect(errors).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(WriteTimeoutError);
    expect(classifyError(errors[0])).toBe("retryable");
    expect(outcome).toMatchObject({ written: 3, retries: 1 });
    expect(sink.rows.size).toBe(3);
  });
});

describe("writeWithRetry stopped by its signal (the writer closing past its deadline)", () => {
  it("abandons a hung attempt at once, gives up without dead-lettering, and starts no new attempt", async () => {
    const sink = new ScriptedSink(() => undefined);
    sink.write = () => new Promise<void>(() => undefined);
    const stop = new AbortController();
    const result = writeWithRetry(sink, entries(3), { ...policy, unknownErrorAttempts: 1 }, { signal: stop.signal });
    setTimeout(() => stop.abort(), 20);
    const error = await result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuditWriteError);
    expect((error as AuditWriteError).cause).toBeInstanceOf(WriteStoppedError);
    expect(sink.letters).toEqual([]);
  });

  it("ends the backoff sleep and makes no further attempt once aborted", async () => {
    // fake timers that nobody advances: the 10 s sleep can only end by the abort
    vi.useFakeTimers();
    const sink = new ScriptedSink(() => coded("ECONNREFUSED"));
    const stop = new AbortController();
    const result = writeWithRetry(
      sink,
      entries(1),
      { ...policy, initialDelayMs: 10_000, maxDelayMs: 10_000 },
      {
        signal: stop.signal,
        onRetry: () => stop.abort(),
      },
    );
    await expect(result).rejects.toBeInstanceOf(AuditWriteError);
    expect(sink.calls).toBe(1);
  });

  it("does not start at all when already aborted; retryRetryable likewise", async () => {
    const sink = new ScriptedSink(() => undefined);
    const stop = new AbortController();
    stop.abort();
    await expect(writeWithRetry(sink, entries(1), policy, { signal: stop.signal })).rejects.toBeInstanceOf(AuditWriteError);
    expect(sink.calls).toBe(0);
    let calls = 0;
    await expect(retryRetryable(async () => void calls++, policy, { signal: stop.signal })).rejects.toBeInstanceOf(WriteStoppedError);
    expect(calls).toBe(0);
  });
});

describe("retryRetryable", () => {
  it("retries retryable errors until the call succeeds", async () => {
    let calls = 0;
    await retryRetryable(
      async () => {
        if (++calls < 3) throw coded("ECONNRESET");
      },
      policy,
      { sleep: noSleep },
    );
    expect(calls).toBe(3);
  });

  it("sleeps between attempts with the default sleep", async () => {
    let calls = 0;
    await retryRetryable(
      async () => {
        if (++calls < 2) throw coded("ECONNRESET");
      },
      { ...policy, initialDelayMs: 1, maxDelayMs: 1 },
    );
    expect(calls).toBe(2);
  });

  it("rethrows a non-retryable error at once", async () => {
    let calls = 0;
    const error = coded("42P01", "relation missing");
    await expect(
      retryRetryable(
        async () => {
          calls++;
          throw error;
        },
        policy,
        { sleep: noSleep },
      ),
    ).rejects.toBe(error);
    expect(calls).toBe(1);
  });

  it("rethrows after maxAttempts", async () => {
    let calls = 0;
    const failing = async () => {
      calls++;
      throw coded("ECONNREFUSED");
    };
    await expect(retryRetryable(failing, { ...policy, maxAttempts: 2 }, { sleep: noSleep })).rejects.toMatchObject({
      code: "ECONNREFUSED",
    });
    expect(calls).toBe(2);
  });
});
