import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { stampEvent } from "../event.ts";
import type { DeadLetter } from "../sink.ts";
import { MemorySink } from "../testing.ts";
import { DEAD_LETTER_FILE, appendDeadLetterFile, keepDeadLetters, readDeadLetterFile } from "./dead-letter.ts";
import type { RetryPolicy } from "./retry.ts";

const policy: RetryPolicy = {
  initialDelayMs: 1,
  maxDelayMs: 2,
  multiplier: 2,
  maxAttempts: Number.POSITIVE_INFINITY,
  unknownErrorAttempts: 3,
  writeTimeoutMs: 1_000,
};

const letter = (i: number): DeadLetter => ({
  entry: stampEvent({ action: "bad.action", entity: "E", entityId: String(i) }, undefined),
  error: `check constraint violated ${i}`,
  attempts: 1,
  failedAt: new Date().toISOString(),
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "audit-dl-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("keepDeadLetters", () => {
  it("stores letters through the sink and returns none left over", async () => {
    const sink = new MemorySink();
    const letters = [letter(1), letter(2)];
    expect(await keepDeadLetters(sink, letters, policy)).toEqual([]);
    expect([...sink.deadLetters.values()]).toEqual(letters);
  });

  it("does nothing for no letters", async () => {
    const sink = new MemorySink({ rejectDeadLetters: true });
    expect(await keepDeadLetters(sink, [], policy)).toEqual([]);
  });

  it("hands back the letters a sink refuses, for the file fallback", async () => {
    const sink = new MemorySink({ rejectDeadLetters: true });
    const letters = [letter(1)];
    expect(await keepDeadLetters(sink, letters, policy)).toEqual(letters);
    expect(sink.deadLetters.size).toBe(0);
  });

  it("retries a dead-letter store that fails retryably", async () => {
    const sink = new MemorySink();
    let failures = 2;
    const store = sink.deadLetter.bind(sink);
    sink.deadLetter = async (letters) => {
      if (failures-- > 0) throw Object.assign(new Error("reset"), { code: "ECONNRESET" });
      return store(letters);
    };
    expect(await keepDeadLetters(sink, [letter(1)], policy)).toEqual([]);
    expect(sink.deadLetters.size).toBe(1);
  });
});

describe("dead-letter file", () => {
  it("appends letters as JSON lines and reads them back oldest first", async () => {
    const first = [letter(1), letter(2)];
    const second = [letter(3)];
    await appendDeadLetterFile(dir, first);
    await appendDeadLetterFile(dir, second);
    await appendDeadLetterFile(dir, []);
    expect(await readDeadLetterFile(dir)).toEqual([...first, ...second]);
    expect((await readFile(join(dir, DEAD_LETTER_FILE), "utf8")).split("\n")).toHaveLength(4);
  });

  it("creates the folder if it does not exist yet", async () => {
    const nested = join(dir, "not", "yet");
    await appendDeadLetterFile(nested, [letter(1)]);
    expect(await readDeadLetterFile(nested)).toHaveLength(1);
  });

  it("reads no letters when there is no file", async () => {
    expect(await readDeadLetterFile(dir)).toEqual([]);
  });
});
