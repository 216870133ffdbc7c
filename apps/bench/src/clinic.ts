/**
 * The clinic API for the nplus1 and bulk cases: the real server (createApp) on the target's
 * database (seeded with the demo data, which the api case uses too), with the three audit writers
 * and a statement counter on the app's own connection.
 */
import type { AuditWriter } from "@auditrail/audit-core";
import { type App, type Services, createApp } from "@auditrail/api";
import { type ClinicClient, createClinicClient } from "@auditrail/api/client";
import { type Database, DEMO_STAFF, createDatabase, seedDemoData } from "@auditrail/db";
import { pino } from "pino";
import type { Target } from "./target.ts";

export interface Clinic {
  readonly base: string;
  readonly prisma: Database;
  readonly writers: { async: AuditWriter; sync: AuditWriter; durable: AuditWriter };
  /** Signs in as the demo staff member of `role`: the token and a typed client carrying it. */
  login(role: (typeof DEMO_STAFF)[number]["role"]): Promise<{ token: string; client: ClinicClient }>;
  /** Statements the app's own connection ran while `fn` did (audit workers are not counted). */
  statements<T>(fn: () => Promise<T>): Promise<{ result: T; statements: number }>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export async function openClinic(target: Target): Promise<Clinic> {
  let counting = false;
  let count = 0;
  const db = createDatabase(target.url, {
    onStatement: () => {
      if (counting) count++;
    },
  });
  await seedDemoData(db.prisma);
  const writers = {
    async: await target.openWriter({ mode: "async" }),
    sync: await target.openWriter({ mode: "sync" }),
    durable: await target.openWriter({ mode: "durable", maxWorkers: 1 }),
  };
  const services: Services = {
    prisma: db.prisma,
    writers,
    logger: pino({ level: "silent" }),
    sessionTtlMs: 60 * 60 * 1000,
  };
  const app: App = createApp(services, db);
  const base = await app.listen(0, "127.0.0.1");
  const flush = async () => {
    await Promise.all(Object.values(writers).map((w) => w.flush()));
  };
  return {
    base,
    prisma: db.prisma,
    writers,
    login: async (role) => {
      const staff = DEMO_STAFF.find((s) => s.role === role);
      if (!staff) throw new Error(`no demo staff with role ${role}`);
      const { token } = await createClinicClient(base).auth.login.mutate({ email: staff.email, password: staff.password });
      return { token, client: createClinicClient(base, token) };
    },
    statements: async (fn) => {
      count = 0;
      counting = true;
      try {
        const result = await fn();
        return { result, statements: count };
      } finally {
        counting = false;
      }
    },
    flush,
    close: async () => {
      await flush();
      await app.close();
    },
  };
}
