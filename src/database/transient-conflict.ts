/**
 * Conflicts that say nothing about the work itself, only about what ran beside it: PostgreSQL's
 * deadlock_detected (40P01) and serialization_failure (40001), which roll the transaction back and
 * ask for it to be run again. SQLite's SQLITE_BUSY is not among them: SQLite's own busy handler has
 * already waited busy_timeout for the other process's lock, so running again would only multiply
 * that wait; it is answered as an outage (503 with Retry-After, `database-unavailable.ts`).
 */
const CONFLICT_CODES = new Set(['40P01', '40001']);

export function isTransientConflict(error: unknown, depth = 0): boolean {
  // Duck-typed like isDatabaseUnavailable: driver errors can come from another realm.
  if (typeof error !== 'object' || error === null || depth > 3) return false;
  const { code, driverError } = error as { code?: unknown; driverError?: unknown };
  if (driverError !== undefined && driverError !== error) {
    return isTransientConflict(driverError, depth + 1);
  }
  return typeof code === 'string' && CONFLICT_CODES.has(code);
}
