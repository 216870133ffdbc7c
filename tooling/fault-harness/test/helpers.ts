/** Shared by the scenario files: databases, temp folders, waiting, cleanup. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuditWriter, WriterStats } from "@auditrail/audit-core";
import { type DatabaseHandle, createDatabase } from "@auditrail/db";
import { type TestDatabase, createTestDatabase, testProviders } from "@auditrail/db/testing";
import type { FaultProxy } from "../src/proxy.ts";

/** Providers to run on (SQLite always; PostgreSQL with TEST_DATABASE_URL; under CI=true it must be set). */
export const providers = testProviders();
export const hasPostgres = providers.includes("postgresql");

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true; fails with `describe()` after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await sleep(50);
  }
}

/** `{host, port}` of a PostgreSQL URL, for the proxy's target. */
export function targetOf(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname || "127.0.0.1", port: Number(u.port || 5432) };
}

/** Everything a scenario opens, closed in reverse order whatever happens. */
export class Scope {
  private readonly closers: Array<() => Promise<unknown>> = [];

  defer(close: () => Promise<unknown>): void {
    this.closers.push(close);
  }

  async database(provider: TestDatabase["provider"]): Promise<{ db: TestDatabase; handle: DatabaseHandle }> {
    const db = await createTestDatabase(provider);
    this.defer(() => db.drop());
    const handle = createDatabase(db.url);
    this.defer(() => handle.close());
    return { db, handle };
  }

  async tempDir(prefix = "auditrail-fault-"): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.defer(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  proxy(proxy: FaultProxy): FaultProxy {
    this.defer(() => proxy.close());
    return proxy;
  }

  writer<W extends AuditWriter>(writer: W): W {
    this.defer(() => writer.close({ deadlineMs: 2_000 }));
    return writer;
  }

  async close(): Promise<void> {
    for (const close of this.closers.splice(0).reverse()) {
      await close().catch((error: unknown) => console.warn("cleanup failed:", error));
    }
  }
}

/** Samples a writer's stats every 25 ms and keeps the largest in-memory backlog seen. */
export function watchBacklog(writer: AuditWriter): { max: () => number; maxSpoolBacklog: () => number; stop: () => void } {
  let max = 0;
  let maxSpool = 0;
  const sample = () => {
    const s: WriterStats = writer.stats();
    max = Math.max(max, s.queued + s.inFlight);
    maxSpool = Math.max(maxSpool, s.spoolBacklog);
  };
  const timer = setInterval(sample, 25);
  return { max: () => max, maxSpoolBacklog: () => maxSpool, stop: () => clearInterval(timer) };
}
