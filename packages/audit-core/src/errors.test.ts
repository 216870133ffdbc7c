import { describe, expect, it } from "vitest";
import { z } from "zod";
import * as api from "./index.ts";

describe("errors", () => {
  it("each has a stable code, its class name and a message saying what was wrong", () => {
    const cases: Array<[api.AuditrailError, string, RegExp]> = [
      [new api.InvalidOptionsError(["mode: bad"]), "ERR_AUDIT_INVALID_OPTIONS", /mode: bad/],
      [new api.InvalidAuditEventError(["action: missing"]), "ERR_AUDIT_INVALID_EVENT", /action: missing/],
      [new api.WriterClosedError(), "ERR_AUDIT_WRITER_CLOSED", /record\(\) was called after close\(\)/],
      [new api.SinkLoadError("m", "why"), "ERR_AUDIT_SINK_LOAD", /Cannot load audit sink "m": why/],
      [new api.AuditWriteError(3, "boom"), "ERR_AUDIT_WRITE_FAILED", /after 3 attempt\(s\): boom/],
      [new api.SpoolCorruptError("f", 2, null), "ERR_AUDIT_SPOOL_CORRUPT", /f line 2/],
      [new api.CopyTextError("why"), "ERR_AUDIT_COPY_TEXT", /Not PostgreSQL's COPY TO text output: why/],
      [new api.WorkerEntryMissingError("w.js"), "ERR_AUDIT_WORKER_MISSING", /w\.js does not exist/],
      [new api.AuditEntryDroppedError("id1", 5), "ERR_AUDIT_DROPPED", /id1 dropped: the queue is full \(5 entries\)/],
      [new api.SpillFailedError(new Error("ENOSPC")), "ERR_AUDIT_SPILL_FAILED", /not kept: .*spilling it to the spool failed: ENOSPC/],
      [
        new api.EntriesStoredElsewhereError(["e1", "e2"]),
        "ERR_AUDIT_STORED_ELSEWHERE",
        /Nothing of the batch was stored: 2 .*\n- e1\n- e2$/,
      ],
    ];
    for (const [error, code, message] of cases) {
      expect(error).toBeInstanceOf(api.AuditrailError);
      expect(error).toBeInstanceOf(Error);
      expect(error.code).toBe(code);
      expect(error.name).toBe(error.constructor.name);
      expect(error.message).toMatch(message);
    }
  });

  it("the issue errors share one base: the issues, one per line, after what was invalid", () => {
    const cases: Array<[api.InvalidIssuesError, string, string]> = [
      [new api.InvalidOptionsError(["a: x", "b: y"]), "ERR_AUDIT_INVALID_OPTIONS", "Invalid audit writer options:\n- a: x\n- b: y"],
      [new api.InvalidSealerOptionsError(["a: x"]), "ERR_AUDIT_INVALID_SEALER_OPTIONS", "Invalid sealer options:\n- a: x"],
      [
        new api.InvalidJetStreamConfigError("ingest config", ["a: x"]),
        "ERR_AUDIT_INVALID_JETSTREAM_CONFIG",
        "Invalid ingest config:\n- a: x",
      ],
    ];
    for (const [error, code, message] of cases) {
      expect(error).toBeInstanceOf(api.InvalidIssuesError);
      expect(error.code).toBe(code);
      expect(error.message).toBe(message);
      expect(error.issues.length).toBeGreaterThan(0);
    }
  });

  it("the writer's own write errors have codes; a timeout is retryable, a stop is not classified", () => {
    const timeout = new api.WriteTimeoutError(30);
    expect(timeout).toMatchObject({
      code: "ERR_AUDIT_WRITE_TIMEOUT",
      name: "WriteTimeoutError",
      message: "sink write did not finish within 30 ms",
    });
    expect(api.classifyError(timeout)).toBe("retryable");
    expect(new api.WriteStoppedError().code).toBe("ERR_AUDIT_WRITE_STOPPED");
    expect(api.classifyError(new api.WriteStoppedError())).toBeUndefined();
  });

  it("formatIssues: one line per zod issue, the path dotted, the whole value named", () => {
    const parsed = z.strictObject({ a: z.strictObject({ b: z.number() }) }).safeParse({ a: { b: "x" }, c: 1 });
    expect(parsed.success).toBe(false);
    expect(api.formatIssues(parsed.error?.issues ?? [], "(options)")).toEqual([
      "a.b: Invalid input: expected number, received string",
      '(options): Unrecognized key: "c"',
    ]);
    expect(api.formatIssues([{ path: ["x", 0], message: "bad" }], "meta.audit", "meta.audit.")).toEqual(["meta.audit.x.0: bad"]);
  });

  it("the package entry exports the writer, context, schemas, metrics and helpers", () => {
    for (const name of [
      "createAuditWriter",
      "withAuditContext",
      "currentAuditContext",
      "classifyError",
      "readDeadLetterFile",
      "closeOnSignals",
      "uuidv7",
    ] as const) {
      // biome-ignore lint/performance/noDynamicNamespaceImportAccess: the test checks the entry's exports by name; nothing is bundled.
      expect(typeof api[name]).toBe("function");
    }
    expect(api.AuditEventSchema.safeParse({ action: "a", entity: "E" }).success).toBe(true);
    expect(api.AuditEntrySchema.safeParse({}).success).toBe(false);
  });
});
