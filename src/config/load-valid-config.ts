import { sqliteFileProblem } from '../database/sqlite-file-check.js';
import { parseDatabaseConfig } from './database.config.js';
import { ConfigValidationError } from './env.js';
import { configBlocks } from './index.js';
import { loadEnvFile } from './load-env-file.js';

/**
 * Reads .env (the environment wins) and parses every config block, before Nest starts. A bad value,
 * or a SQLite file that cannot be used, ends the process with one line naming the variable and exit
 * code 1.
 */
export function loadValidConfig(): void {
  loadEnvFile();
  try {
    for (const block of configBlocks) block();
  } catch (error) {
    if (!(error instanceof ConfigValidationError)) throw error;
    stop(`invalid configuration: ${error.message}`);
  }
  const database = parseDatabaseConfig(process.env);
  if (database.dialect !== 'sqlite') return;
  const problem = sqliteFileProblem(database.path);
  if (problem) stop(`DATABASE_URL: cannot use the SQLite file ${database.path}: ${problem}`);
}

function stop(line: string): never {
  process.stderr.write(`stephook: ${line}\n`);
  process.exit(1);
}
