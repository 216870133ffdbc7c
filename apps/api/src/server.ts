/**
 * The HTTP server: tRPC under /trpc, plus GET /health, GET /metrics and GET /audit/export, the
 * viewer's files (apps/web/dist) on every other GET path, with one
 * structured log line per request carrying the request id that also lands in audit entries.
 * close() is the graceful shutdown: stop accepting, let in-flight calls finish (up to a deadline),
 * then close the audit writers (drain, or spill to disk) and the database.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { AuditWriter, CloseReport } from "@auditrail/audit-core";
import { type DatabaseHandle, pendingMigrations } from "@auditrail/db";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import { type RequestInfo, type Services, createContext, requestIdOf, requestInfoOf } from "./context.ts";
import { exportAudit } from "./export.ts";
import { ApiMetrics } from "./metrics.ts";
import { appRouter } from "./router.ts";
import { staticFiles } from "./static-files.ts";

export interface App {
  readonly server: Server;
  /** Resolves with the base URL once listening. */
  listen(port: number, host: string): Promise<string>;
  /**
   * Stops accepting, lets in-flight requests finish (connections still open after `deadlineMs`
   * are cut), then closes the audit writers and the database. Idempotent.
   */
  close(options?: { deadlineMs?: number }): Promise<ShutdownReport>;
}

export interface ShutdownReport {
  /** False when in-flight requests were cut at the deadline. */
  readonly requestsFinished: boolean;
  readonly writers: Record<string, CloseReport>;
}

type Route = (req: IncomingMessage, res: ServerResponse, request: RequestInfo) => Promise<void>;

export interface AppOptions {
  /** The built viewer to serve at / (apps/web/dist); without it, unknown paths are 404. */
  readonly webRoot?: string;
}

export function createApp(services: Services, db: DatabaseHandle, options: AppOptions = {}): App {
  const metrics = new ApiMetrics({ writers: services.writers, sealer: services.seals?.sealer, writerConfig: services.writerConfig });
  const stopping = new AbortController();
  const serverInfo = { provider: db.provider, database: db, stopping: stopping.signal };
  const web = options.webRoot === undefined ? undefined : staticFiles(options.webRoot);
  const requestIds = new WeakMap<IncomingMessage, string>();
  const procedures = new Set(Object.keys(appRouter._def.procedures));
  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: "/trpc/",
    // Queries may come by POST too (the typed client sends them so), so large inputs fit.
    allowMethodOverride: true,
    maxBodySize: MAX_BODY_BYTES,
    createContext: ({ req }) => createContext(services, serverInfo, metrics, req, requestIds.get(req) ?? requestIdOf(req)),
    onError: ({ error, path, req }) => {
      // The client got "internal error" and this request id; the details are here.
      if (error.code === "INTERNAL_SERVER_ERROR")
        services.logger.error({ err: error, path, reqId: requestIds.get(req) }, "procedure failed");
    },
  });

  const routes: Record<string, Route> = {
    "/health": async (_req, res) => {
      const health = await checkHealth(db);
      send(res, health.status === "ok" ? 200 : 503, "application/json", JSON.stringify(health));
    },
    "/metrics": async (_req, res) => {
      send(res, 200, metrics.contentType, await metrics.text());
    },
    "/audit/export": (req, res, request) => exportAudit(req, res, services, db.provider, request),
  };

  let closing: Promise<ShutdownReport> | undefined;
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
    const started = performance.now();
    const requestId = requestIdOf(req);
    requestIds.set(req, requestId);
    res.setHeader("x-request-id", requestId);
    // Shutting down: answer, then close the connection instead of keeping it alive.
    if (closing) res.setHeader("connection", "close");
    const path = (req.url ?? "/").split("?")[0] as string;
    const procedure = path.startsWith("/trpc/") ? path.slice("/trpc/".length) : undefined;
    res.on("finish", () => {
      // Shutting down: this connection's call is done; close it unless another call is on it.
      if (closing) setImmediate(() => server.closeIdleConnections());
      const ms = performance.now() - started;
      const route = procedure === undefined ? path : procedures.has(procedure) ? `/trpc/${procedure}` : "/trpc";
      metrics.observe(route in routes || route.startsWith("/trpc") ? route : "other", res.statusCode, ms);
      services.logger.info(
        { reqId: requestId, method: req.method, url: req.url, status: res.statusCode, ms: Math.round(ms * 10) / 10 },
        "request",
      );
    });
    const route = req.method === "GET" ? routes[path] : undefined;
    if (route) {
      route(req, res, requestInfoOf(req, requestId, services.trustProxy)).catch((err: unknown) => {
        services.logger.error({ err, reqId: requestId }, "route failed");
        const body = { error: { code: "INTERNAL_SERVER_ERROR", message: `internal error (request id ${requestId})` } };
        if (!res.headersSent) send(res, 500, "application/json", JSON.stringify(body));
        else res.destroy();
      });
    } else if (procedure !== undefined) {
      trpc(req, res);
    } else if (web && (req.method === "GET" || req.method === "HEAD")) {
      web(req, res).catch((err: unknown) => {
        services.logger.error({ err, reqId: requestId }, "static file failed");
        if (!res.headersSent)
          send(res, 500, "application/json", JSON.stringify({ error: { code: "INTERNAL_SERVER_ERROR", message: "internal error" } }));
        else res.destroy();
      });
    } else {
      send(res, 404, "application/json", JSON.stringify({ error: { code: "NOT_FOUND", message: `No route ${req.method} ${path}` } }));
    }
  });

  // Requests Node's parser refuses before any handler runs (a URL or headers over
  // MAX_HEADER_BYTES, malformed HTTP): a JSON error instead of an empty body, and an audit entry.
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
    const [status, code, message] = tooLarge
      ? [
          431,
          "REQUEST_HEADER_FIELDS_TOO_LARGE",
          `URL and headers exceed ${MAX_HEADER_BYTES} bytes: send large tRPC query input by POST (the typed client does).`,
        ]
      : [400, "BAD_REQUEST", "Malformed HTTP request."];
    const body = JSON.stringify({ error: { code, message } });
    socket.end(
      `HTTP/1.1 ${status} ${tooLarge ? "Request Header Fields Too Large" : "Bad Request"}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    metrics.observe("other", status, 0);
    const ip = (socket as Partial<Socket>).remoteAddress;
    services.writers.async
      .record({
        action: "http.reject",
        entity: "Request",
        outcome: code,
        metadata: { status, reason: err.code ?? "unknown" },
        ...(ip ? { ip } : {}),
      })
      .catch((error: unknown) => services.logger.warn({ err: error }, "audit"));
  });

  const shutdown = async (deadlineMs: number): Promise<ShutdownReport> => {
    stopping.abort(); // live tails end their streams, so their connections can close
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // Connections that finish a response while we wait are closed by the connection: close header.
    let cut = false;
    const timer = setTimeout(() => {
      cut = true;
      server.closeAllConnections();
    }, deadlineMs);
    await stopped;
    clearTimeout(timer);
    const writers: Record<string, CloseReport> = {};
    await Promise.all(
      Object.entries(services.writers).map(async ([mode, writer]: [string, AuditWriter | undefined]) => {
        if (writer) writers[mode] = await writer.close();
      }),
    );
    await db.close();
    return { requestsFinished: !cut, writers };
  };

  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          const { port: actual } = server.address() as AddressInfo;
          resolve(`http://${host.includes(":") ? `[${host}]` : host}:${actual}`);
        });
      }),
    close: ({ deadlineMs = 10_000 } = {}) => (closing ??= shutdown(deadlineMs)),
  };
}

/** The largest tRPC request body; a larger one gets PAYLOAD_TOO_LARGE (JSON, audited). */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;
/** The largest request line + headers (Node's default is 16 KiB); larger: a JSON 431, audited. */
export const MAX_HEADER_BYTES = 64 * 1024;

export interface Health {
  readonly status: "ok" | "degraded";
  readonly database: "up" | "down";
  readonly provider: string;
  readonly pendingMigrations: readonly string[];
}

async function checkHealth(db: DatabaseHandle): Promise<Health> {
  try {
    await db.prisma.$queryRawUnsafe("SELECT 1");
  } catch {
    return { status: "degraded", database: "down", provider: db.provider, pendingMigrations: [] };
  }
  const pending = await pendingMigrations(db);
  return { status: pending.length === 0 ? "ok" : "degraded", database: "up", provider: db.provider, pendingMigrations: pending };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type });
  res.end(body);
}
