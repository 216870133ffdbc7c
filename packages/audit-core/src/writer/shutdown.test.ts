import { afterEach, describe, expect, it, vi } from "vitest";
import type { AuditWriter, CloseReport } from "../writer-contract.ts";
import { Counters } from "../metrics.ts";
import { type DrainTarget, closeOnSignals, drainOrSpill } from "./shutdown.ts";

function target(flush: () => Promise<void>) {
  const calls: string[] = [];
  const t: DrainTarget = {
    flush: () => {
      calls.push("flush");
      return flush();
    },
    spillRemaining: async () => {
      calls.push("spill");
    },
    release: async () => {
      calls.push("release");
    },
  };
  return { t, calls };
}

describe("drainOrSpill", () => {
  it("reports drained and releases without spilling when the flush ends before the deadline", async () => {
    const { t, calls } = target(() => Promise.resolve());
    expect(await drainOrSpill(t, 1_000)).toBe(true);
    expect(calls).toEqual(["flush", "release"]);
  });

  it("spills the rest and releases when the flush does not end by the deadline", async () => {
    const { t, calls } = target(() => new Promise<void>(() => undefined));
    const started = Date.now();
    expect(await drainOrSpill(t, 30)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(calls).toEqual(["flush", "spill", "release"]);
  });
});

describe("closeOnSignals", () => {
  const report: CloseReport = { ...new Counters().snapshot({ queued: 0, inFlight: 0, spoolBacklog: 0 }), drained: true };
  const fakeWriter = () => {
    const close = vi.fn<AuditWriter["close"]>(async () => report);
    const writer: AuditWriter = {
      mode: "async",
      record: async () => ({ id: "x", state: "queued" }),
      flush: async () => undefined,
      close,
      stats: () => report,
    };
    return { writer, close };
  };

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("listens to SIGTERM and SIGINT by default and stops listening when removed", () => {
    const before = [process.listenerCount("SIGTERM"), process.listenerCount("SIGINT")];
    const remove = closeOnSignals(fakeWriter().writer);
    expect([process.listenerCount("SIGTERM"), process.listenerCount("SIGINT")]).toEqual(before.map((n) => n + 1));
    remove();
    expect([process.listenerCount("SIGTERM"), process.listenerCount("SIGINT")]).toEqual(before);
  });

  it("closes the writer within the given deadline on a signal, reports, then exits 0", async () => {
    const exit = vi.spyOn(process, "exit").mockImplementation(() => undefined as never);
    const { writer, close } = fakeWriter();
    const onClosed = vi.fn();
    closeOnSignals(writer, { signals: ["SIGUSR2"], deadlineMs: 123, onClosed });
    process.emit("SIGUSR2", "SIGUSR2");
    await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(0));
    expect(close).toHaveBeenCalledWith({ deadlineMs: 123 });
    expect(onClosed).toHaveBeenCalledWith(report, "SIGUSR2");
    expect(process.listenerCount("SIGUSR2")).toBe(0);
  });

  it("uses the writer's own deadline and can leave the process running", async () => {
    const exit = vi.spyOn(process, "exit").mockImplementation(() => undefined as never);
    const { writer, close } = fakeWriter();
    const onClosed = vi.fn();
    closeOnSignals(writer, { signals: ["SIGUSR2"], exit: false, onClosed });
    process.emit("SIGUSR2", "SIGUSR2");
    await vi.waitFor(() => expect(onClosed).toHaveBeenCalled());
    expect(close).toHaveBeenCalledWith();
    expect(exit).not.toHaveBeenCalled();
  });
});
