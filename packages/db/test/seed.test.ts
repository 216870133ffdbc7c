import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DatabaseHandle, createDatabase } from "../src/client.ts";
import { verifyPassword } from "../src/password.ts";
import { DEMO_STAFF, seedDemoData } from "../src/seed.ts";
import { type TestDatabase, createTestDatabase, testProviders } from "../src/testing.ts";

describe.each(testProviders())("demo seed on %s", (provider) => {
  let db: TestDatabase;
  let handle: DatabaseHandle;
  beforeAll(async () => {
    db = await createTestDatabase(provider);
    handle = createDatabase(db.url);
  });
  afterAll(async () => {
    await handle?.close();
    await db?.drop();
  });

  it("creates one login per role, with hashed passwords, and five patients", async () => {
    const report = await seedDemoData(handle.prisma);
    expect(report.patientsCreated).toBe(5);
    const users = await handle.prisma.user.findMany({ orderBy: { email: "asc" } });
    expect(users.map((u) => u.role).sort()).toEqual(["admin", "auditor", "dentist", "hygienist", "receptionist"]);
    for (const person of DEMO_STAFF) {
      const user = users.find((u) => u.email === person.email);
      expect(user?.passwordHash).not.toContain(person.password);
      expect(await verifyPassword(person.password, user?.passwordHash ?? "")).toBe(true);
    }
  });

  it("is idempotent: a second run adds no users or patients", async () => {
    const report = await seedDemoData(handle.prisma);
    expect(report.patientsCreated).toBe(0);
    expect(await handle.prisma.user.count()).toBe(DEMO_STAFF.length);
    expect(await handle.prisma.patient.count()).toBe(5);
  });
});
