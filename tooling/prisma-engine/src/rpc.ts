/**
 * JSON-RPC 2.0 over stdio, one JSON message per line, as spoken by the native
 * schema engine:
 *
 * - the CLI writes requests `{ id, jsonrpc, method, params }` to our stdin and
 *   reads responses `{ id, jsonrpc, result | error }` from our stdout;
 * - the engine may itself send requests to the CLI (only `print`, used by
 *   `migrate diff` to write its output), which the CLI answers on our stdin.
 *
 * Requests are handled one at a time, in order: the Wasm engine is not
 * re-entrant.
 */
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";

import type { RpcErrorObject } from "./errors.ts";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type RpcId = number | string;

export interface RpcRequest {
  jsonrpc: "2.0";
  id: RpcId;
  method: string;
  params?: unknown;
}

export type HandlerResult = { ok: true; value: unknown } | { ok: false; error: RpcErrorObject };

export type RequestHandler = (method: string, params: unknown, connection: RpcConnection) => Promise<HandlerResult>;

interface PendingOutgoing {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export class RpcConnection {
  private queue: Promise<void> = Promise.resolve();
  private nextOutgoingId = 1;
  private readonly pending = new Map<string, PendingOutgoing>();
  private readonly closedPromise: Promise<void>;

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
    private readonly handler: RequestHandler,
  ) {
    const lines = createInterface({ input: this.input, crlfDelay: Number.POSITIVE_INFINITY });
    lines.on("line", (line) => this.onLine(line));
    this.closedPromise = new Promise((resolve) => {
      lines.on("close", () => {
        for (const pending of this.pending.values()) pending.reject(new Error("stdin closed"));
        this.pending.clear();
        // Let requests already received finish before reporting the close.
        void this.queue.then(resolve);
      });
    });
  }

  /** Resolves once stdin is closed and every received request was answered. */
  closed(): Promise<void> {
    return this.closedPromise;
  }

  /** Sends a request to the CLI and waits for its answer (used for `print`). */
  request(method: string, params: JsonValue): Promise<unknown> {
    const id = `engine-${this.nextOutgoingId++}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ jsonrpc: "2.0", id, method, params });
    });
  }

  private send(message: unknown): void {
    this.output.write(`${JSON.stringify(message)}\n`);
  }

  private onLine(line: string): void {
    if (line.trim() === "") return;
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch (error) {
      this.send({ jsonrpc: "2.0", id: null, error: { code: -32700, message: `Parse error: ${String(error)}` } });
      return;
    }
    if (!isObject(message)) {
      this.send({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid request" } });
      return;
    }
    const { id, method } = message;
    if (typeof method !== "string") {
      // A response to one of our own requests.
      if (typeof id === "string" || typeof id === "number") {
        const pending = this.pending.get(String(id));
        if (pending) {
          this.pending.delete(String(id));
          pending.resolve(message.result);
        }
      }
      return;
    }
    if (typeof id !== "number" && typeof id !== "string") {
      // Notifications are not part of the schema engine protocol: ignore them.
      return;
    }
    const request: RpcRequest = { jsonrpc: "2.0", id, method, params: message.params };
    this.queue = this.queue.then(() => this.handle(request));
  }

  private async handle(request: RpcRequest): Promise<void> {
    let outcome: HandlerResult;
    try {
      outcome = await this.handler(request.method, request.params, this);
    } catch (error) {
      outcome = {
        ok: false,
        error: {
          code: -32603,
          message: "Internal error",
          data: { is_panic: false, message: error instanceof Error ? error.message : String(error) },
        },
      };
    }
    if (outcome.ok) {
      this.send({ jsonrpc: "2.0", id: request.id, result: outcome.value ?? null });
    } else {
      this.send({ jsonrpc: "2.0", id: request.id, error: outcome.error });
    }
  }
}
