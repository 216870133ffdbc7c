/**
 * The native engine's protocol, exercised directly (without the prisma CLI).
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { afterAll, describe, expect, it } from "vitest";

import { packageDir, schema } from "./helpers.ts";

const engineBin = join(packageDir, "bin", "schema-engine");
const dir = mkdtempSync(join(tmpdir(), "prisma-engine-protocol-"));
const schemaPath = join(dir, "schema.prisma");
writeFileSync(schemaPath, schema("sqlite"));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

type Message = Record<string, unknown>;

/** A running engine and the messages it writes to stdout. */
class EngineProcess {
  readonly child: ChildProcessWithoutNullStreams;
  private readonly messages: Message[] = [];
  private waiters: Array<() => void> = [];

  constructor(args: string[]) {
    this.child = spawn(engineBin, args, { cwd: dir });
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      this.messages.push(JSON.parse(line) as Message);
      for (const wake of this.waiters) wake();
      this.waiters = [];
    });
  }

  send(message: Message): void {
    this.child.stdin.write(`${JSON.stringify(message)}\n`);
  }

  async next(): Promise<Message> {
    for (;;) {
      const message = this.messages.shift();
      if (message !== undefined) return message;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  exitCode(): Promise<number | null> {
    return new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
  }
}

describe("JSON-RPC server", () => {
  it("serves requests, prints diffs through `print` and exits when stdin closes", async () => {
    const url = `file:${join(dir, "rpc.db")}`;
    const engine = new EngineProcess(["--datamodels", schemaPath, "--datasource", JSON.stringify({ url })]);
    const exited = engine.exitCode();

    engine.send({ jsonrpc: "2.0", id: 1, method: "getDatabaseVersion" });
    expect(await engine.next()).toMatchObject({ id: 1, result: expect.stringMatching(/^3\.\d+/) });

    engine.send({
      jsonrpc: "2.0",
      id: 2,
      method: "diff",
      params: {
        from: { tag: "empty" },
        to: { tag: "schemaDatamodel", files: [{ path: schemaPath, content: schema("sqlite") }] },
        script: true,
        exitCode: true,
        filters: { externalTables: [], externalEnums: [] },
      },
    });
    const print = await engine.next();
    expect(print).toMatchObject({ method: "print", params: { content: expect.stringContaining('CREATE TABLE "User"') } });
    engine.send({ jsonrpc: "2.0", id: print.id as string, result: {} });
    expect(await engine.next()).toEqual({ jsonrpc: "2.0", id: 2, result: { exitCode: 2 } });

    engine.send({ jsonrpc: "2.0", id: 3, method: "noSuchMethod", params: {} });
    expect(await engine.next()).toMatchObject({ id: 3, error: { code: -32601 } });

    engine.child.stdin.end();
    expect(await exited).toBe(0);
  });

  it("reports user-facing errors with their Prisma error code", async () => {
    const engine = new EngineProcess(["--datasource", JSON.stringify({ url: "mysql://localhost/db" })]);
    engine.send({ jsonrpc: "2.0", id: 1, method: "ensureConnectionValidity", params: { datasource: { tag: "Schema", files: [] } } });
    expect(await engine.next()).toMatchObject({
      id: 1,
      error: { data: { is_panic: false, error_code: "P1013", message: expect.stringContaining("mysql:") } },
    });
    engine.child.kill("SIGTERM");
    expect(await engine.exitCode()).toBe(0);
  });
});

describe("one-shot `cli` commands", () => {
  const url = `file:${join(dir, "created.db")}`;
  const run = (command: string) =>
    spawnSync(engineBin, ["--datasource", JSON.stringify({ url }), "cli", command], { cwd: dir, encoding: "utf8" });

  it("report a missing database as P1003 on the second stderr line", () => {
    const result = run("can-connect-to-database");
    expect(result.status).toBe(1);
    const [, error] = result.stderr.trim().split("\n");
    expect(JSON.parse(error ?? "")).toMatchObject({
      level: "ERROR",
      target: "schema_engine::logger",
      fields: { error_code: "P1003", message: expect.stringContaining("created.db") },
    });
  });

  it("create the database, which can then be connected to", () => {
    expect(run("create-database").status).toBe(0);
    expect(existsSync(join(dir, "created.db"))).toBe(true);
    expect(run("can-connect-to-database").status).toBe(0);
    expect(run("drop-database").status).toBe(0);
    expect(existsSync(join(dir, "created.db"))).toBe(false);
  });
});
