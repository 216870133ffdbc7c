/**
 * The API's settings: every environment variable it reads, in one table — name, what it accepts,
 * its default, and a zod schema — parsed once at start (`loadConfig(process.env)`). A bad value is
 * a ConfigError naming each variable and what it accepts; main.ts prints it and exits 1.
 *
 * turbo passes a task only the variables it lists: `turbo.json`'s `start` task lists every name
 * below (config.test.ts keeps the two in step), and so does the table in apps/api/README.md.
 * To add a setting: add a row to VARIABLES and a field to `toConfig`; the tests then ask for
 * the turbo.json and README entries. The writers' settings (AUDIT_MODE … AUDIT_SPOOL_DIR), the
 * seal settings (AUDIT_SEAL_KEY_FILE … AUDIT_WITNESS_URL, opened by @auditrail/db's openSealer)
 * and the transport (AUDIT_TRANSPORT, NATS_URL) are rows of the same table.
 */
import { TRAIL_NAME } from "@auditrail/audit-core";
import { type SealSettings, defaultDatabaseUrl, providerOf } from "@auditrail/db";
import { NatsServersSchema } from "@auditrail/jetstream/stream";
import { z } from "zod";

/** Thrown by loadConfig for values the API cannot start with; `issues` has one line per variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly issues: readonly string[]) {
    super(`Invalid environment:\n${issues.map((i) => `  ${i}`).join("\n")}`);
  }
}

interface Variable<T> {
  /** What the variable accepts, as the error message and the README say it. */
  readonly accepts: string;
  /** The value when unset or empty, as the README says it. */
  readonly fallback: string;
  readonly schema: z.ZodType<T, string>;
  /** The value when unset or empty. */
  readonly unset: () => T;
}

/** A variable whose default is `fallback`, parsed by its own schema. */
const variable = <T>(accepts: string, fallback: string, schema: z.ZodType<T, string>): Variable<T> => ({
  accepts,
  fallback,
  schema,
  unset: () => schema.parse(fallback),
});
/** A variable that may stay unset (`fallback` says what happens then). */
const optional = <T>(accepts: string, fallback: string, schema: z.ZodType<T, string>): Variable<T | undefined> => ({
  accepts,
  fallback,
  schema,
  unset: () => undefined,
});

const integer = (min: number, max: number) => z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(min).max(max));
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values);
const flag = z.enum(["0", "1", "true", "false"]).transform((v) => v === "1" || v === "true");

/** A URL @auditrail/db can open (providerOf throws UnsupportedDatabaseUrlError otherwise). */
function isDatabaseUrl(url: string): boolean {
  try {
    providerOf(url);
    return true;
  } catch {
    return false;
  }
}

const PINO_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Every variable the API reads. The order is the README's. */
export const VARIABLES = {
  DATABASE_URL: {
    accepts: "file:<path> (SQLite) or postgresql://user@host:5432/db",
    fallback: "the embedded SQLite file packages/db/auditrail.db",
    schema: z.string().refine(isDatabaseUrl),
    unset: defaultDatabaseUrl,
  },
  PORT: variable("an integer from 0 to 65535 (0: any free port)", "3000", integer(0, 65_535)),
  HOST: variable("an interface address or host name", "127.0.0.1", z.string().min(1).max(255)),
  NODE_ENV: variable("development | production | test", "development", oneOf(["development", "production", "test"])),
  LOG_LEVEL: variable(PINO_LEVELS.join(" | "), "info", oneOf(PINO_LEVELS)),
  TRUST_PROXY: variable("1 | 0 (true | false)", "0", flag),
  SESSION_TTL_MINUTES: variable("an integer from 1 to 10080 (7 days)", "480", integer(1, 10_080)),
  AUDIT_MODE: variable("async | durable | sync | off", "async", oneOf(["async", "durable", "sync", "off"])),
  AUDIT_ALLOW_OFF: variable("1 | 0 (true | false)", "0", flag),
  AUDIT_MAX_WORKERS: variable("an integer from 1 to 64", "2", integer(1, 64)),
  AUDIT_MAX_QUEUE: variable("an integer from 1 to 10000000", "10000", integer(1, 10_000_000)),
  AUDIT_OVERFLOW: variable("block | spill | drop", "spill", oneOf(["block", "spill", "drop"])),
  AUDIT_MAX_BATCH: variable("an integer from 1 to 10000", "500", integer(1, 10_000)),
  AUDIT_MAX_BATCH_WAIT_MS: variable("an integer from 0 to 60000", "100", integer(0, 60_000)),
  AUDIT_CLOSE_DEADLINE_MS: variable("an integer from 0 to 600000", "10000", integer(0, 600_000)),
  AUDIT_SPOOL_DIR: variable("a directory path (created if missing)", ".auditrail/spool", z.string().min(1)),
  AUDIT_SEAL_KEY_FILE: optional(
    "a PEM Ed25519 private key file (`pnpm --filter @auditrail/api audit:keygen`)",
    "a development key pair made under .auditrail/keys (a warning is logged)",
    z.string().min(1),
  ),
  AUDIT_PUBLIC_KEY_FILE: optional("a PEM Ed25519 public key file", "the signing key's public half", z.string().min(1)),
  AUDIT_ANCHOR_DIR: variable(
    "a directory path (another volume than the database's in production)",
    ".auditrail/anchors",
    z.string().min(1),
  ),
  AUDIT_SEAL_EVERY_MS: variable("an integer from 10 to 86400000", "1000", integer(10, 86_400_000)),
  AUDIT_TRAIL: variable("1–128 of A-Z a-z 0-9 . _ -, starting with a letter or digit", "clinic", z.string().regex(TRAIL_NAME)),
  AUDIT_WITNESS_URL: optional("an http(s) URL of a witness that cosigns each seal", "no witness", z.url({ protocol: /^https?$/ })),
  AUDIT_TRANSPORT: variable("direct | jetstream", "direct", oneOf(["direct", "jetstream"])),
  NATS_URL: optional(
    "comma-separated NATS servers, host[:port] or nats://host[:port]",
    "none (required with AUDIT_TRANSPORT=jetstream)",
    z.string().transform((servers, ctx) => {
      const parsed = NatsServersSchema.safeParse(servers);
      if (parsed.success) return parsed.data;
      ctx.addIssue({ code: "custom", message: parsed.error.message });
      return z.NEVER;
    }),
  ),
} as const;

export type VariableName = keyof typeof VARIABLES;
export const VARIABLE_NAMES = Object.keys(VARIABLES) as VariableName[];

type Values = { [K in VariableName]: ReturnType<(typeof VARIABLES)[K]["unset"]> };

/** The default mode of procedures whose `meta.audit` pins none; `off` writes no entry for them. */
export type AuditDefaultMode = Values["AUDIT_MODE"];

export interface WriterConfig {
  /** For procedures that pin no mode. */
  readonly defaultMode: AuditDefaultMode;
  readonly allowOff: boolean;
  /** Worker threads of the async and the durable writer each. */
  readonly maxWorkers: number;
  readonly maxQueueSize: number;
  readonly overflow: Values["AUDIT_OVERFLOW"];
  readonly maxBatchSize: number;
  /** How long a partial batch waits for more entries before it is written. */
  readonly maxBatchWaitMs: number;
  readonly closeDeadlineMs: number;
  readonly spoolDir: string;
}

/**
 * Where the writers send entries: `direct` writes them to DATABASE_URL with the SQL sink;
 * `jetstream` publishes them to the JetStream cluster in NATS_URL, from which apps/ingest writes them.
 */
export type AuditTransport = { readonly transport: "direct" } | { readonly transport: "jetstream"; readonly servers: readonly string[] };

/**
 * What the start line and /metrics (`auditrail_writer_config` labels) show: the writers' settings,
 * the seal interval and the signing key file in effect (its path, never the key).
 */
export interface WriterConfigInEffect extends WriterConfig {
  readonly sealEveryMs: number;
  /** The development key's path when AUDIT_SEAL_KEY_FILE is unset. */
  readonly sealKeyFile: string;
}

export interface Config {
  readonly databaseUrl: string;
  readonly port: number;
  readonly host: string;
  readonly nodeEnv: Values["NODE_ENV"];
  readonly logLevel: Values["LOG_LEVEL"];
  readonly trustProxy: boolean;
  readonly sessionTtlMs: number;
  readonly audit: WriterConfig;
  /** The seal settings, as @auditrail/db's openSealer takes them. */
  readonly seal: SealSettings;
  readonly transport: AuditTransport;
}

/** Parses every variable (unset or empty → its default); throws ConfigError listing every bad one. */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const issues: string[] = [];
  const values: Partial<Record<VariableName, unknown>> = {};
  for (const name of VARIABLE_NAMES) {
    const spec: Variable<unknown> = VARIABLES[name];
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    const parsed = spec.schema.safeParse(raw);
    if (parsed.success) values[name] = parsed.data;
    else issues.push(`${name}=${JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw)}: expected ${spec.accepts}`);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const config = toConfig(withDefaults(values));
  if (config.transport.transport === "jetstream" && config.transport.servers.length === 0) {
    throw new ConfigError([`NATS_URL: required with AUDIT_TRANSPORT=jetstream (expected ${VARIABLES.NATS_URL.accepts})`]);
  }
  if (config.audit.defaultMode === "off" && config.nodeEnv === "production" && !config.audit.allowOff) {
    throw new ConfigError([
      "AUDIT_MODE=off: refused with NODE_ENV=production (no audit entries for most procedures); set AUDIT_ALLOW_OFF=1 to allow it",
    ]);
  }
  return config;
}

function withDefaults(values: Partial<Record<VariableName, unknown>>): Values {
  const out: Partial<Record<VariableName, unknown>> = {};
  for (const name of VARIABLE_NAMES) {
    out[name] = name in values ? values[name] : VARIABLES[name].unset();
  }
  return out as Values;
}

function toConfig(v: Values): Config {
  return {
    databaseUrl: v.DATABASE_URL,
    port: v.PORT,
    host: v.HOST,
    nodeEnv: v.NODE_ENV,
    logLevel: v.LOG_LEVEL,
    trustProxy: v.TRUST_PROXY,
    sessionTtlMs: v.SESSION_TTL_MINUTES * 60_000,
    audit: {
      defaultMode: v.AUDIT_MODE,
      allowOff: v.AUDIT_ALLOW_OFF,
      maxWorkers: v.AUDIT_MAX_WORKERS,
      maxQueueSize: v.AUDIT_MAX_QUEUE,
      overflow: v.AUDIT_OVERFLOW,
      maxBatchSize: v.AUDIT_MAX_BATCH,
      maxBatchWaitMs: v.AUDIT_MAX_BATCH_WAIT_MS,
      closeDeadlineMs: v.AUDIT_CLOSE_DEADLINE_MS,
      spoolDir: v.AUDIT_SPOOL_DIR,
    },
    seal: {
      trail: v.AUDIT_TRAIL,
      signingKeyFile: v.AUDIT_SEAL_KEY_FILE,
      publicKeyFile: v.AUDIT_PUBLIC_KEY_FILE,
      anchorDir: v.AUDIT_ANCHOR_DIR,
      sealEveryMs: v.AUDIT_SEAL_EVERY_MS,
      witnessUrl: v.AUDIT_WITNESS_URL,
    },
    transport: v.AUDIT_TRANSPORT === "jetstream" ? { transport: "jetstream", servers: v.NATS_URL ?? [] } : { transport: "direct" },
  };
}
