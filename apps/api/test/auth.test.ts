import { testProviders } from "@auditrail/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, errorOf, startHarness, storedText } from "./harness.ts";

describe.each(testProviders())("auth over HTTP on %s", (provider) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(provider);
  });
  afterAll(() => h?.close());

  it("GET /health answers ok with the database up and no pending migrations", async () => {
    const res = await fetch(`${h.base}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", database: "up", provider, pendingMigrations: [] });
  });

  it("logs in with a demo login and returns the user from auth.me", async () => {
    const { token, user } = await h.client().auth.login.mutate({ email: "dentist@clinic.test", password: "dentist-demo-pass" });
    expect(token.length).toBeGreaterThanOrEqual(40);
    expect(user.role).toBe("dentist");
    const me = await h.client(token).auth.me.query();
    expect(me).toMatchObject({ email: "dentist@clinic.test", role: "dentist", name: "Dr. Dana Molar" });
  });

  it("stores only the token's hash", async () => {
    const { token } = await h.client().auth.login.mutate({ email: "admin@clinic.test", password: "admin-demo-pass" });
    const sessions = await h.db.prisma.session.findMany();
    expect(sessions.some((s) => s.tokenHash === token)).toBe(false);
    expect(sessions.every((s) => /^[0-9a-f]{64}$/.test(s.tokenHash))).toBe(true);
  });

  it("answers a wrong password and an unknown user alike: UNAUTHORIZED, same message", async () => {
    const wrong = await errorOf(h.client().auth.login.mutate({ email: "dentist@clinic.test", password: "nope" }));
    const unknown = await errorOf(h.client().auth.login.mutate({ email: "ghost@clinic.test", password: "nope" }));
    expect(wrong.data?.code).toBe("UNAUTHORIZED");
    expect(unknown.data?.code).toBe("UNAUTHORIZED");
    expect(wrong.message).toBe(unknown.message);
  });

  it("rejects malformed login input with BAD_REQUEST carrying zod's issues", async () => {
    const err = await errorOf(h.client().auth.login.mutate({ email: "not-an-email", password: "" }));
    expect(err.data?.code).toBe("BAD_REQUEST");
    expect(err.message).toMatch(/email/i);
  });

  it("a login is audited in sync mode: committed before the token is returned, actor = the user, no secret stored", async () => {
    const { token, user } = await h.client().auth.login.mutate({ email: "hygienist@clinic.test", password: "hygienist-demo-pass" });
    // No flush: sync mode waited for the row.
    const rows = await h.db.prisma.auditEntry.findMany({ where: { action: "auth.login", actorId: user.id } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ entity: "User", entityId: user.id, outcome: "ok", actorRole: "hygienist", after: null });
    const session = await h.db.prisma.session.findFirstOrThrow({ where: { userId: user.id } });
    expect(rows[0]?.metadata).toMatchObject({ sessionId: session.id });
    const text = storedText(await h.entries());
    expect(text).not.toContain(token);
    expect(text).not.toContain("hygienist-demo-pass");
  });

  it("a failed login is audited as UNAUTHORIZED with the email tried, never the password", async () => {
    await errorOf(h.client().auth.login.mutate({ email: "mallory@clinic.test", password: "guess-1234" }));
    const rows = await h.entries({ action: "auth.login", outcome: "UNAUTHORIZED" });
    expect(rows.at(-1)).toMatchObject({ actorId: null, metadata: { email: "mallory@clinic.test", error: { code: "UNAUTHORIZED" } } });
    expect(storedText(rows)).not.toContain("guess-1234");
  });

  it("logout revokes the session and is audited against it", async () => {
    const { token } = await h.client().auth.login.mutate({ email: "reception@clinic.test", password: "reception-demo-pass" });
    const me = await h.client(token).auth.me.query();
    await h.client(token).auth.logout.mutate();
    const [entry] = await h.entries({ action: "auth.logout", actorId: me.id });
    const session = await h.db.prisma.session.findUniqueOrThrow({ where: { id: entry?.entityId ?? "" } });
    expect(session.revokedAt).not.toBeNull();
    expect(entry).toMatchObject({ entity: "Session", outcome: "ok" });
  });

  it("an expired session is UNAUTHORIZED", async () => {
    const { token, user } = await h.client().auth.login.mutate({ email: "admin@clinic.test", password: "admin-demo-pass" });
    expect(
      new Date(
        (await h.db.prisma.session.findFirstOrThrow({ where: { userId: user.id }, orderBy: { createdAt: "desc" } })).expiresAt,
      ).getTime(),
    ).toBeGreaterThan(Date.now());
    await h.db.prisma.session.updateMany({ where: { userId: user.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await errorOf(h.client(token).auth.me.query())).data?.code).toBe("UNAUTHORIZED");
  });

  it("refuses auth.me without a token, and after logout", async () => {
    expect((await errorOf(h.client().auth.me.query())).data?.code).toBe("UNAUTHORIZED");
    const { token } = await h.client().auth.login.mutate({ email: "auditor@clinic.test", password: "auditor-demo-pass" });
    await h.client(token).auth.logout.mutate();
    expect((await errorOf(h.client(token).auth.me.query())).data?.code).toBe("UNAUTHORIZED");
  });
});
