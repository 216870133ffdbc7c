/**
 * The JSON-RPC methods of the native schema engine, implemented by forwarding
 * to `@prisma/schema-engine-wasm` (plus the few fixes the Wasm build needs).
 *
 * The Wasm engine is created lazily, on the first request: the provider (and
 * so the driver adapter) comes from the datasource URL, or — for diffs between
 * schema files without a database — from the schemas themselves.
 */
import { readFileSync } from "node:fs";

import type {
  ApplyMigrationsInput,
  CreateDatabaseParams,
  CreateMigrationInput,
  DbExecuteParams,
  DevDiagnosticInput,
  DiagnoseMigrationHistoryInput,
  DiffParams,
  EnsureConnectionValidityParams,
  EvaluateDataLossInput,
  GetDatabaseVersionInput,
  IntrospectParams,
  IntrospectSqlParams,
  MarkMigrationAppliedInput,
  MarkMigrationRolledBackInput,
  ResetInput,
  SchemaPushInput,
} from "@prisma/schema-engine-wasm";
import { bindMigrationAwareSqlAdapterFactory, type ErrorRegistry } from "@prisma/driver-adapter-utils";

import {
  type DatasourceConfig,
  type EngineAdapterFactory,
  type Provider,
  createAdapterFactory,
  providerFromSchemas,
  requireProvider,
} from "./adapters.ts";
import { createDatabase } from "./databases.ts";
import { type RpcErrorObject, UserFacingError, errorMessage, rpcGenericError, rpcPanic, rpcUserFacingError } from "./errors.ts";
import { forwardEngineLog } from "./log.ts";
import type { HandlerResult, RpcConnection } from "./rpc.ts";
import { type WasmSchemaEngine, isWasmPanic, loadWasm, panicMessage } from "./wasm.ts";

export interface EngineOptions {
  /** Paths given with `--datamodels` (the Prisma schema files). */
  datamodelPaths: readonly string[];
  /** `--datasource` (from prisma.config.ts). */
  datasource: DatasourceConfig | undefined;
}

interface Session {
  engine: WasmSchemaEngine;
  factory: EngineAdapterFactory;
  errors: ErrorRegistry;
}

/**
 * The CLI sends well-formed parameters; the Wasm engine validates them again
 * when deserializing, so they are passed through as the declared input type.
 */
function input<T>(params: unknown): T {
  return params as T;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Contents of every Prisma schema file found in request parameters (`{ files: [{ content }] }`). */
function schemaContentsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const item of value) schemaContentsIn(item, found);
  } else if (isRecord(value)) {
    const content = value.content;
    if (typeof content === "string" && typeof value.path === "string") found.push(content);
    for (const child of Object.values(value)) schemaContentsIn(child, found);
  }
  return found;
}

/** A `{ tag: "ConnectionString", url }` / `{ tag: "url", url }` datasource in request parameters. */
function urlIn(params: unknown): string | undefined {
  if (!isRecord(params)) return undefined;
  for (const key of ["datasource", "datasourceType"]) {
    const value = params[key];
    if (isRecord(value) && typeof value.url === "string" && value.url !== "") return value.url;
  }
  return undefined;
}

export class EngineHost {
  private session: Session | undefined;
  private readonly datamodels: [string, string][] | undefined;
  /** Set after a Wasm panic: the module cannot be used any more. */
  panicked = false;

  constructor(private readonly options: EngineOptions) {
    const paths = options.datamodelPaths;
    // Never pass `datamodels: []`: the engine panics on an empty list.
    this.datamodels = paths.length > 0 ? paths.map((path) => [path, readFileSync(path, "utf8")]) : undefined;
  }

  private resolveDatasource(params: unknown): { provider: Provider; datasource: DatasourceConfig } {
    const configured = this.options.datasource;
    const url = configured?.url || urlIn(params) || "";
    if (url !== "") {
      return { provider: requireProvider(url), datasource: { ...configured, url } };
    }
    const schemas = [...(this.datamodels ?? []).map(([, content]) => content), ...schemaContentsIn(params)];
    const provider = providerFromSchemas(schemas);
    if (provider === undefined) {
      throw new UserFacingError(
        "P1012",
        "No datasource URL is configured: set `datasource.url` in prisma.config.ts (e.g. `process.env.DATABASE_URL`).",
      );
    }
    return { provider, datasource: { ...configured, url: "" } };
  }

  private async open(params: unknown): Promise<Session> {
    if (this.session !== undefined) return this.session;
    const { provider, datasource } = this.resolveDatasource(params);
    const wasm = await loadWasm();
    const factory = await createAdapterFactory(provider, datasource);
    const bound = bindMigrationAwareSqlAdapterFactory(factory);
    try {
      const engine = await wasm.SchemaEngine.new({ datamodels: this.datamodels }, forwardEngineLog, bound);
      this.session = { engine, factory, errors: bound.errorRegistry };
    } catch (error) {
      await factory.close().catch(() => undefined);
      throw this.unwrap(error, bound.errorRegistry);
    }
    return this.session;
  }

  /** Handles one JSON-RPC request. */
  async handle(method: string, params: unknown, rpc: RpcConnection): Promise<HandlerResult> {
    if (this.panicked) {
      return { ok: false, error: rpcPanic("The schema engine panicked earlier and cannot serve requests any more.") };
    }
    try {
      return { ok: true, value: await this.dispatch(method, params, rpc) };
    } catch (error) {
      return { ok: false, error: this.toRpcError(error) };
    }
  }

  private async dispatch(method: string, params: unknown, rpc: RpcConnection): Promise<unknown> {
    switch (method) {
      case "createDatabase": {
        const { datasource } = input<CreateDatabaseParams>(params);
        const url = datasource.tag === "ConnectionString" ? datasource.url : this.resolveDatasource(params).datasource.url;
        return { databaseName: await createDatabase(url ?? "") };
      }
      case "getDatabaseDescription":
        throw new Error("getDatabaseDescription is not supported by the Wasm schema engine");
      default:
        break;
    }

    const { engine, factory } = await this.open(params);
    const sqlite = factory.providerName === "sqlite" ? await import("./sqlite.ts") : undefined;
    const sqliteFactory = sqlite !== undefined && factory instanceof sqlite.SqliteAdapterFactory ? factory : undefined;

    switch (method) {
      // The method is called `getDatabaseVersion` by the CLI, `version` by the engine.
      case "getDatabaseVersion":
      case "version":
        return engine.version(params === undefined ? undefined : input<GetDatabaseVersionInput>(params));
      case "applyMigrations":
        return engine.applyMigrations(input<ApplyMigrationsInput>(params));
      case "createMigration": {
        const request = input<CreateMigrationInput>(params);
        await this.warmMigrationSchemaCache(request);
        return engine.createMigration(request);
      }
      case "dbExecute":
        await engine.dbExecute(input<DbExecuteParams>(params));
        return {};
      case "debugPanic":
        engine.debugPanic();
        return {};
      case "devDiagnostic": {
        const request = input<DevDiagnosticInput>(params);
        if (sqliteFactory === undefined) return engine.devDiagnostic(request);
        return (await sqliteFactory.withMigrationsTable(() => engine.devDiagnostic(request))).value;
      }
      case "diagnoseMigrationHistory": {
        const request = input<DiagnoseMigrationHistoryInput>(params);
        if (sqliteFactory === undefined) return engine.diagnoseMigrationHistory(request);
        const { value, created } = await sqliteFactory.withMigrationsTable(() => engine.diagnoseMigrationHistory(request));
        return created ? { ...value, hasMigrationsTable: false } : value;
      }
      case "diff": {
        // The native engine prints the diff through a `print` request to the
        // CLI and only returns the exit code.
        const { stdout, exitCode } = await engine.diff(input<DiffParams>(params));
        if (stdout !== null && stdout !== "") await rpc.request("print", { content: stdout.replace(/\n$/, "") });
        return { exitCode };
      }
      case "ensureConnectionValidity":
        return engine.ensureConnectionValidity(input<EnsureConnectionValidityParams>(params));
      case "evaluateDataLoss": {
        const request = input<EvaluateDataLossInput>(params);
        await this.warmMigrationSchemaCache(request);
        return engine.evaluateDataLoss(request);
      }
      case "introspect":
        return engine.introspect(input<IntrospectParams>(params));
      case "introspectSql":
        return engine.introspectSql(input<IntrospectSqlParams>(params));
      case "markMigrationApplied":
        await sqliteFactory?.ensureMigrationsTable();
        return engine.markMigrationApplied(input<MarkMigrationAppliedInput>(params));
      case "markMigrationRolledBack":
        return engine.markMigrationRolledBack(input<MarkMigrationRolledBackInput>(params));
      case "reset":
        if (sqliteFactory !== undefined) {
          await sqliteFactory.reset();
        } else {
          await engine.reset(input<ResetInput>(params));
        }
        return {};
      case "schemaPush":
        return engine.schemaPush(input<SchemaPushInput>(params));
      default:
        throw new MethodNotFound(method);
    }
  }

  /**
   * `evaluateDataLoss` and `createMigration` get the schema of the migration
   * history from a cache filled by `diagnoseMigrationHistory`/`devDiagnostic`
   * (which replay the *applied* migrations on a shadow database obtained from
   * the adapter factory). On a cache miss they fall back to a code path that
   * has no adapter factory and fails ("shadow DB must be provided through an
   * external factory"): that happens in `migrate dev` right after pending
   * migrations were applied. Diagnosing the history once more, now that the
   * migrations are applied, fills the cache for the full list.
   */
  private async warmMigrationSchemaCache(request: EvaluateDataLossInput | CreateMigrationInput): Promise<void> {
    const { engine, factory } = await this.open(request);
    const diagnose = () =>
      engine.diagnoseMigrationHistory({
        migrationsList: request.migrationsList,
        optInToShadowDatabase: true,
        filters: request.filters,
      });
    try {
      const sqlite = factory.providerName === "sqlite" ? await import("./sqlite.ts") : undefined;
      if (sqlite !== undefined && factory instanceof sqlite.SqliteAdapterFactory) {
        await factory.withMigrationsTable(diagnose);
      } else {
        await diagnose();
      }
    } catch (error) {
      // The actual command reports the problem (e.g. a migration that fails to apply).
      if (isWasmPanic(error)) throw error;
    }
  }

  /**
   * Errors thrown by JS code inside the driver adapter (e.g. while creating a
   * shadow database) reach the engine as "GenericJs" errors and come back as
   * P2036 with an id in the adapter's error registry: return the original.
   */
  private unwrap(error: unknown, registry: ErrorRegistry | undefined): unknown {
    if (registry === undefined || !isRecord(error) || error.code !== "P2036") return error;
    const meta = error.meta;
    const metaId = isRecord(meta) ? meta.id : undefined;
    const id = typeof metaId === "number" ? metaId : Number(/id[:\s]+(\d+)/i.exec(errorMessage(error))?.[1]);
    if (!Number.isInteger(id)) return error;
    return registry.consumeError(id)?.error ?? error;
  }

  private toRpcError(raw: unknown): RpcErrorObject {
    if (raw instanceof MethodNotFound) {
      return { code: -32601, message: raw.message, data: { is_panic: false, message: raw.message } };
    }
    const error = this.unwrap(raw, this.session?.errors);
    if (isWasmPanic(error)) {
      this.panicked = true;
      return rpcPanic(panicMessage(error));
    }
    if (error instanceof UserFacingError) return rpcUserFacingError(error.code, error.message, error.meta);
    if (isRecord(error) && typeof error.code === "string" && /^P\d{4}$/.test(error.code)) {
      const meta = error.meta;
      return rpcUserFacingError(error.code, errorMessage(error), isRecord(meta) ? meta : {});
    }
    return rpcGenericError(errorMessage(error));
  }

  /** Drops temporary shadow databases and closes connections. */
  async close(): Promise<void> {
    await this.session?.factory.close();
  }
}

class MethodNotFound extends Error {
  constructor(method: string) {
    super(`Method not found: ${method}`);
  }
}
