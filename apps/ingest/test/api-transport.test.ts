/**
 * The whole path with the real API process: `AUDIT_TRANSPORT=jetstream` + `NATS_URL` make the
 * API's writers publish; ingest writes what they published. One nats-server (R1), SQLite.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type DatabaseHandle, createDatabase } from "@auditrail/db";
import { type TestDatabase, createTestDatabase } from "@auditrail/db/testing";
import { NatsCluster } from "@auditrail/jetstream/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ingest } from "../src/ingest.ts";
import { until } from "./harness.ts";

const API_MAIN = fileURLToPath(new URL("../../api/dist/main.js", import.meta.url));

describe("API with AUDIT_TRANSPORT=jetstream", () => {
  let server: NatsCluster;
  let db: TestDatabase;
  let handle: DatabaseHandle;
  let dir: string;
  let api: ChildProcess | undefined;
  let ingest: Ingest | undefined;

  beforeAll(async () => {
    server = await NatsCluster.start(1);
    db = await createTestDatabase("sqlite");
    handle = createDatabase(db.url);
    dir = await mkdtemp(join(tmpdir(), "api-transport-"));
  });
  afterAll(async () => {
    api?.kill("SIGKILL");
    await ingest?.stop();
    await handle?.close();
    await db?.drop();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("publishes the API's audit entries to the stream, and ingest writes them to the database", async () => {
    const stream = { replicas: 1 as const, maxBytes: 16 * 1024 ** 2 };
    // Ingest first: it creates the stream (the API's writers only publish).
    // No signing key configured: ingest seals with the development key (the API's, under .auditrail/keys).
    ingest = await Ingest.start({
      servers: server.urls,
      databaseUrl: db.url,
      stream,
      deadLetterDir: join(dir, "ingest"),
      seal: { anchorDir: join(dir, "anchors") },
    });
    expect(ingest.developmentKey).toMatch(/dev-seal\.pem$/);
    let output = "";
    api = spawn(process.execPath, [API_MAIN], {
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        PORT: "0",
        AUDIT_TRANSPORT: "jetstream",
        NATS_URL: server.natsUrl,
        AUDIT_SPOOL_DIR: join(dir, "spool"),
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    api.stdout?.setEncoding("utf8").on("data", (c: string) => (output += c));
    api.stderr?.setEncoding("utf8").on("data", (c: string) => (output += c));
    await until(
      () => /clinic API on (http:\/\/\S+)/.test(output),
      30_000,
      () => output,
    );
    const base = (/clinic API on (http:\/\/\S+)/.exec(output) as RegExpExecArray)[1] as string;
    expect(output).toMatch(/published to JetStream/);

    // A failed login is audited (outcome UNAUTHORIZED) by the async writer.
    const response = await fetch(`${base}/trpc/auth.login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "nobody@clinic.test", password: "wrong-password" }),
    });
    expect(response.status).toBe(401);
    await until(
      async () => (await handle.prisma.auditEntry.count({ where: { action: "auth.login" } })) === 1,
      30_000,
      () => JSON.stringify(ingest?.stats()),
    );
    const row = await handle.prisma.auditEntry.findFirstOrThrow({ where: { action: "auth.login" } });
    expect(row.outcome).toBe("UNAUTHORIZED");
    // Written by ingest, linked into ingest's chain (the API's writers forwarded it unlinked).
    expect(ingest.stats().written).toBe(1);
    expect(row.seq).toBe(1);
    // ingest seals its stream into its own trail (and the seal table).
    await ingest.seal();
    const seal = await handle.prisma.auditSeal.findFirstOrThrow({ where: { trail: ingest.trail } });
    expect(seal.note).toContain(`stream ${row.streamId} 1 `);
  });
});
