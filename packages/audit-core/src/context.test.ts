import { describe, expect, it } from "vitest";
import { currentAuditContext, withAuditContext } from "./context.ts";
import { stampEvent } from "./event.ts";

const event = { action: "patient.read", entity: "Patient" };

describe("audit context", () => {
  it("is undefined outside withAuditContext", () => {
    expect(currentAuditContext()).toBeUndefined();
  });

  it("is visible across awaits inside withAuditContext and gone after", async () => {
    const seen = await withAuditContext({ requestId: "r1" }, async () => {
      await new Promise((r) => setTimeout(r, 1));
      return currentAuditContext();
    });
    expect(seen).toEqual({ requestId: "r1" });
    expect(currentAuditContext()).toBeUndefined();
  });

  it("merges nested contexts, inner values winning", () => {
    const inner = withAuditContext({ actor: { id: "u1", role: "dentist" }, requestId: "outer", ip: "10.0.0.1" }, () =>
      withAuditContext({ requestId: "inner", userAgent: "curl/8" }, () => currentAuditContext()),
    );
    expect(inner).toEqual({ actor: { id: "u1", role: "dentist" }, requestId: "inner", ip: "10.0.0.1", userAgent: "curl/8" });
  });

  it("stamps recorded entries with actor, requestId, ip and userAgent", () => {
    const entry = withAuditContext(
      { actor: { id: "u1", role: "dentist" }, requestId: "req-1", ip: "10.0.0.1", userAgent: "Mozilla/5.0" },
      () => stampEvent(event, currentAuditContext()),
    );
    expect(entry).toMatchObject({ actorId: "u1", actorRole: "dentist", requestId: "req-1", ip: "10.0.0.1", userAgent: "Mozilla/5.0" });
  });

  it("lets explicit event fields win over the context", () => {
    const entry = withAuditContext(
      { actor: { id: "u1", role: "dentist" }, requestId: "req-1", ip: "10.0.0.1", userAgent: "Mozilla/5.0" },
      () =>
        stampEvent({ ...event, actor: { id: "system" }, requestId: "job-7", ip: "127.0.0.1", userAgent: "cron" }, currentAuditContext()),
    );
    expect(entry).toMatchObject({ actorId: "system", actorRole: null, requestId: "job-7", ip: "127.0.0.1", userAgent: "cron" });
  });
});
