#!/usr/bin/env node
/**
 * Entry point of the schema-engine stand-in (see README.md).
 *
 * - `--version`: prints `schema-engine-cli <engine hash>`.
 * - `cli <command>`: one-shot database command; errors are reported on stderr
 *   as JSON log lines, the way the CLI expects them (it skips the first line).
 * - otherwise: JSON-RPC server on stdin/stdout until stdin closes or SIGTERM.
 */
import { ArgsError, type CliCommand, type EngineArgs, parseArgs } from "./args.ts";
import { canConnectToDatabase, createDatabase, dropDatabase } from "./databases.ts";
import { EngineHost } from "./engine.ts";
import { UserFacingError, errorMessage } from "./errors.ts";
import { writeLog } from "./log.ts";
import { RpcConnection } from "./rpc.ts";
import { wasmEngineVersion } from "./wasm.ts";

const LOGGER_TARGET = "schema_engine::logger";
/** How long cleanup (dropping temporary shadow databases) may delay exiting. */
const SHUTDOWN_GRACE_MS = 5000;

const USAGE = `Usage: schema-engine [--datamodels <path>]... [--datasource <json>] [cli <command>]

Stand-in for Prisma's native schema engine, backed by @prisma/schema-engine-wasm.
Without "cli", serves JSON-RPC requests on stdin/stdout.

Commands:
  cli can-connect-to-database   Check that the datasource URL is reachable
  cli create-database           Create the database of the datasource URL
  cli drop-database             Drop the database of the datasource URL
`;

async function runCliCommand(command: CliCommand, args: EngineArgs): Promise<number> {
  // The CLI ignores the first stderr line and parses the others as JSON.
  writeLog("INFO", "schema_engine", { message: `Starting schema engine CLI (${command})` });
  const url = args.datasource?.url ?? "";
  try {
    switch (command) {
      case "can-connect-to-database":
        await canConnectToDatabase(url);
        writeLog("INFO", LOGGER_TARGET, { message: "Connection successful" });
        break;
      case "create-database": {
        const name = await createDatabase(url);
        writeLog("INFO", LOGGER_TARGET, { message: `Database '${name}' was successfully created.` });
        break;
      }
      case "drop-database":
        await dropDatabase(url);
        writeLog("INFO", LOGGER_TARGET, { message: "The database was successfully dropped." });
        break;
    }
    return 0;
  } catch (error) {
    writeLog("ERROR", LOGGER_TARGET, {
      is_panic: false,
      error_code: error instanceof UserFacingError ? error.code : "",
      message: errorMessage(error),
    });
    return 1;
  }
}

function serve(args: EngineArgs): void {
  const host = new EngineHost({ datamodelPaths: args.datamodelPaths, datasource: args.datasource });
  let exiting = false;
  const shutdown = (code: number): void => {
    if (exiting) return;
    exiting = true;
    // The Wasm engine leaves timers behind that would keep Node alive: exit explicitly.
    setTimeout(() => process.exit(code), SHUTDOWN_GRACE_MS).unref();
    host.close().then(
      () => process.exit(code),
      () => process.exit(code),
    );
  };

  const connection = new RpcConnection(process.stdin, process.stdout, async (method, params, rpc) => {
    const result = await host.handle(method, params, rpc);
    // After a Rust panic the Wasm module is unusable, like a crashed native engine.
    if (host.panicked) setImmediate(() => shutdown(101));
    return result;
  });
  void connection.closed().then(() => shutdown(0));
  // The CLI stops the engine with SIGTERM right after closing stdin.
  process.on("SIGTERM", () => shutdown(0));
  process.on("SIGINT", () => shutdown(130));
}

async function main(): Promise<void> {
  let args: EngineArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof ArgsError)) throw error;
    process.stderr.write(`${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (args.version) {
    process.stdout.write(`schema-engine-cli ${await wasmEngineVersion()}\n`);
    process.exit(0);
  }
  if (args.cliCommand !== undefined) {
    process.exit(await runCliCommand(args.cliCommand, args));
  }
  serve(args);
}

main().catch((error: unknown) => {
  writeLog("ERROR", LOGGER_TARGET, { is_panic: false, message: errorMessage(error) });
  process.exit(1);
});
