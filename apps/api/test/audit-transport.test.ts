/** AUDIT_TRANSPORT / NATS_URL: which sink the API's writers get. */
import { InvalidJetStreamConfigError } from "@auditrail/jetstream/stream";
import { describe, expect, it } from "vitest";
import { auditSinkSpec, auditTransportFromEnv } from "../src/audit-transport.ts";

describe("audit transport from the environment", () => {
  it("defaults to writing directly to the database with the SQL sink", () => {
    const transport = auditTransportFromEnv({});
    expect(transport).toEqual({ transport: "direct" });
    const spec = auditSinkSpec(transport, "file:./x.db");
    expect(spec.module).toMatch(/packages\/db\/dist\/sink\.js$/);
    expect(spec.options).toMatchObject({ url: "file:./x.db" });
  });

  it("publishes to the JetStream servers in NATS_URL (comma-separated) with AUDIT_TRANSPORT=jetstream", () => {
    const transport = auditTransportFromEnv({ AUDIT_TRANSPORT: "jetstream", NATS_URL: "nats://10.0.0.1:4222, 10.0.0.2:4222" });
    expect(transport).toEqual({ transport: "jetstream", servers: ["nats://10.0.0.1:4222", "10.0.0.2:4222"] });
    const spec = auditSinkSpec(transport, "file:./x.db");
    expect(spec.module).toMatch(/packages\/jetstream\/dist\/sink\.js$/);
    expect(spec.options).toMatchObject({ servers: ["nats://10.0.0.1:4222", "10.0.0.2:4222"] });
  });

  it("refuses an unknown transport, and jetstream without NATS_URL, with a named error", () => {
    expect(() => auditTransportFromEnv({ AUDIT_TRANSPORT: "kafka" })).toThrow(InvalidJetStreamConfigError);
    expect(() => auditTransportFromEnv({ AUDIT_TRANSPORT: "jetstream" })).toThrow(/NATS_URL: at least one server/);
  });
});
