/**
 * A script's own arguments. `pnpm <script> -- --flag` passes pnpm's "--" separator through to the
 * script, where it separates nothing: drop it, so the documented form and the plain one both work.
 */
export function scriptArgs(argv: readonly string[] = process.argv): string[] {
  return argv.slice(2).filter((arg, i) => !(i === 0 && arg === "--"));
}
