import { TRPCError, initTRPC } from "@trpc/server";
import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import type { AuditMode, AuditWriter } from "../writer-contract.ts";
import { currentAuditContext } from "../context.ts";
import { type AuditEntry, type AuditEvent, stampEvent } from "../event.ts";
import type { WriterStats } from "../metrics.ts";
import { REDACTED } from "../redact.ts";
import { AuditConfigError, InvalidAuditMetaError, InvalidAuditPluginOptionsError } from "../errors.ts";
import { createAuditPlugin } from "./plugin.ts";
import type { AuditMeta, AuditPluginOptions, AuditTransactions, AuditWriters } from "./spec.ts";

// ── fixtures ──────────────────────────────────────────────────────────────────────────────────

const zero = { p50: 0, p95: 0, p99: 0, max: 0, count: 0, sum: 0 };
const stats: WriterStats = {
  recorded: 0,
  queued: 0,
  inFlight: 0,
  written: 0,
  retried: 0,
  deadLettered: 0,
  spilled: 0,
  replayed: 0,
  dropped: 0,
  errors: 0,
  spoolBacklog: 0,
  enqueueUs: zero,
  writeMs: zero,
};

/** A writer that stamps (as the real ones do) and keeps entries in memory; `fail` rejects record(). */
function memoryWriter(mode: AuditMode, fail?: () => Error | undefined) {
  const entries: AuditEntry[] = [];
  const writer: AuditWriter & { entries: AuditEntry[] } = {
    mode,
    entries,
    record: async (event: AuditEvent) => {
      const error = fail?.();
      if (error) throw error;
      const entry = stampEvent(event, currentAuditContext());
      entries.push(entry);
      return { id: entry.id, state: mode === "sync" ? "written" : "queued" };
    },
    flush: async () => undefined,
    close: async () => ({ ...stats, drained: true }),
    stats: () => stats,
  };
  return writer;
}

interface Ctx {
  user?: { id: string; role: string } | undefined;
  requestId: string;
  userAgent?: string | undefined;
  writers: AuditWriters;
  db: Map<string, { id: string; name: string; ssn: string }>;
}

/** A fake transactional store: a copy-on-write map committed only if the callback resolves. */
function store(options: { failWrite?: boolean; retries?: number } = {}) {
  const committed: AuditEntry[] = [];
  let attempts = 0;
  const tx: AuditTransactions<Ctx, { rows: Map<string, { id: string; name: string; ssn: string }>; entries: AuditEntry[] }> = {
    run: async (c, fn) => {
      for (;;) {
        attempts++;
        const draft = { rows: new Map(c.db), entries: [] as AuditEntry[] };
        const result = await fn(draft);
        if (attempts <= (options.retries ?? 0)) continue; // simulate a serialization failure: retry
        for (const [k, v] of draft.rows) c.db.set(k, v);
        committed.push(...draft.entries);
        return result;
      }
    },
    write: async (t, entries) => {
      if (options.failWrite) throw new Error("audit insert refused");
      t.entries.push(...entries);
    },
  };
  return { tx, committed, attempts: () => attempts };
}

function setup(over: Partial<AuditPluginOptions<Ctx, { rows: Ctx["db"]; entries: AuditEntry[] }>> = {}, writers?: Partial<AuditWriters>) {
  const w = { async: memoryWriter("async"), sync: memoryWriter("sync"), durable: memoryWriter("durable"), ...writers } as {
    async: ReturnType<typeof memoryWriter>;
    sync: ReturnType<typeof memoryWriter>;
    durable: ReturnType<typeof memoryWriter>;
  };
  const db: Ctx["db"] = new Map([["p1", { id: "p1", name: "Ann", ssn: "111-22-3333" }]]);
  const ctx: Ctx = { user: { id: "u1", role: "dentist" }, requestId: "req-1", userAgent: "ua/1", writers: w, db };
  const s = store();
  const onError = vi.fn();
  const plugin = createAuditPlugin<Ctx, { rows: Ctx["db"]; entries: AuditEntry[] }>({
    writers: (c) => c.writers,
    actor: (c) => c.user,
    request: (c) => ({ requestId: c.requestId, ip: "10.0.0.1", userAgent: c.userAgent }),
    transactions: s.tx,
    onError,
    ...over,
  });
  const t = initTRPC.context<Ctx>().meta<AuditMeta<Ctx>>().create();
  const base = t.procedure.concat(plugin.procedure);
  const authed = base.use(({ ctx: c, next }) => {
    if (!c.user) throw new TRPCError({ code: "UNAUTHORIZED" });
    if (c.user.role === "auditor") throw new TRPCError({ code: "FORBIDDEN", message: "auditors may not write" });
    return next();
  });
  const load = (id: string, c: Ctx) => c.db.get(id) ?? null;
  const router = t.router({
    rename: authed
      .meta({ audit: { action: "patient.update", entity: "Patient", id: "input.id", before: load } })
      .input(z.object({ id: z.string(), name: z.string().min(1) }))
      .mutation(({ ctx: c, input }) => {
        const p = c.db.get(input.id);
        if (!p) throw new TRPCError({ code: "NOT_FOUND" });
        const next = { ...p, name: input.name };
        c.db.set(p.id, next);
        return next;
      }),
    get: authed
      .meta({ audit: { action: "patient.read", entity: "Patient", id: "input.id" } })
      .input(z.object({ id: z.string() }))
      .query(({ ctx: c, input }) => c.db.get(input.id)),
    syncRename: authed
      .meta({ audit: { action: "patient.update", entity: "Patient", id: "input.id", mode: "sync" } })
      .input(z.object({ id: z.string() }))
      .mutation(() => ({ ok: true })),
    durableNote: authed
      .meta({ audit: { action: "note.create", entity: "Note", id: "output.id", mode: "durable" } })
      .mutation(() => ({ id: 7 })),
    txRename: authed
      .meta({ audit: { action: "patient.update", entity: "Patient", id: "input.id", mode: "transactional", before: load } })
      .input(z.object({ id: z.string(), name: z.string(), explode: z.boolean().default(false) }))
      .mutation(({ ctx: c, input }) =>
        c.audit.transaction(async (tx) => {
          const p = tx.rows.get(input.id);
          if (!p) throw new TRPCError({ code: "NOT_FOUND" });
          const next = { ...p, name: input.name };
          tx.rows.set(p.id, next);
          if (input.explode) throw new Error("constraint violated");
          return next;
        }),
      ),
    txForgot: authed.meta({ audit: { action: "x.y", entity: "X", mode: "transactional" } }).mutation(() => "no transaction"),
    bulk: authed
      .meta({ audit: { action: "patient.archive", entity: "Patient", mode: "transactional", bulk: "rows" } })
      .input(z.object({ ids: z.array(z.string()) }))
      .mutation(({ ctx: c, input }) =>
        c.audit.transaction(async () => {
          c.audit.rows(input.ids.map((id) => ({ id, before: { id, archived: false, ssn: "9" }, after: { id, archived: true, ssn: "9" } })));
          return input.ids.length;
        }),
      ),
    summary: authed
      .meta({ audit: { action: "patient.archive", entity: "Patient", bulk: "summary" } })
      .input(z.object({ ids: z.array(z.string()) }))
      .mutation(({ ctx: c, input }) => {
        c.audit.rows(input.ids.map((id, i) => ({ id: i === 0 ? id : i, before: { ssn: "1" }, after: { ssn: "2", n: i } })));
        c.audit.annotate({ batch: "b1" });
        return input.ids.length;
      }),
    nested: authed.meta({ audit: { action: "job.run", entity: "Job", kind: "access" } }).mutation(async ({ ctx: c }) => {
      await c.writers.async.record({ action: "job.step", entity: "Job" });
      return currentAuditContext();
    }),
    login: base
      .meta({
        audit: {
          action: "auth.login",
          entity: "User",
          id: "output.user.id",
          mode: "sync",
          after: false,
          actor: (call) => (call.output ? { id: "u9", role: "admin" } : undefined),
          metadata: (call) => (call.outcome === "ok" ? "fine" : { email: call.input.email }),
        },
      })
      .input(z.object({ email: z.string(), password: z.string() }))
      .mutation(({ input }) => {
        if (input.password !== "right") throw new TRPCError({ code: "UNAUTHORIZED", message: "no" });
        return { user: { id: "u9" }, token: "secret-token" };
      }),
    crash: authed.meta({ audit: { action: "x.crash", entity: "X" } }).mutation(() => {
      throw new Error("SELECT * FROM patient WHERE ssn = '111-22-3333' failed");
    }),
    plain: base.meta({ audit: false }).query(({ ctx: c }) => c.audit.transaction(async () => "ran in a transaction")),
  });
  const caller = (c: Partial<Ctx> = {}) => t.createCallerFactory(router)({ ...ctx, ...c });
  return { w, ctx, caller, onError, plugin, router, store: s };
}

const only = (entries: AuditEntry[]) => {
  expect(entries).toHaveLength(1);
  return entries[0] as AuditEntry;
};

// ── behaviour ─────────────────────────────────────────────────────────────────────────────────

describe("the tRPC audit plugin", () => {
  it("records a mutation: action, entity, id, actor, path, outcome, duration, request, before, after, diff — redacted", async () => {
    const { w, caller } = setup();
    // The call starts at 1000 ms and every later reading is 1042.5 ms: the duration is their difference.
    vi.spyOn(performance, "now").mockReturnValueOnce(1_000).mockReturnValue(1_042.5);
    await caller().rename({ id: "p1", name: "Bea" });
    vi.restoreAllMocks();
    const e = only(w.async.entries);
    expect(e).toMatchObject({
      action: "patient.update",
      entity: "Patient",
      entityId: "p1",
      outcome: "ok",
      actorId: "u1",
      actorRole: "dentist",
      path: "rename",
      requestId: "req-1",
      ip: "10.0.0.1",
      userAgent: "ua/1",
      before: { id: "p1", name: "Ann", ssn: REDACTED },
      after: { id: "p1", name: "Bea", ssn: REDACTED },
      diff: [{ path: "name", from: "Ann", to: "Bea" }],
    });
    expect(e.durationMs).toBe(42.5);
    expect(JSON.stringify(e)).not.toContain("111-22-3333");
  });

  it("records a query as an access event: who read which record, no data", async () => {
    const { w, caller } = setup();
    await caller().get({ id: "p1" });
    expect(only(w.async.entries)).toMatchObject({ action: "patient.read", entityId: "p1", before: null, after: null, diff: null });
  });

  it("records FORBIDDEN, UNAUTHORIZED and BAD_REQUEST calls with their codes, and no change", async () => {
    const { w, caller } = setup();
    await expect(caller({ user: { id: "a1", role: "auditor" } }).rename({ id: "p1", name: "X" })).rejects.toThrow("auditors may not write");
    await expect(caller({ user: undefined }).rename({ id: "p1", name: "X" })).rejects.toThrow();
    await expect(caller().rename({ id: "p1", name: "" })).rejects.toThrow();
    expect(w.async.entries.map((e) => [e.outcome, e.actorId, e.entityId])).toEqual([
      ["FORBIDDEN", "a1", "p1"],
      ["UNAUTHORIZED", null, "p1"],
      ["BAD_REQUEST", "u1", "p1"],
    ]);
    for (const e of w.async.entries) expect(e).toMatchObject({ before: null, after: null, diff: null });
    expect(w.async.entries[0]?.metadata).toEqual({ error: { code: "FORBIDDEN", message: "auditors may not write" } });
  });

  it("keeps only the code of an internal error: its message may quote data", async () => {
    const { w, caller } = setup();
    await expect(caller().crash()).rejects.toThrow();
    expect(only(w.async.entries).metadata).toEqual({ error: { code: "INTERNAL_SERVER_ERROR" } });
    expect(JSON.stringify(w.async.entries)).not.toContain("111-22-3333");
  });

  it("runs the before loader only for calls with an actor, and reports a failing loader without losing the entry", async () => {
    const loader = vi.fn(() => {
      throw new Error("db down");
    });
    const { w, ctx, onError } = setup();
    const t = initTRPC.context<Ctx>().meta<AuditMeta<Ctx>>().create();
    const plugin = createAuditPlugin<Ctx>({ writers: (c) => c.writers, actor: (c) => c.user, onError });
    const r = t.router({
      m: t.procedure
        .concat(plugin.procedure)
        .meta({ audit: { action: "a.b", entity: "E", id: "input.id", before: loader } })
        .input(z.object({ id: z.string() }))
        .mutation(() => "ok"),
    });
    const call = (user: Ctx["user"]) =>
      t
        .createCallerFactory(r)({ ...ctx, user })
        .m({ id: "p1" });
    await call(undefined);
    expect(loader).not.toHaveBeenCalled();
    await call({ id: "u1", role: "dentist" });
    expect(loader).toHaveBeenCalledWith("p1", expect.anything());
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: "db down" }), expect.objectContaining({ path: "m" }));
    expect(w.async.entries).toHaveLength(2);
  });

  it("async mode never fails the call: a refused write goes to onError", async () => {
    const { caller, onError } = setup({}, { async: memoryWriter("async", () => new Error("queue closed")) });
    await expect(caller().rename({ id: "p1", name: "Bea" })).resolves.toMatchObject({ name: "Bea" });
    await vi.waitFor(() => expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: "queue closed" }), expect.anything()));
  });

  it("sync mode fails the call when its entry cannot be written", async () => {
    const broken = setup({}, { sync: memoryWriter("sync", () => new Error("db down")) });
    await expect(broken.caller().syncRename({ id: "p1" })).rejects.toMatchObject({ code: "INTERNAL_SERVER_ERROR" });
    const ok = setup();
    await ok.caller().syncRename({ id: "p1" });
    expect(only(ok.w.sync.entries)).toMatchObject({ outcome: "ok", entityId: "p1" });
    expect(ok.w.async.entries).toHaveLength(0);
  });

  it("durable mode waits for its writer, and reports (never throws) a failure", async () => {
    const ok = setup();
    await ok.caller().durableNote();
    expect(only(ok.w.durable.entries)).toMatchObject({ entityId: "7", action: "note.create" });
    const broken = setup({}, { durable: memoryWriter("durable", () => new Error("disk full")) });
    await expect(broken.caller().durableNote()).resolves.toEqual({ id: 7 });
    expect(broken.onError).toHaveBeenCalledWith(expect.objectContaining({ message: "disk full" }), expect.anything());
  });

  it("transactional mode inserts the entry in the procedure's transaction: both commit", async () => {
    const { w, caller, ctx, store: s } = setup();
    await caller().txRename({ id: "p1", name: "Cy" });
    expect(ctx.db.get("p1")?.name).toBe("Cy");
    expect(only(s.committed)).toMatchObject({
      outcome: "ok",
      entityId: "p1",
      diff: [{ path: "name", from: "Ann", to: "Cy" }],
      requestId: "req-1",
    });
    expect(w.async.entries).toHaveLength(0);
  });

  it("transactional mode: a failing change rolls back and only the failure is recorded (async)", async () => {
    const { w, caller, ctx, store: s } = setup();
    await expect(caller().txRename({ id: "p1", name: "Cy", explode: true })).rejects.toThrow();
    expect(ctx.db.get("p1")?.name).toBe("Ann");
    expect(s.committed).toHaveLength(0);
    expect(only(w.async.entries)).toMatchObject({ outcome: "INTERNAL_SERVER_ERROR", after: null, diff: null });
  });

  it("transactional mode: a failing audit insert fails the call and rolls the change back", async () => {
    const s = store({ failWrite: true });
    const { caller, ctx } = setup({ transactions: s.tx });
    await expect(caller().txRename({ id: "p1", name: "Dee" })).rejects.toMatchObject({ code: "INTERNAL_SERVER_ERROR" });
    expect(ctx.db.get("p1")?.name).toBe("Ann");
    expect(s.committed).toHaveLength(0);
  });

  it("transactional mode: a retried transaction starts its rows afresh (one entry per row, not per attempt)", async () => {
    const s = store({ retries: 2 });
    const { caller } = setup({ transactions: s.tx });
    await caller().bulk({ ids: ["a", "b", "c"] });
    expect(s.attempts()).toBe(3);
    expect(s.committed.map((e) => e.entityId)).toEqual(["a", "b", "c"]);
    expect(s.committed[0]).toMatchObject({
      before: { id: "a", archived: false, ssn: REDACTED },
      diff: [{ path: "archived", from: false, to: true }],
    });
  });

  it("a bulk call that touched no row still writes one entry, with rows: 0", async () => {
    const { w, caller, store: s } = setup();
    await caller().bulk({ ids: [] });
    expect(only(s.committed)).toMatchObject({ action: "patient.archive", outcome: "ok", entityId: null, metadata: { rows: 0 } });
    expect(w.async.entries).toHaveLength(0);
  });

  it("transactional mode without ctx.audit.transaction still records the entry (async) and reports the misuse", async () => {
    const { w, caller, onError } = setup();
    await caller().txForgot();
    expect(only(w.async.entries)).toMatchObject({ action: "x.y", outcome: "ok" });
    expect(onError).toHaveBeenCalledWith(expect.any(AuditConfigError), expect.anything());
  });

  it("bulk summary writes one entry with the count, the ids and each row's redacted diff", async () => {
    const { w, caller } = setup();
    await caller().summary({ ids: ["a", "b"] });
    const e = only(w.async.entries);
    expect(e.entityId).toBeNull();
    expect(e.metadata).toEqual({ batch: "b1", count: 2, ids: ["a", "1"] });
    expect(e.diff).toEqual([
      {
        id: "a",
        changes: [
          { path: "ssn", from: REDACTED, to: REDACTED },
          { path: "n", to: 0 },
        ],
      },
      {
        id: "1",
        changes: [
          { path: "ssn", from: REDACTED, to: REDACTED },
          { path: "n", to: 1 },
        ],
      },
    ]);
  });

  it("sets the audit context for the procedure, so nested record() calls are stamped", async () => {
    const { w, caller } = setup();
    const context = await caller().nested();
    expect(context).toMatchObject({ actor: { id: "u1" }, requestId: "req-1" });
    const step = w.async.entries.find((e) => e.action === "job.step");
    expect(step).toMatchObject({ actorId: "u1", requestId: "req-1", ip: "10.0.0.1" });
  });

  it("takes the actor from a per-procedure extractor (a login), merges metadata, and never stores the token", async () => {
    const { w, caller } = setup();
    await caller({ user: undefined }).login({ email: "a@b", password: "right" });
    await expect(caller({ user: undefined }).login({ email: "a@b", password: "wrong" })).rejects.toThrow();
    expect(w.sync.entries.map((e) => [e.outcome, e.actorId, e.entityId, e.after])).toEqual([
      ["ok", "u9", "u9", null],
      ["UNAUTHORIZED", null, null, null],
    ]);
    expect(w.sync.entries[0]?.metadata).toEqual({ value: "fine" });
    expect(w.sync.entries[1]?.metadata).toEqual({ email: "a@b", error: { code: "UNAUTHORIZED", message: "no" } });
    expect(JSON.stringify(w.sync.entries)).not.toContain("secret-token");
  });

  it("lets onEntry replace an event, and redacts the replacement again", async () => {
    const { w, caller } = setup({
      onEntry: (event) => ({ ...event, metadata: { tenant: "t1", password: "hunter2" } }),
      metadata: () => ({ app: "clinic" }),
    });
    await caller().rename({ id: "p1", name: "Bea" });
    expect(only(w.async.entries).metadata).toEqual({ tenant: "t1", password: REDACTED });
  });

  it("writes the event unchanged when onEntry throws, and reports it", async () => {
    const { w, caller, onError } = setup({
      onEntry: () => {
        throw new Error("hook bug");
      },
      metadata: () => ({ app: "clinic" }),
    });
    await caller().rename({ id: "p1", name: "Bea" });
    expect(only(w.async.entries).metadata).toEqual({ app: "clinic" });
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: "hook bug" }), expect.anything());
  });

  it("cuts over-long request fields instead of losing the entry", async () => {
    const { w, caller } = setup();
    await caller({ userAgent: "x".repeat(2000) }).get({ id: "y".repeat(300) });
    const e = only(w.async.entries);
    expect(e.userAgent).toHaveLength(512);
    expect(e.entityId).toBeNull();
  });

  it("passes unaudited procedures through, with ctx.audit.transaction as a plain transaction", async () => {
    const { w, caller } = setup();
    expect(await caller().plain()).toBe("ran in a transaction");
    expect(w.async.entries).toHaveLength(0);
  });

  it("fails ctx.audit.transaction loudly when no transactions store was given", async () => {
    const { caller } = setup({ transactions: undefined });
    await expect(caller().plain()).rejects.toThrow(/transactions/);
  });
});

describe("the mode option (choosing the mode per call)", () => {
  it("writes through the chosen mode's writer instead of the declared one", async () => {
    const { w, caller } = setup({ mode: () => "sync" });
    await caller().rename({ id: "p1", name: "Bea" });
    expect(w.async.entries).toHaveLength(0);
    expect(only(w.sync.entries)).toMatchObject({ action: "patient.update", entityId: "p1" });
  });

  it("tells the mode hook whether the procedure's meta pins its mode", async () => {
    const seen: [string, boolean][] = [];
    const { w, caller } = setup({
      mode: (_c, declared, pinned) => {
        seen.push([declared, pinned]);
        return pinned ? declared : "sync";
      },
    });
    await caller().rename({ id: "p1", name: "Bea" });
    await caller().durableNote();
    expect(seen).toEqual([
      ["async", false],
      ["durable", true],
    ]);
    expect(only(w.sync.entries)).toMatchObject({ action: "patient.update" });
    expect(only(w.durable.entries)).toMatchObject({ action: "note.create" });
  });

  it('"off" skips auditing the call, and the procedure still runs', async () => {
    const { w, caller, ctx } = setup({ mode: (_c, declared) => (declared === "async" ? "off" : declared) });
    await caller().rename({ id: "p1", name: "Cy" });
    expect(ctx.db.get("p1")?.name).toBe("Cy");
    expect(w.async.entries).toHaveLength(0);
    await caller().syncRename({ id: "p1" });
    expect(w.sync.entries).toHaveLength(1);
  });

  it("makes a procedure that uses ctx.audit.transaction write its entry in the transaction", async () => {
    const { w, caller, store: s } = setup({ mode: () => "transactional" });
    await caller().txRename({ id: "p1", name: "Di" });
    expect(w.async.entries).toHaveLength(0);
    expect(only(s.committed)).toMatchObject({ action: "patient.update", entityId: "p1" });
  });
});

describe("createAuditPlugin options and verify()", () => {
  it("validates options up front with a named error listing each problem", () => {
    const bad = { writers: "nope", actor: () => undefined, redaction: "shred", extra: 1 } as unknown as AuditPluginOptions<Ctx, never>;
    expect(() => createAuditPlugin(bad)).toThrow(InvalidAuditPluginOptionsError);
    try {
      createAuditPlugin(bad);
    } catch (error) {
      expect((error as InvalidAuditPluginOptionsError).issues.join("\n")).toMatch(/writers[\s\S]*redaction[\s\S]*extra/);
    }
  });

  it("accepts a router whose procedures all declare valid meta and have their writers", () => {
    const { plugin, router, w } = setup();
    expect(() => plugin.verify(router, w)).not.toThrow();
  });

  it("lists every procedure with missing or invalid meta, an impossible mode, or the wrong writer", () => {
    const t = initTRPC.context<Ctx>().meta<AuditMeta<Ctx>>().create();
    const plugin = createAuditPlugin<Ctx>({ writers: (c) => c.writers, actor: (c) => c.user });
    const p = t.procedure.concat(plugin.procedure);
    const router = t.router({
      bare: p.query(() => 1),
      badName: p.meta({ audit: { action: "has space", entity: "E" } }).query(() => 1),
      badRule: p.meta({ audit: { action: "a.b", entity: "E", redact: ["a..b"] } }).query(() => 1),
      tx: p.meta({ audit: { action: "a.b", entity: "E", mode: "transactional" } }).query(() => 1),
      durable: p.meta({ audit: { action: "a.b", entity: "E", mode: "durable" } }).query(() => 1),
      sync: p.meta({ audit: { action: "a.b", entity: "E", mode: "sync" } }).query(() => 1),
    });
    try {
      plugin.verify(router, { async: memoryWriter("async"), sync: memoryWriter("async") });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidAuditMetaError);
      const issues = (error as InvalidAuditMetaError).issues;
      expect(issues).toHaveLength(6);
      expect(issues.join("\n")).toMatch(/bare: no meta.audit/);
      expect(issues.join("\n")).toMatch(/badName: meta.audit.action/);
      expect(issues.join("\n")).toMatch(/badRule: meta.audit.redact/);
      expect(issues.join("\n")).toMatch(/tx: transactional mode needs/);
      expect(issues.join("\n")).toMatch(/durable: mode "durable" but no durable writer/);
      expect(issues.join("\n")).toMatch(/sync: writers.sync is a async writer/);
    }
  });

  it("refuses an invalid spec at call time too, and a mode whose writer is missing fails loudly only when it must", async () => {
    const t = initTRPC.context<Ctx>().meta<AuditMeta<Ctx>>().create();
    const onError = vi.fn();
    const plugin = createAuditPlugin<Ctx>({ writers: (c) => c.writers, actor: (c) => c.user, onError });
    const p = t.procedure.concat(plugin.procedure);
    const router = t.router({
      invalid: p.meta({ audit: { action: "", entity: "E" } }).query(() => 1),
      durable: p.meta({ audit: { action: "a.b", entity: "E", mode: "durable" } }).mutation(() => 1),
      sync: p.meta({ audit: { action: "a.b", entity: "E", mode: "sync" } }).mutation(() => 1),
    });
    const ctx = { ...setup().ctx, writers: { async: memoryWriter("async") } };
    const caller = t.createCallerFactory(router)(ctx);
    await expect(caller.invalid()).rejects.toThrow();
    await expect(caller.durable()).resolves.toBe(1);
    expect(onError).toHaveBeenCalledWith(expect.any(AuditConfigError), expect.anything());
    await expect(caller.sync()).rejects.toMatchObject({ code: "INTERNAL_SERVER_ERROR" });
  });
});
