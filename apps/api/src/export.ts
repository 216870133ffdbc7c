/**
 * GET /audit/export?format=ndjson|csv&<audit.list filters> — the audit trail as a download,
 * streamed: rows are read in keyset chunks of 500 and written as they come, with backpressure, so
 * memory stays flat whatever the trail's size.
 *
 * Why a plain HTTP route and not a tRPC procedure: a tRPC response is a JSON envelope (or, with a
 * streaming link, tRPC's own JSON-lines protocol) that only a tRPC client can read, while an export
 * is for `curl > trail.csv`, spreadsheets and SIEM importers that expect text/csv or
 * application/x-ndjson bodies. The route keeps the API's rules: bearer token (401), "read audit"
 * permission (403), the same zod filter schema as `audit.list` (400 with a readable message and
 * each issue's path and message), and it is
 * audited itself (`audit.export`, with its outcome, filters and row count).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type AuditEvent, LIMITS } from "@auditrail/audit-core";
import { AUDIT_COLUMNS, AUDIT_COLUMN_KINDS, type Provider, deadLetterLines } from "@auditrail/db";
import { z } from "zod";
import { AuditFilter, type ExportedEntry, allEntries } from "./audit-query.ts";
import { type RequestInfo, type Services, type SessionUser, userOf } from "./context.ts";
import { describeIssues, nulIssues } from "./errors.ts";
import { can } from "./permissions.ts";

const Format = z.enum(["ndjson", "csv"]);

/** The columns of a CSV export: every stored column (the db's one column map), chain fields included. */
export const CSV_COLUMNS: readonly (keyof ExportedEntry)[] = AUDIT_COLUMNS;

const JSON_COLUMNS = new Set<string>(AUDIT_COLUMNS.filter((c) => AUDIT_COLUMN_KINDS[c] === "json"));

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. Null is empty.
 * Formula injection (OWASP): a text cell a spreadsheet would run as a formula — starting with
 * `=`, `+`, `-`, `@`, tab or carriage return — gets a leading `'` and is quoted, so it shows as text.
 */
function csvField(value: unknown, json: boolean): string {
  if (value === null || value === undefined) return "";
  const text = json ? JSON.stringify(value) : String(value);
  const guarded = !json && /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return guarded !== text || /[",\r\n]/.test(guarded) ? `"${guarded.replaceAll('"', '""')}"` : guarded;
}

export function csvLine(entry: ExportedEntry): string {
  return `${CSV_COLUMNS.map((c) => csvField(entry[c], JSON_COLUMNS.has(c))).join(",")}\r\n`;
}

export async function exportAudit(
  req: IncomingMessage,
  res: ServerResponse,
  services: Services,
  provider: Provider,
  request: RequestInfo,
): Promise<void> {
  const started = performance.now();
  const url = new URL(req.url ?? "/", "http://localhost");
  const user = await userOf(services.prisma, req.headers.authorization);
  const params = Object.fromEntries([...url.searchParams].filter(([key]) => key !== "format"));
  const audit = (outcome: string, metadata: Record<string, unknown>, who: SessionUser | undefined = user) => {
    const event: AuditEvent = {
      action: "audit.export",
      entity: "AuditEntry",
      outcome,
      path: "GET /audit/export",
      durationMs: performance.now() - started,
      metadata: JSON.parse(JSON.stringify(metadata)),
      ...(who ? { actor: { id: who.id, role: who.role } } : {}),
      requestId: request.requestId,
      ...(request.ip ? { ip: request.ip } : {}),
      ...(request.userAgent ? { userAgent: request.userAgent.slice(0, LIMITS.userAgent) } : {}),
    };
    services.writers.async.record(event).catch((err: unknown) => services.logger.warn({ err, reqId: request.requestId }, "audit"));
  };
  const fail = (status: number, code: string, message: string, issues?: readonly z.core.$ZodIssue[]) => {
    audit(code, { params });
    res.writeHead(status, { "content-type": "application/json" });
    const listed = issues?.map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
    res.end(JSON.stringify({ error: { code, message, ...(listed ? { issues: listed } : {}) } }));
  };

  if (!user) return fail(401, "UNAUTHORIZED", "Sign in first: missing or expired session token.");
  if (!can(user.role, "read audit")) return fail(403, "FORBIDDEN", `Role "${user.role}" may not read audit.`);
  const format = Format.safeParse(url.searchParams.get("format") ?? "ndjson");
  const filter = AuditFilter.safeParse(params);
  const nul = nulIssues(params);
  if (!format.success || !filter.success || nul.length > 0) {
    const issues = [
      ...(format.success ? [] : format.error.issues.map((i) => ({ ...i, path: ["format"] }))),
      ...(filter.success ? [] : filter.error.issues),
      ...nul,
    ];
    return fail(400, "BAD_REQUEST", `Invalid export parameters: ${describeIssues(issues)}`, issues);
  }

  const csv = format.data === "csv";
  res.writeHead(200, {
    "content-type": csv ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
    "content-disposition": `attachment; filename="audit-trail.${csv ? "csv" : "ndjson"}"`,
    "cache-control": "no-store",
  });
  if (csv) res.write(`${CSV_COLUMNS.join(",")}\r\n`);
  let count = 0;
  try {
    for await (const entry of allEntries(services.prisma, provider, filter.data)) {
      if (res.destroyed) break;
      count++;
      if (!res.write(csv ? csvLine(entry) : `${JSON.stringify(entry)}\n`)) await drained(res);
    }
    // NDJSON ends with the dead letters, at their stream positions, so the export verifies offline.
    if (!csv) {
      for await (const line of deadLetterLines(services.prisma)) {
        if (res.destroyed) break;
        if (!res.write(line)) await drained(res);
      }
    }
  } catch (err) {
    services.logger.error({ err, reqId: request.requestId }, "audit export failed");
    audit("INTERNAL_SERVER_ERROR", { format: format.data, filter: filter.data, count });
    res.destroy();
    return;
  }
  audit(res.destroyed ? "CLIENT_CLOSED_REQUEST" : "ok", { format: format.data, filter: filter.data, count });
  res.end();
}

/** Resolves when the response can take more, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
