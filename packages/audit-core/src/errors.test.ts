import { describe, expect, it } from "vitest";
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
      [new api.WorkerEntryMissingError("w.js"), "ERR_AUDIT_WORKER_MISSING", /w\.js does not exist/],
      [new api.AuditEntryDroppedError("id1", 5), "ERR_AUDIT_DROPPED", /id1 dropped: the queue is full \(5 entries\)/],
    ];
    for (const [error, code, message] of cases) {
      expect(error).toBeInstanceOf(api.AuditrailError);
      expect(error).toBeInstanceOf(Error);
      expect(error.code).toBe(code);
      expect(error.name).toBe(error.constructor.name);
      expect(error.message).toMatch(message);
    }
  });

  it("the package entry exports the writer, context, schemas, metrics and helpers", () => {
    for (const name of ["createAuditWriter", "withAuditContext", "currentAuditContext", "prometheusText", "classifyError", "readDeadLetterFile", "closeOnSignals", "uuidv7"] as const) {
      // biome-ignore lint/performance/noDynamicNamespaceImportAccess: the test checks the entry's exports by name; nothing is bundled.
      expect(typeof api[name]).toBe("function");
    }
    expect(api.AuditEventSchema.safeParse({ action: "a", entity: "E" }).success).toBe(true);
    expect(api.AuditEntrySchema.safeParse({}).success).toBe(false);
  });
});
