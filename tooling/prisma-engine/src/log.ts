/**
 * Structured logging on stderr, in the JSON-lines format of the native
 * schema engine. The prisma CLI reads these lines: in server mode it keeps the
 * last `ERROR` line to explain a crash, in one-shot `cli …` mode it parses
 * every line but the first and looks for an `ERROR` from `schema_engine::logger`.
 */

export type LogLevel = "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR";

export type LogFields = Record<string, string | number | boolean | null>;

export interface LogLine {
  timestamp: string;
  level: LogLevel;
  fields: LogFields;
  target: string;
}

export function writeLog(level: LogLevel, target: string, fields: LogFields): void {
  const line: LogLine = { timestamp: new Date().toISOString(), level, fields, target };
  process.stderr.write(`${JSON.stringify(line)}\n`);
}

/**
 * Forwards a log line produced by the Wasm engine (already JSON, without a
 * timestamp) to stderr. Lines that are not JSON objects are wrapped.
 */
export function forwardEngineLog(raw: string): void {
  const text = raw.trim();
  if (text === "") return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
    process.stderr.write(`${JSON.stringify({ timestamp: new Date().toISOString(), ...parsed })}\n`);
  } else {
    writeLog("INFO", "schema_engine_wasm", { message: text });
  }
}
