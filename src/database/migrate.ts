import { DataSource, DataSourceOptions } from 'typeorm';

/** Any fixed number, the same in every stephook process: the key of the migration lock. */
const MIGRATION_LOCK_KEY = 7_390_417_311;

/**
 * Opens the database with every migration run. On PostgreSQL, many processes may start at once
 * against one database: each takes a session advisory lock first, so one migrates and the others
 * then find nothing to do (SQLite's own write lock serialises them there). Migrations run on a
 * connection of their own without the statement deadline that requests get: a migration may rightly
 * take long on a large table.
 */
export async function openMigrated(options: DataSourceOptions): Promise<DataSource> {
  if (options.type !== 'postgres') {
    const dataSource = await new DataSource(options).initialize();
    await useIncrementalVacuum(dataSource);
    await dataSource.runMigrations();
    return dataSource;
  }
  const migrator = await new DataSource({
    ...options,
    extra: { ...(options.extra as object), query_timeout: undefined, max: 1 },
  }).initialize();
  try {
    await migrator.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await migrator.runMigrations();
    } finally {
      await migrator.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await migrator.destroy();
  }
  return new DataSource(options).initialize();
}

/**
 * SQLite keeps the pages of deleted rows inside the file unless it is in incremental auto-vacuum
 * mode, where retention gives them back (`PRAGMA incremental_vacuum`). The mode is set on a new file
 * before its first table; a file made by an earlier stephook is rewritten once (`VACUUM`: instant
 * when small, about a second per 100 MB when not).
 */
async function useIncrementalVacuum(dataSource: DataSource): Promise<void> {
  const INCREMENTAL = 2;
  const [{ auto_vacuum }] = await dataSource.query<{ auto_vacuum: number }[]>('PRAGMA auto_vacuum');
  if (auto_vacuum === INCREMENTAL) return;
  await dataSource.query('PRAGMA auto_vacuum = INCREMENTAL');
  await dataSource.query('VACUUM');
}
