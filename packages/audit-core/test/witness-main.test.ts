/** The auditrail-witness program (dist/witness-main.js), as `audit:witness` runs it. */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { EMPTY_ROOT } from "../src/merkle.ts";
import { generateSealKeyPair, publicKeyFromPem, signSeal, signingKeyFromPem, verifySeal } from "../src/seal.ts";
import { WitnessClient } from "../src/witness.ts";
import { Cleanup } from "./helpers.ts";

const MAIN = fileURLToPath(new URL("../dist/witness-main.js", import.meta.url));
const cleanup = new Cleanup();
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  await cleanup.run();
});

function run(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return child;
}

describe("auditrail-witness", () => {
  it("starts from flags, prints its URL, cosigns a writer's seal and stops on SIGTERM", async () => {
    const dir = await cleanup.tempDir();
    const writer = generateSealKeyPair();
    const witness = generateSealKeyPair();
    await writeFile(join(dir, "writer.pub"), writer.publicKeyPem);
    await writeFile(join(dir, "witness.key"), witness.privateKeyPem);
    const child = run([
      "--dir",
      join(dir, "seals"),
      "--key",
      join(dir, "witness.key"),
      "--writer-key",
      join(dir, "writer.pub"),
      "--name",
      "witness-1",
    ]);
    const [line] = (await once(createInterface({ input: child.stdout as NodeJS.ReadableStream }), "line")) as [string];
    const { witness: url, name } = JSON.parse(line) as { witness: string; name: string };
    expect(name).toBe("witness-1");
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const seal = signSeal(
      {
        trail: "clinic",
        number: 1,
        time: "2026-12-01T06:00:00.000Z",
        prev: null,
        streams: [{ streamId: "a", size: 0, root: EMPTY_ROOT.toString("hex"), start: 1 }],
      },
      { name: "clinic", privateKey: signingKeyFromPem(writer.privateKeyPem) },
    );
    const cosigned = await new WitnessClient(url, 5_000).submit(seal, {});
    expect(verifySeal(cosigned, publicKeyFromPem(witness.publicKeyPem)).seal).toEqual(seal.seal);

    child.kill("SIGTERM");
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).toBe(0);
  });

  it("takes its settings from the environment, and exits 2 with the usage when one is missing", async () => {
    const dir = await cleanup.tempDir();
    const missing = run([], { AUDIT_WITNESS_DIR: dir });
    let stderr = "";
    missing.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = (await once(missing, "exit")) as [number | null];
    expect(code).toBe(2);
    expect(stderr).toMatch(/usage: auditrail-witness/);

    const pair = generateSealKeyPair();
    await writeFile(join(dir, "k.pem"), pair.privateKeyPem);
    const fromEnv = run([], {
      AUDIT_WITNESS_DIR: dir,
      AUDIT_WITNESS_KEY_FILE: join(dir, "k.pem"),
      AUDIT_WITNESS_WRITER_KEYS: join(dir, "k.pem"),
    });
    const [line] = (await once(createInterface({ input: fromEnv.stdout as NodeJS.ReadableStream }), "line")) as [string];
    expect(JSON.parse(line)).toMatchObject({ name: "witness", dir });
    fromEnv.kill("SIGTERM");
    await once(fromEnv, "exit");
  });

  it("exits 1 naming the problem when a key file is not a key", async () => {
    const dir = await cleanup.tempDir();
    await writeFile(join(dir, "bad.pem"), "nope");
    const child = run(["--dir", dir, "--key", join(dir, "bad.pem"), "--writer-key", join(dir, "bad.pem")]);
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).toBe(1);
    expect(stderr).toMatch(/Seal key .*bad\.pem/);
  });
});
