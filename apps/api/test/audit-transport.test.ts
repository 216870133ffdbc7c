/** AUDIT_TRANSPORT / NATS_URL (rows of config.ts): which sink the API's writers get. */
import { describe, expect, it } from "vitest";
import { auditSinkSpec } from "../src/audit-transport.ts";
import { ConfigError, loadConfig } from "../src/config.ts";

describe("audit transport from the environment", () => {
  it("defaults to writing directly to the database with the SQL sink", () => {
    const { transport } = loadConfig({});
    expect(transport).toEqual({ transport: "direct" });
    const spec = auditSinkSpec(transport, "file:./x.db");
    expect(spec.module).toMatch(/packages\/db\/dist\/sink\.js$/);
    expect(spec.options).toMatchObject({ url: "file:./x.db" });
  });

  it("publishes to the JetStream servers in NATS_URL (comma-separated) with AUDIT_TRANSPORT=jetstream", () => {
    const { transport } = loadConfig({ AUDIT_TRANSPORT: "jetstream", NATS_URL: "nats://10.0.0.1:4222, 10.0.0.2:4222" });
    expect(transport).toEqual({ transport: "jetstream", servers: ["nats://10.0.0.1:4222", "10.0.0.2:4222"] });
    const spec = auditSinkSpec(transport, "file:./x.db");
    expect(spec.module).toMatch(/packages\/jetstream\/dist\/sink\.js$/);
    expect(spec.options).toMatchObject({ servers: ["nats://10.0.0.1:4222", "10.0.0.2:4222"] });
  });

  it("refuses an unknown transport, and jetstream without NATS_URL, with a ConfigError naming the variable", () => {
    expect(() => loadConfig({ AUDIT_TRANSPORT: "kafka" })).toThrow(ConfigError);
    expect(() => loadConfig({ AUDIT_TRANSPORT: "kafka" })).toThrow(/AUDIT_TRANSPORT="kafka": expected direct \| jetstream/);
    expect(() => loadConfig({ AUDIT_TRANSPORT: "jetstream" })).toThrow(/NATS_URL: required with AUDIT_TRANSPORT=jetstream/);
    expect(() => loadConfig({ AUDIT_TRANSPORT: "jetstream", NATS_URL: " , " })).toThrow(
      /NATS_URL=" , ": expected comma-separated NATS servers/,
    );
  });
});
