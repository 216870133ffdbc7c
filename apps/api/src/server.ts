/**
 * The HTTP server: tRPC under /trpc, plus GET /health and GET /metrics, with one structured log
 * line per request carrying the request id that also lands in audit entries.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { prometheusText } from "@auditrail/audit-core";
import { type DatabaseHandle, pendingMigrations } from "@auditrail/db";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import { type Services, createContext, requestIdOf } from "./context.ts";
import { HttpMetrics } from "./http-metrics.ts";
import { appRouter } from "./router.ts";

export interface App {
  readonly server: Server;
  /** Resolves with the base URL once listening. */
  listen(port: number, host: string): Promise<string>;
  /** Stops accepting, lets in-flight requests finish, then closes the writer and the database. */
  close(): Promise<void>;
}

export function createApp(services: Services, db: DatabaseHandle): App {
  const metrics = new HttpMetrics();
  const requestIds = new WeakMap<IncomingMessage, string>();
  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: "/trpc/",
    createContext: ({ req }) => createContext(services, req, requestIds.get(req) ?? requestIdOf(req)),
    onError: ({ error, path }) => {
      if (error.code === "INTERNAL_SERVER_ERROR") services.logger.error({ err: error, path }, "procedure failed");
    },
  });

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> = {
    "/health": async (_req, res) => {
      const health = await checkHealth(db);
      send(res, health.status === "ok" ? 200 : 503, "application/json", JSON.stringify(health));
    },
    "/metrics": async (_req, res) => {
      send(res, 200, "text/plain; version=0.0.4", prometheusText(services.writer.stats()) + metrics.text());
    },
  };

  const server = createServer((req, res) => {
    const started = performance.now();
    const requestId = requestIdOf(req);
    requestIds.set(req, requestId);
    res.setHeader("x-request-id", requestId);
    const path = (req.url ?? "/").split("?")[0] as string;
    res.on("finish", () => {
      const ms = performance.now() - started;
      const route = path.startsWith("/trpc/") ? "/trpc" : path;
      metrics.observe(route, res.statusCode, ms);
      services.logger.info(
        { reqId: requestId, method: req.method, url: req.url, status: res.statusCode, ms: Math.round(ms * 10) / 10 },
        "request",
      );
    });
    const route = req.method === "GET" ? routes[path] : undefined;
    if (route) {
      route(req, res).catch((err: unknown) => {
        services.logger.error({ err, reqId: requestId }, "route failed");
        if (!res.headersSent) send(res, 500, "application/json", JSON.stringify({ error: "internal error" }));
      });
    } else if (path.startsWith("/trpc/")) {
      trpc(req, res);
    } else {
      send(res, 404, "application/json", JSON.stringify({ error: `No route ${req.method} ${path}` }));
    }
  });

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
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await services.writer.close();
      await db.close();
    },
  };
}

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
