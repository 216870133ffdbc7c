/**
 * Staff management, password changes and sessions over HTTP: who may do what, what a deactivation
 * or a revocation does to live tokens, and what the trail keeps (before/after/diff, never a
 * password or a token).
 */
import { DEMO_STAFF } from "@auditrail/db";
import { testProviders } from "@auditrail/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashToken } from "../src/context.ts";
import type { RouterInputs } from "../src/router.ts";
import { type Client, type Harness, type Role, errorOf, startHarness, storedText } from "./harness.ts";

const UNKNOWN = "01900000-0000-7000-8000-0000000000aa";
const NON_ADMINS = ["dentist", "hygienist", "receptionist", "auditor"] as const satisfies readonly Role[];

let serial = 0;
/** A new staff member's input, with a unique email. */
const newStaff = (role: RouterInputs["staff"]["create"]["role"], password = "initial-pass-123"): RouterInputs["staff"]["create"] => ({
  name: `New ${role} ${++serial}`,
  email: `New.${role}.${serial}@Clinic.test`,
  role,
  password,
});

describe.each(testProviders())("staff, passwords and sessions over HTTP on %s", (provider) => {
  let h: Harness;
  let admin: Client;
  const login = async (email: string, password: string) => (await h.client().auth.login.mutate({ email, password })).token;

  beforeAll(async () => {
    h = await startHarness(provider);
    admin = await h.as("admin");
  });
  afterAll(() => h?.close());

  it("refuses to demote or deactivate the only active admin (CONFLICT), and changes nothing", async () => {
    const adminId = (await h.staff("admin")).id;
    expect(await h.db.prisma.user.count({ where: { role: "admin", active: true } })).toBe(1);
    const demote = await errorOf(admin.staff.setRole.mutate({ id: adminId, role: "dentist" }));
    const deactivate = await errorOf(admin.staff.deactivate.mutate({ id: adminId }));
    expect(demote.data?.code).toBe("CONFLICT");
    expect(deactivate.data?.code).toBe("CONFLICT");
    expect(demote.message).toMatch(/no active admin left/);
    expect(await h.db.prisma.user.findUniqueOrThrow({ where: { id: adminId } })).toMatchObject({ role: "admin", active: true });
    expect(await admin.auth.me.query()).toMatchObject({ role: "admin" });
    expect(await h.entries({ action: "staff.setRole", outcome: "CONFLICT" })).toHaveLength(1);
  });

  it("an admin creates a staff member who signs in with the initial password; the email is stored lower-cased", async () => {
    const input = newStaff("hygienist");
    const created = await admin.staff.create.mutate(input);
    expect(created).toMatchObject({ name: input.name, email: input.email.toLowerCase(), role: "hygienist", active: true });
    expect(Object.keys(created)).not.toContain("passwordHash");
    const token = await login(input.email, input.password);
    expect(await h.client(token).auth.me.query()).toMatchObject({ id: created.id, role: "hygienist" });
  });

  it("staff.create is audited with the new member as after, and neither the password nor its hash is stored", async () => {
    const input = newStaff("receptionist", "secret-initial-9876");
    const created = await admin.staff.create.mutate(input);
    const [entry] = await h.entries({ action: "staff.create", entityId: created.id });
    expect(entry).toMatchObject({ entity: "User", outcome: "ok", actorId: (await h.staff("admin")).id, actorRole: "admin" });
    expect(entry?.after).toMatchObject({ email: created.email, role: "receptionist", active: true });
    const hash = (await h.db.prisma.user.findUniqueOrThrow({ where: { id: created.id } })).passwordHash;
    const text = storedText(await h.entries());
    expect(text).not.toContain("secret-initial-9876");
    expect(text).not.toContain(hash);
  });

  it("a second member with the same email (any case) is CONFLICT", async () => {
    const input = newStaff("dentist");
    await admin.staff.create.mutate(input);
    const err = await errorOf(admin.staff.create.mutate({ ...input, email: input.email.toUpperCase() }));
    expect(err.data?.code).toBe("CONFLICT");
    expect(err.message).toContain(input.email.toLowerCase());
  });

  it.each([
    ["a password under 12 characters", { password: "short" }, /at least 12/],
    ["an unknown role", { role: "janitor" }, /role/],
    // Not NUL: every input holding U+0000 is refused before the schema (errors.ts), with its own message.
    ["a control character in the name", { name: "Eve\u0007Bell" }, /control characters/],
    ["an unknown key", { active: false }, /Unrecognized key/],
    ["a malformed email", { email: "nobody" }, /email/],
  ])("staff.create with %s is BAD_REQUEST with zod's issues, and audited", async (_name, change, message) => {
    const before = await h.db.prisma.user.count();
    const err = await errorOf(admin.staff.create.mutate({ ...newStaff("dentist"), ...(change as object) }));
    expect(err.data?.code).toBe("BAD_REQUEST");
    expect(err.data?.zodError).not.toBeNull();
    expect(err.message).toMatch(message);
    expect(await h.db.prisma.user.count()).toBe(before);
    const rows = await h.entries({ action: "staff.create", outcome: "BAD_REQUEST" });
    expect(rows.length).toBeGreaterThan(0);
    expect(storedText(rows)).not.toContain("initial-pass-123");
  });

  it.each(NON_ADMINS)("a %s is FORBIDDEN from every staff and session procedure, each refusal audited", async (role) => {
    const c = await h.as(role);
    const me = await c.auth.me.query();
    const target = (await h.staff("dentist")).id;
    const calls: [string, () => Promise<unknown>][] = [
      ["staff.create", () => c.staff.create.mutate(newStaff("admin"))],
      ["staff.list", () => c.staff.list.query({})],
      ["staff.setRole", () => c.staff.setRole.mutate({ id: target, role: "admin" })],
      ["staff.deactivate", () => c.staff.deactivate.mutate({ id: target })],
      ["staff.reactivate", () => c.staff.reactivate.mutate({ id: target })],
      ["session.list", () => c.session.list.query({})],
      ["session.revoke", () => c.session.revoke.mutate({ id: UNKNOWN })],
    ];
    for (const [path, call] of calls) {
      const err = await errorOf(call());
      expect([path, err.data?.code]).toEqual([path, "FORBIDDEN"]);
    }
    const denied = (await h.entries({ actorId: me.id, outcome: "FORBIDDEN" })).map((e) => e.path);
    expect(denied.sort()).toEqual(calls.map(([path]) => path).sort());
    expect(await h.db.prisma.user.findUniqueOrThrow({ where: { id: target } })).toMatchObject({ role: "dentist", active: true });
  });

  it("staff.list shows active members (inactive ones on request), without password hashes, and is audited", async () => {
    const gone = await admin.staff.create.mutate(newStaff("auditor"));
    await admin.staff.deactivate.mutate({ id: gone.id });
    const active = await admin.staff.list.query({ limit: 100 });
    const all = await admin.staff.list.query({ includeInactive: true, limit: 100 });
    expect(active.items.map((u) => u.email)).toEqual(expect.arrayContaining(DEMO_STAFF.map((s) => s.email)));
    expect(active.items.some((u) => u.id === gone.id)).toBe(false);
    expect(all.items.find((u) => u.id === gone.id)).toMatchObject({ active: false });
    expect(JSON.stringify(all)).not.toContain("scrypt$");
    expect(await h.entries({ action: "staff.list", outcome: "ok" })).toHaveLength(2);
  });

  it("staff.list pages with a cursor, each member exactly once", async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await admin.staff.list.query({ includeInactive: true, limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((u) => u.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toHaveLength(await h.db.prisma.user.count());
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("a role change takes effect on the member's open session and is audited with before, after and diff", async () => {
    const input = newStaff("receptionist");
    const member = await admin.staff.create.mutate(input);
    const c = h.client(await login(input.email, input.password));
    expect((await errorOf(c.record.listByPatient.query({ patientId: UNKNOWN }))).data?.code).toBe("FORBIDDEN");
    expect(await admin.staff.setRole.mutate({ id: member.id, role: "dentist" })).toMatchObject({ role: "dentist" });
    expect((await errorOf(c.record.listByPatient.query({ patientId: UNKNOWN }))).data?.code).toBe("NOT_FOUND");
    const [entry] = await h.entries({ action: "staff.setRole", entityId: member.id });
    expect(entry?.before).toMatchObject({ role: "receptionist" });
    expect(entry?.after).toMatchObject({ role: "dentist" });
    expect(entry?.diff).toEqual([{ path: "role", from: "receptionist", to: "dentist" }]);
  });

  it("a deactivated member's sessions stop working at once and they cannot sign in; reactivation lets them sign in again", async () => {
    const input = newStaff("dentist");
    const member = await admin.staff.create.mutate(input);
    const tokens = [await login(input.email, input.password), await login(input.email, input.password)];
    expect(await admin.staff.deactivate.mutate({ id: member.id })).toMatchObject({ active: false });
    for (const token of tokens) expect((await errorOf(h.client(token).auth.me.query())).data?.code).toBe("UNAUTHORIZED");
    const refused = await errorOf(login(input.email, input.password));
    expect(refused.data?.code).toBe("UNAUTHORIZED");
    expect(refused.message).toBe("Invalid email or password.");
    expect(await h.db.prisma.session.count({ where: { userId: member.id, revokedAt: null } })).toBe(0);

    const [entry] = await h.entries({ action: "staff.deactivate", entityId: member.id });
    expect(entry?.diff).toEqual([{ path: "active", from: true, to: false }]);
    expect(entry?.metadata).toMatchObject({ revokedSessions: 2 });

    expect(await admin.staff.reactivate.mutate({ id: member.id })).toMatchObject({ active: true });
    expect((await errorOf(h.client(tokens[0]).auth.me.query())).data?.code).toBe("UNAUTHORIZED");
    expect(await h.client(await login(input.email, input.password)).auth.me.query()).toMatchObject({ id: member.id });
    expect((await h.entries({ action: "staff.reactivate", entityId: member.id }))[0]?.diff).toEqual([
      { path: "active", from: false, to: true },
    ]);
  });

  it("staff procedures on an unknown id are NOT_FOUND naming it", async () => {
    for (const call of [
      () => admin.staff.setRole.mutate({ id: UNKNOWN, role: "dentist" }),
      () => admin.staff.deactivate.mutate({ id: UNKNOWN }),
      () => admin.staff.reactivate.mutate({ id: UNKNOWN }),
      () => admin.session.revoke.mutate({ id: UNKNOWN }),
    ]) {
      const err = await errorOf(call());
      expect(err.data?.code).toBe("NOT_FOUND");
      expect(err.message).toContain(UNKNOWN);
    }
  });

  it("changing one's password needs the current one, revokes the member's other sessions and keeps this one", async () => {
    const input = newStaff("hygienist", "old-password-123");
    const member = await admin.staff.create.mutate(input);
    const here = h.client(await login(input.email, input.password));
    const elsewhere = h.client(await login(input.email, input.password));
    const wrong = await errorOf(here.auth.changePassword.mutate({ currentPassword: "not-it-at-all", newPassword: "new-password-456" }));
    expect(wrong.data?.code).toBe("FORBIDDEN");
    expect(await elsewhere.auth.me.query()).toMatchObject({ id: member.id });

    expect(await here.auth.changePassword.mutate({ currentPassword: "old-password-123", newPassword: "new-password-456" })).toEqual({
      ok: true,
      revokedSessions: 1,
    });
    expect(await here.auth.me.query()).toMatchObject({ id: member.id });
    expect((await errorOf(elsewhere.auth.me.query())).data?.code).toBe("UNAUTHORIZED");
    expect((await errorOf(login(input.email, "old-password-123"))).data?.code).toBe("UNAUTHORIZED");
    expect(await h.client(await login(input.email, "new-password-456")).auth.me.query()).toMatchObject({ id: member.id });
  });

  it("a password change is audited in sync mode against the member (the failed attempt too), with no password stored", async () => {
    const input = newStaff("auditor", "first-password-1");
    const member = await admin.staff.create.mutate(input);
    const c = h.client(await login(input.email, input.password));
    await errorOf(c.auth.changePassword.mutate({ currentPassword: "a-wrong-guess-77", newPassword: "second-password-2" }));
    await c.auth.changePassword.mutate({ currentPassword: "first-password-1", newPassword: "second-password-2" });
    // No flush: the successful change's entry was committed before the answer (sync mode).
    const committed = await h.db.prisma.auditEntry.findMany({
      where: { action: "auth.changePassword", entityId: member.id, outcome: "ok" },
    });
    expect(committed).toHaveLength(1);
    expect(committed[0]).toMatchObject({ entity: "User", actorId: member.id, actorRole: "auditor", metadata: { revokedSessions: 0 } });
    expect((await h.entries({ action: "auth.changePassword", entityId: member.id, outcome: "FORBIDDEN" })).length).toBe(1);
    const text = storedText(await h.entries());
    for (const secret of ["first-password-1", "second-password-2", "a-wrong-guess-77"]) expect(text).not.toContain(secret);
  });

  it.each([
    ["a new password under 12 characters", { currentPassword: "admin-demo-pass", newPassword: "short" }, /at least 12/],
    ["the same password again", { currentPassword: "admin-demo-pass", newPassword: "admin-demo-pass" }, /must differ/],
    ["no current password", { newPassword: "a-long-new-password" }, /currentPassword/],
    ["an unknown key", { currentPassword: "admin-demo-pass", newPassword: "a-long-new-password", userId: UNKNOWN }, /Unrecognized key/],
  ])("auth.changePassword with %s is BAD_REQUEST and changes nothing", async (_name, input, message) => {
    const err = await errorOf(admin.auth.changePassword.mutate(input as RouterInputs["auth"]["changePassword"]));
    expect(err.data?.code).toBe("BAD_REQUEST");
    expect(err.message).toMatch(message);
    expect(await admin.auth.me.query()).toMatchObject({ role: "admin" });
    await login("admin@clinic.test", "admin-demo-pass");
  });

  it("session.list shows open sessions (ended ones on request) with no token or hash; session.revoke ends one: its token is UNAUTHORIZED", async () => {
    const input = newStaff("receptionist");
    const member = await admin.staff.create.mutate(input);
    const token = await login(input.email, input.password);
    const other = await login(input.email, input.password);
    const open = await admin.session.list.query({ userId: member.id });
    expect(open.items).toHaveLength(2);
    expect(open.items.every((s) => s.open && s.userEmail === member.email)).toBe(true);
    const text = JSON.stringify(open);
    for (const secret of [token, other]) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/[0-9a-f]{64}/);

    const session = await h.db.prisma.session.findFirstOrThrow({ where: { userId: member.id }, orderBy: { id: "asc" } });
    const revoked = await admin.session.revoke.mutate({ id: session.id });
    expect(revoked).toMatchObject({ id: session.id, open: false });
    expect(revoked.revokedAt).not.toBeNull();
    expect((await errorOf(h.client(token).auth.me.query())).data?.code).toBe("UNAUTHORIZED");
    expect(await h.client(other).auth.me.query()).toMatchObject({ id: member.id });

    expect((await admin.session.list.query({ userId: member.id })).items.map((s) => s.id)).not.toContain(session.id);
    expect((await admin.session.list.query({ userId: member.id, includeEnded: true })).items).toHaveLength(2);

    const [entry] = await h.entries({ action: "session.revoke", entityId: session.id });
    expect(entry).toMatchObject({ entity: "Session", outcome: "ok", actorRole: "admin" });
    expect(entry?.before).toMatchObject({ open: true, revokedAt: null });
    expect(entry?.after).toMatchObject({ open: false, revokedAt: revoked.revokedAt });
    expect(storedText(await h.entries())).not.toContain(token);
  });

  it("a session opened while its member was deactivated stays closed after reactivation", async () => {
    const input = newStaff("hygienist");
    const member = await admin.staff.create.mutate(input);
    await admin.staff.deactivate.mutate({ id: member.id });
    // What a sign-in racing the deactivation leaves behind: an open session of an inactive member.
    const token = "raced-sign-in-token-0123456789abcdefghijklmnop";
    await h.db.prisma.session.create({
      data: { userId: member.id, tokenHash: hashToken(token), expiresAt: new Date(Date.now() + 60_000) },
    });
    expect((await errorOf(h.client(token).auth.me.query())).data?.code).toBe("UNAUTHORIZED");
    await admin.staff.reactivate.mutate({ id: member.id });
    expect((await errorOf(h.client(token).auth.me.query())).data?.code).toBe("UNAUTHORIZED");
  });

  it("revoking an ended session again is harmless: same answer, still one change", async () => {
    const { token } = await h.client().auth.login.mutate({ email: "dentist@clinic.test", password: "dentist-demo-pass" });
    const [session] = (await admin.session.list.query({ userId: (await h.staff("dentist")).id })).items;
    const first = await admin.session.revoke.mutate({ id: session?.id ?? "" });
    const second = await admin.session.revoke.mutate({ id: session?.id ?? "" });
    expect(second).toEqual(first);
    expect((await errorOf(h.client(token).auth.me.query())).data?.code).toBe("UNAUTHORIZED");
    const entries = await h.entries({ action: "session.revoke", entityId: session?.id ?? "" });
    expect(entries.map((e) => (e.diff as unknown[]).length)).toEqual([2, 0]);
  });

  // Last: the demo admin may lose the role here. On PostgreSQL the loser's serialization failure
  // is retried by transact(), then answered CONFLICT — never a 500.
  it("two admins demoting each other at once leave exactly one active admin", async () => {
    const input = newStaff("admin");
    const second = await admin.staff.create.mutate(input);
    const other = h.client(await login(input.email, input.password));
    const adminId = (await h.staff("admin")).id;
    const results = await Promise.allSettled([
      admin.staff.setRole.mutate({ id: second.id, role: "dentist" }),
      other.staff.setRole.mutate({ id: adminId, role: "dentist" }),
    ]);
    const codes = await Promise.all(
      results.map(async (r) => (r.status === "fulfilled" ? "ok" : (await errorOf(Promise.reject(r.reason))).data?.code)),
    );
    expect(
      codes.filter((c) => c === "ok"),
      codes.join(),
    ).toHaveLength(1);
    // The loser either saw the winner's change (CONFLICT) or had lost the role already (FORBIDDEN).
    expect(
      codes.filter((c) => c !== "ok").every((c) => c === "CONFLICT" || c === "FORBIDDEN"),
      codes.join(),
    ).toBe(true);
    expect(await h.db.prisma.user.count({ where: { role: "admin", active: true } })).toBe(1);
  });
});
