import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadPublicKey, loadSigningKey } from "@auditrail/audit-core";
import { afterEach, describe, expect, it } from "vitest";
import { SealConfigError, developmentKey, sealEnvOf } from "./sealing.ts";

describe("seal settings", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("default to the anchors under .auditrail, a seal a second at most, the trail 'clinic'", () => {
    expect(sealEnvOf({})).toEqual({ AUDIT_ANCHOR_DIR: ".auditrail/anchors", AUDIT_SEAL_EVERY_MS: 1_000, AUDIT_TRAIL: "clinic" });
  });

  it("refuse bad values with a SealConfigError naming each", () => {
    const attempt = () => sealEnvOf({ AUDIT_SEAL_EVERY_MS: "soon", AUDIT_TRAIL: "a trail", AUDIT_WITNESS_URL: "not a url" });
    expect(attempt).toThrow(SealConfigError);
    expect(attempt).toThrow(/AUDIT_SEAL_EVERY_MS.*AUDIT_TRAIL.*AUDIT_WITNESS_URL/);
  });

  it("make a development key once, and reuse it afterwards", async () => {
    dir = await mkdtemp(join(tmpdir(), "dev-key-"));
    const first = await developmentKey(dir);
    expect(first.created).toBe(true);
    expect((await loadSigningKey(first.keyFile)).asymmetricKeyType).toBe("ed25519");
    expect((await loadPublicKey(join(dir, "dev-seal.pub.pem"))).asymmetricKeyType).toBe("ed25519");
    const again = await developmentKey(dir);
    expect(again).toEqual({ keyFile: first.keyFile, created: false });
    expect(await readFile(again.keyFile, "utf8")).toContain("BEGIN PRIVATE KEY");
  });
});
