import { readFile } from "node:fs/promises";
import { defaultDatabaseUrl } from "@auditrail/db";
import { describe, expect, it } from "vitest";
import { type Config, ConfigError, VARIABLE_NAMES, loadConfig } from "./config.ts";

const errorOf = (env: NodeJS.ProcessEnv): ConfigError => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
};

describe("the API's configuration", () => {
  it("has a documented default for every variable when the environment is empty", () => {
    expect(loadConfig({})).toEqual({
      databaseUrl: defaultDatabaseUrl(),
      port: 3000,
      host: "127.0.0.1",
      nodeEnv: "development",
      logLevel: "info",
      trustProxy: false,
      sessionTtlMs: 480 * 60_000,
      audit: {
        defaultMode: "async",
        allowOff: false,
        maxWorkers: 2,
        maxQueueSize: 10_000,
        overflow: "spill",
        maxBatchSize: 500,
        maxBatchWaitMs: 100,
        closeDeadlineMs: 10_000,
        spoolDir: ".auditrail/spool",
      },
      seal: {
        trail: "clinic",
        signingKeyFile: undefined,
        publicKeyFile: undefined,
        anchorDir: ".auditrail/anchors",
        sealEveryMs: 1_000,
        witnessUrl: undefined,
      },
      transport: { transport: "direct" },
    } satisfies Config);
  });

  it("treats an empty value as unset", () => {
    expect(loadConfig({ PORT: "", AUDIT_MODE: "" })).toMatchObject({ port: 3000, audit: { defaultMode: "async" } });
  });

  it("reads every variable", () => {
    const config = loadConfig({
      DATABASE_URL: "postgresql://u:secret@db:5432/clinic",
      PORT: "0",
      HOST: "0.0.0.0",
      NODE_ENV: "production",
      LOG_LEVEL: "warn",
      TRUST_PROXY: "true",
      SESSION_TTL_MINUTES: "15",
      AUDIT_MODE: "sync",
      AUDIT_ALLOW_OFF: "1",
      AUDIT_MAX_WORKERS: "4",
      AUDIT_MAX_QUEUE: "50000",
      AUDIT_OVERFLOW: "block",
      AUDIT_MAX_BATCH: "100",
      AUDIT_MAX_BATCH_WAIT_MS: "250",
      AUDIT_CLOSE_DEADLINE_MS: "2500",
      AUDIT_SPOOL_DIR: "/var/spool/auditrail",
      AUDIT_SEAL_KEY_FILE: "/keys/seal.pem",
      AUDIT_PUBLIC_KEY_FILE: "/keys/seal.pub.pem",
      AUDIT_ANCHOR_DIR: "/mnt/anchors",
      AUDIT_SEAL_EVERY_MS: "250",
      AUDIT_TRAIL: "clinic-eu.1",
      AUDIT_WITNESS_URL: "https://witness.example/cosign",
      AUDIT_TRANSPORT: "jetstream",
      NATS_URL: "nats://n1:4222,n2",
    });
    expect(config).toEqual({
      databaseUrl: "postgresql://u:secret@db:5432/clinic",
      port: 0,
      host: "0.0.0.0",
      nodeEnv: "production",
      logLevel: "warn",
      trustProxy: true,
      sessionTtlMs: 15 * 60_000,
      audit: {
        defaultMode: "sync",
        allowOff: true,
        maxWorkers: 4,
        maxQueueSize: 50_000,
        overflow: "block",
        maxBatchSize: 100,
        maxBatchWaitMs: 250,
        closeDeadlineMs: 2500,
        spoolDir: "/var/spool/auditrail",
      },
      seal: {
        trail: "clinic-eu.1",
        signingKeyFile: "/keys/seal.pem",
        publicKeyFile: "/keys/seal.pub.pem",
        anchorDir: "/mnt/anchors",
        sealEveryMs: 250,
        witnessUrl: "https://witness.example/cosign",
      },
      transport: { transport: "jetstream", servers: ["nats://n1:4222", "n2"] },
    } satisfies Config);
  });

  it.each([
    ["DATABASE_URL", "mysql://db/clinic", "file:<path> (SQLite) or postgresql://"],
    ["PORT", "80a", "an integer from 0 to 65535"],
    ["PORT", "70000", "an integer from 0 to 65535"],
    ["NODE_ENV", "staging", "development | production | test"],
    ["LOG_LEVEL", "verbose", "fatal | error | warn | info | debug | trace | silent"],
    ["TRUST_PROXY", "yes", "1 | 0 (true | false)"],
    ["SESSION_TTL_MINUTES", "0", "an integer from 1 to 10080"],
    ["AUDIT_MODE", "fast", "async | durable | sync | off"],
    ["AUDIT_MODE", "transactional", "async | durable | sync | off"],
    ["AUDIT_ALLOW_OFF", "2", "1 | 0 (true | false)"],
    ["AUDIT_MAX_WORKERS", "0", "an integer from 1 to 64"],
    ["AUDIT_MAX_WORKERS", "2.5", "an integer from 1 to 64"],
    ["AUDIT_MAX_QUEUE", "-1", "an integer from 1 to 10000000"],
    ["AUDIT_OVERFLOW", "wait", "block | spill | drop"],
    ["AUDIT_MAX_BATCH", "10001", "an integer from 1 to 10000"],
    ["AUDIT_MAX_BATCH_WAIT_MS", "60001", "an integer from 0 to 60000"],
    ["AUDIT_CLOSE_DEADLINE_MS", "1e3", "an integer from 0 to 600000"],
    ["AUDIT_SEAL_EVERY_MS", "soon", "an integer from 10 to 86400000"],
    ["AUDIT_SEAL_EVERY_MS", "5", "an integer from 10 to 86400000"],
    ["AUDIT_TRAIL", "a trail", "1–128 of A-Z a-z 0-9 . _ -, starting with a letter or digit"],
    ["AUDIT_WITNESS_URL", "not a url", "an http(s) URL"],
    ["AUDIT_WITNESS_URL", "ftp://witness.example", "an http(s) URL"],
    ["AUDIT_TRANSPORT", "kafka", "direct | jetstream"],
    ["NATS_URL", "nats://a:4222/x", "comma-separated NATS servers"],
  ])("refuses %s=%s, naming the variable and what it accepts", (name, value, accepts) => {
    const error = errorOf({ [name]: value });
    expect(error.issues).toHaveLength(1);
    expect(error.message).toContain(`${name}=${JSON.stringify(value)}: expected ${accepts}`);
  });

  it("lists every bad variable at once", () => {
    const error = errorOf({ PORT: "x", AUDIT_OVERFLOW: "y", AUDIT_MAX_WORKERS: "z" });
    expect(error.issues.map((i) => i.split("=")[0])).toEqual(["PORT", "AUDIT_MAX_WORKERS", "AUDIT_OVERFLOW"]);
  });

  it("refuses AUDIT_MODE=off in production unless AUDIT_ALLOW_OFF=1", () => {
    expect(errorOf({ AUDIT_MODE: "off", NODE_ENV: "production" }).message).toMatch(
      /AUDIT_MODE=off: refused with NODE_ENV=production.*AUDIT_ALLOW_OFF=1/,
    );
    expect(loadConfig({ AUDIT_MODE: "off", NODE_ENV: "production", AUDIT_ALLOW_OFF: "1" }).audit.defaultMode).toBe("off");
    expect(loadConfig({ AUDIT_MODE: "off" }).audit.defaultMode).toBe("off");
  });

  it("refuses AUDIT_TRANSPORT=jetstream without NATS_URL", () => {
    expect(errorOf({ AUDIT_TRANSPORT: "jetstream" }).message).toContain(
      "NATS_URL: required with AUDIT_TRANSPORT=jetstream (expected comma-separated NATS servers",
    );
  });

  /** Every variable the API reads: the writers', the seals' and the transport's are rows of the one table. */
  const everyName = VARIABLE_NAMES;

  it("turbo passes every variable to the start task (turbo drops unlisted ones)", async () => {
    const turbo = JSON.parse(await readFile(new URL("../../../turbo.json", import.meta.url), "utf8")) as {
      tasks: { start: { env: string[] } };
    };
    expect([...turbo.tasks.start.env].sort()).toEqual([...everyName].sort());
  });

  it("the API README's settings table has one row per variable, in the table's order", async () => {
    const text = await readFile(new URL("../README.md", import.meta.url), "utf8");
    const section = text.slice(text.indexOf("## Settings"), text.indexOf("\n## ", text.indexOf("## Settings") + 1));
    const rows = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(rows).toEqual(VARIABLE_NAMES);
  });

  it("both READMEs list every variable", async () => {
    for (const readme of ["../README.md", "../../../README.md"]) {
      const text = await readFile(new URL(readme, import.meta.url), "utf8");
      expect(
        everyName.filter((name) => !text.includes(`\`${name}\``)),
        readme,
      ).toEqual([]);
    }
  });
});
