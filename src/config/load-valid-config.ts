import { ConfigValidationError } from './env.js';
import { configBlocks } from './index.js';
import { loadEnvFile } from './load-env-file.js';

/**
 * Reads .env (the environment wins) and parses every config block, before Nest starts. A bad value
 * ends the process with one line naming the variable and exit code 1.
 */
export function loadValidConfig(): void {
  loadEnvFile();
  try {
    for (const block of configBlocks) block();
  } catch (error) {
    if (!(error instanceof ConfigValidationError)) throw error;
    process.stderr.write(`stephook: invalid configuration: ${error.message}\n`);
    process.exit(1);
  }
}
