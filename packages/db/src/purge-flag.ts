/**
 * SQLite has no roles, so its append-only triggers let a DELETE through only where the SQL function
 * `auditrail_purging()` exists and returns 1. The connections this process opens through
 * createDatabase register it reading this flag, which only the retention purge raises, for its own
 * transaction (the SQLite adapter runs nothing else on the connection meanwhile).
 */
let purging = 0;

export function sqlitePurging(): boolean {
  return purging > 0;
}

export async function whileSqlitePurging<T>(fn: () => Promise<T>): Promise<T> {
  purging++;
  try {
    return await fn();
  } finally {
    purging--;
  }
}
