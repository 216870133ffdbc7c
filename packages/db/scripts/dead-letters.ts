// Dead letters on DATABASE_URL (default: the embedded SQLite file), from the command line:
//   dead-letters list   [--spool <dir>] [--all]   pending letters (with --all, replayed ones too), one JSON line each
//   dead-letters replay [--spool <dir>] [--id <id>]…  re-insert pending letters (the fallback file's first)
// --spool names the writer's spool folder, whose dead-letters.ndjson holds letters that reached no table.
import { parseArgs } from "node:util";
import { listDeadLetters, replayDeadLetters } from "../src/dead-letters.ts";
import { databaseUrlFromEnv, redactUrl } from "../src/url.ts";

const USAGE = "usage: dead-letters list [--spool <dir>] [--all] | dead-letters replay [--spool <dir>] [--id <id>]…";

function parse() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: { spool: { type: "string" }, all: { type: "boolean" }, id: { type: "string", multiple: true } },
    });
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    process.exit(2);
  }
}

const { positionals, values } = parse();
const url = databaseUrlFromEnv();
const spoolDir = values.spool;
switch (positionals[0]) {
  case "list": {
    const letters = await listDeadLetters(url, { pending: !values.all, ...(spoolDir ? { spoolDir } : {}) });
    for (const letter of letters) console.log(JSON.stringify(letter));
    console.error(`${letters.length} dead letter(s) in ${redactUrl(url)}${spoolDir ? ` and ${spoolDir}` : ""}`);
    break;
  }
  case "replay": {
    const report = await replayDeadLetters(url, { ...(values.id ? { ids: values.id } : {}), ...(spoolDir ? { spoolDir } : {}) });
    console.log(JSON.stringify(report));
    process.exitCode = report.failed.length > 0 ? 1 : 0;
    break;
  }
  default:
    console.error(USAGE);
    process.exit(2);
}
