/**
 * Child-process helpers: run an audit writer under load in its own process (dist/writer-child.js),
 * follow what it reports, and stop it with a signal at a chosen moment — SIGTERM (graceful: it
 * closes within its deadline) or SIGKILL (a crash).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { AuditReceipt, CloseReport } from "@auditrail/audit-core";
import type { WriterChildConfig } from "./writer-child.ts";

export type { WriterChildConfig } from "./writer-child.ts";

/** The built runner; resolves from src/ (tests) and dist/ alike. */
export const WRITER_CHILD = fileURLToPath(new URL("../dist/writer-child.js", import.meta.url));

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Milliseconds from kill() to the exit (0 if it exited by itself). */
  readonly ms: number;
}

type Line =
  | { t: "ready" }
  | { t: "rec"; id: string; s: AuditReceipt["state"] }
  | { t: "err"; m: string }
  | { t: "closed"; signal: string; ms: number; report: CloseReport };

export class WriterChild {
  /** Ids whose record() resolved in the child (whole lines only: a line cut by a kill does not count). */
  readonly recorded: string[] = [];
  readonly states: Record<string, number> = {};
  /** Errors the child's writer reported to onError (the first 20). */
  readonly errors: string[] = [];
  /** The close report printed after a SIGTERM. */
  report: CloseReport | undefined;
  /** Milliseconds the child took from the signal to the end of close(), by its own clock. */
  closeMs: number | undefined;
  stderr = "";
  readonly exited: Promise<ChildExit>;
  private readonly ready: Promise<void>;
  private readonly waiters: Array<{ count: number; resolve: () => void }> = [];
  private killedAt = 0;
  private partial = "";

  private constructor(readonly child: ChildProcess) {
    let onReady: () => void = () => undefined;
    this.ready = new Promise<void>((resolve) => (onReady = resolve));
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (this.partial + chunk).split("\n");
      this.partial = lines.pop() ?? "";
      for (const text of lines) {
        if (text === "") continue;
        const line = JSON.parse(text) as Line;
        if (line.t === "ready") onReady();
        else if (line.t === "rec") {
          this.recorded.push(line.id);
          this.states[line.s] = (this.states[line.s] ?? 0) + 1;
        } else if (line.t === "err") this.errors.push(line.m);
        else if (line.t === "closed") {
          this.report = line.report;
          this.closeMs = line.ms;
        }
      }
      this.wake();
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      // "close", not "exit": only then has every line the child printed been read.
      child.on("close", (code, signal) => {
        resolve({ code, signal, ms: this.killedAt ? Math.round(performance.now() - this.killedAt) : 0 });
        this.wake(true);
      });
    });
  }

  /** Spawns the runner and resolves once its writer is up. */
  static async start(config: WriterChildConfig, env: NodeJS.ProcessEnv = process.env): Promise<WriterChild> {
    if (!existsSync(WRITER_CHILD)) {
      throw new Error(`${WRITER_CHILD} is missing: build @auditrail/fault-harness first (tsc -p tsconfig.build.json)`);
    }
    const child = new WriterChild(
      spawn(process.execPath, [WRITER_CHILD, JSON.stringify(config)], { stdio: ["ignore", "pipe", "pipe"], env }),
    );
    await Promise.race([
      child.ready,
      child.exited.then((exit) => {
        throw new Error(`writer child exited before it was ready (${JSON.stringify(exit)}): ${child.stderr}`);
      }),
    ]);
    return child;
  }

  /** Resolves once `count` ids were reported; rejects if the child exits first. */
  reached(count: number): Promise<void> {
    if (this.recorded.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({
        count,
        resolve: () =>
          this.recorded.length >= count
            ? resolve()
            : reject(new Error(`writer child exited after ${this.recorded.length} of ${count} records: ${this.stderr}`)),
      });
    });
  }

  /** Sends `signal` and resolves with the exit. */
  kill(signal: NodeJS.Signals): Promise<ChildExit> {
    this.killedAt = performance.now();
    this.child.kill(signal);
    return this.exited;
  }

  private wake(exited = false): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i] as (typeof this.waiters)[number];
      if (exited || this.recorded.length >= w.count) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }
}
