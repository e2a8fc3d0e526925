import { sqliteFileProblem } from '../database/sqlite-file-check.js';
import { ConfigValidationError } from './env.js';
import { loadEnvFile } from './load-env-file.js';
import { parseStephookConfig, StephookConfig } from './stephook-config.js';

/**
 * The one read of the configuration, before Nest starts (the API, a worker, the migration CLI):
 * .env (the environment wins), then every block. A bad value, or a SQLite file that cannot be
 * used, ends the process with one line naming the variable and exit code 1.
 */
export function loadValidConfig(): StephookConfig {
  loadEnvFile();
  let config: StephookConfig;
  try {
    config = parseStephookConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigValidationError)) throw error;
    stop(`invalid configuration: ${error.message}`);
  }
  const { database } = config;
  if (database.dialect === 'sqlite') {
    const problem = sqliteFileProblem(database.path);
    if (problem) stop(`DATABASE_URL: cannot use the SQLite file ${database.path}: ${problem}`);
  }
  return config;
}

function stop(line: string): never {
  process.stderr.write(`stephook: ${line}\n`);
  process.exit(1);
}
