import { testProviders } from "@auditrail/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, errorOf, startHarness } from "./harness.ts";

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

  it("refuses auth.me without a token, and after logout", async () => {
    expect((await errorOf(h.client().auth.me.query())).data?.code).toBe("UNAUTHORIZED");
    const { token } = await h.client().auth.login.mutate({ email: "auditor@clinic.test", password: "auditor-demo-pass" });
    await h.client(token).auth.logout.mutate();
    expect((await errorOf(h.client(token).auth.me.query())).data?.code).toBe("UNAUTHORIZED");
  });
});
