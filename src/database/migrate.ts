import type { DataSource } from 'typeorm';

/** Any fixed number, the same in every stephook process: the key of the migration lock. */
const MIGRATION_LOCK_KEY = 7_390_417_311;

/**
 * Runs pending migrations. On PostgreSQL, many processes may start at once against one database:
 * each takes a session advisory lock first, so one migrates and the others then find nothing to do.
 * (SQLite's own write lock serialises them there.)
 */
export async function migrated(dataSource: DataSource): Promise<DataSource> {
  if (dataSource.options.type !== 'postgres') {
    await dataSource.runMigrations();
    return dataSource;
  }
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await dataSource.runMigrations();
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    await lock.release();
  }
  return dataSource;
}
