/**
 * Command line of the native `schema-engine` binary, as used by the prisma CLI:
 *
 *   schema-engine [--datamodels <path>]… [--datasource <json>]
 *                 [--enabled-preview-features <a,b>] [--extension-types <json>]
 *                 [cli (can-connect-to-database | create-database | drop-database)]
 *   schema-engine --version
 */
import type { DatasourceConfig } from "./adapters.ts";

export const CLI_COMMANDS = ["can-connect-to-database", "create-database", "drop-database"] as const;
export type CliCommand = (typeof CLI_COMMANDS)[number];

export interface EngineArgs {
  datamodelPaths: string[];
  datasource: DatasourceConfig | undefined;
  previewFeatures: string[];
  /** Set for the one-shot `cli …` mode; otherwise the JSON-RPC server runs. */
  cliCommand: CliCommand | undefined;
  version: boolean;
  help: boolean;
}

export class ArgsError extends Error {
  override readonly name = "ArgsError";
}

function parseDatasource(json: string): DatasourceConfig {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new ArgsError(`--datasource must be JSON, got: ${json}`);
  }
  if (typeof value !== "object" || value === null) throw new ArgsError("--datasource must be a JSON object");
  const url: unknown = Reflect.get(value, "url");
  const shadowDatabaseUrl: unknown = Reflect.get(value, "shadowDatabaseUrl");
  return {
    url: typeof url === "string" ? url : undefined,
    shadowDatabaseUrl: typeof shadowDatabaseUrl === "string" && shadowDatabaseUrl !== "" ? shadowDatabaseUrl : undefined,
  };
}

function isCliCommand(value: string | undefined): value is CliCommand {
  return CLI_COMMANDS.some((command) => command === value);
}

export function parseArgs(argv: readonly string[]): EngineArgs {
  const args: EngineArgs = {
    datamodelPaths: [],
    datasource: undefined,
    previewFeatures: [],
    cliCommand: undefined,
    version: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new ArgsError(`${arg} needs a value`);
      return next;
    };
    switch (arg) {
      case "--datamodels":
        args.datamodelPaths.push(value());
        break;
      case "--datasource":
        args.datasource = parseDatasource(value());
        break;
      case "--enabled-preview-features":
        args.previewFeatures = value()
          .split(",")
          .filter((feature) => feature !== "");
        break;
      case "--extension-types":
        value(); // Extensions are not supported by the Wasm engine: ignored.
        break;
      case "-V":
      case "--version":
        args.version = true;
        break;
      case "-h":
      case "--help":
        args.help = true;
        break;
      case "cli": {
        const command = argv[++i];
        if (!isCliCommand(command)) {
          throw new ArgsError(`Unknown cli command: ${command ?? "(none)"}. Expected one of: ${CLI_COMMANDS.join(", ")}`);
        }
        args.cliCommand = command;
        break;
      }
      default:
        throw new ArgsError(`Unknown argument: ${arg}`);
    }
  }
  return args;
}
