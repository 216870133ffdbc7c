import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadPublicKey, loadSigningKey } from "@auditrail/audit-core";
import { afterEach, describe, expect, it } from "vitest";
import { sealKeyFile } from "./sealing.ts";

describe("the signing key in effect", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("is the configured file when one is given (nothing is made)", async () => {
    dir = await mkdtemp(join(tmpdir(), "dev-key-"));
    expect(await sealKeyFile("/keys/seal.pem", dir)).toEqual({ keyFile: "/keys/seal.pem", development: false, created: false });
    expect(await readdir(dir)).toEqual([]);
  });

  it("is otherwise a development key pair, made once and reused afterwards", async () => {
    dir = await mkdtemp(join(tmpdir(), "dev-key-"));
    const first = await sealKeyFile(undefined, dir);
    expect(first).toEqual({ keyFile: join(dir, "dev-seal.pem"), development: true, created: true });
    expect((await loadSigningKey(first.keyFile)).asymmetricKeyType).toBe("ed25519");
    expect((await loadPublicKey(join(dir, "dev-seal.pub.pem"))).asymmetricKeyType).toBe("ed25519");
    const again = await sealKeyFile(undefined, dir);
    expect(again).toEqual({ keyFile: first.keyFile, development: true, created: false });
    expect(await readFile(again.keyFile, "utf8")).toContain("BEGIN PRIVATE KEY");
  });
});
